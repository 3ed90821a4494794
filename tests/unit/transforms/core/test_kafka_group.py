"""Group-coordinator calls are repeated while the coordinator is loading, and only then."""

import pytest

from transforms.core.kafka_group import until_coordinated


def test_coordinator_calls_are_repeated_while_the_coordinator_is_not_ready():
    from confluent_kafka import KafkaError, KafkaException

    slept: list[float] = []
    answers = [KafkaException(KafkaError(KafkaError.NOT_COORDINATOR)), "committed"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert until_coordinated(call, timeout=5, sleep=slept.append) == "committed"
    assert slept == [0.5]

    def denied():
        raise KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))

    with pytest.raises(KafkaException):  # not a coordinator problem: raised at once
        until_coordinated(denied, timeout=5, sleep=slept.append)
