"""The reusable parts of the scoring flow, one package per stage (ARCHITECTURE.md draws the arrows):

``sources`` (Parquet, Kafka) -> ``batching`` (the request plan) -> ``invoke`` (client, retry,
limiter, breaker, the transform) -> ``sinks`` (files, Kafka, offset commits); ``codecs`` turn
Arrow batches into bytes and back, and ``core`` holds the vocabulary every stage shares.
"""
