"""A real single-node Apache Kafka broker (KRaft) run from Maven-fetched jars, for development and tests."""
