"""Job configuration: YAML -> ${ENV} interpolation -> --set overrides -> {date} -> typed, validated.

Everything is checked here, before a pipeline is built; an error names the key
and what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from transforms.core.rows import RESERVED
from transforms.core.settings import EndpointSettings, InvokeSettings, Strict
from transforms.sources.kafka_decode import MESSAGE_COLUMNS, ValueFormat, ValueType

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A config problem, already phrased for the user: one line per key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class LocalEndpointSettings(Strict):
    """Start the bundled local endpoint for this run (the embedded default of ``make run``)."""

    enabled: bool = False
    config: str | None = None


class JobSettings(Strict):
    name: str = Field("smscore", min_length=1)
    max_dead_letter_fraction: float = Field(0.05, ge=0, le=1)
    # Beam pipeline options for this job (runner, Flink master...); command-line flags come after and win.
    beam_args: list[str] = []


BATCH_ROWS = 16384


class ParquetSource(Strict):
    type: Literal["parquet"] = "parquet"
    path: str = Field(min_length=1)
    # Smaller batches overlap reading and invoking, and keep RSS flat. Unset: about BATCH_ROWS, a whole number
    # of requests, so no batch ends in a short request.
    batch_rows: int | None = Field(None, ge=1)


KafkaSetting = str | int | float | bool


class KafkaSource(Strict):
    """Score what a topic holds now (bounded) or everything that arrives (streaming)."""

    type: Literal["kafka"]
    mode: Literal["bounded", "streaming"] = "bounded"
    bootstrap_servers: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    group_id: str = Field(min_length=1)
    start: Literal["committed", "earliest", "latest", "timestamp"] = "committed"
    start_timestamp: dt.datetime | None = None
    value_format: ValueFormat = "json"
    value_columns: dict[str, ValueType] = {}
    csv_delimiter: str = Field(",", min_length=1, max_length=1)
    max_records: int = Field(500, ge=1)
    max_wait_ms: int = Field(1000, ge=1)
    consumer: dict[str, KafkaSetting] = {}
    # confluent: our reader (any runner, Prism for streaming); java: Beam's KafkaIO (Flink, Dataflow).
    reader: Literal["confluent", "java"] = "confluent"
    java_environment: Literal["DOCKER", "EMBEDDED"] = "DOCKER"  # EMBEDDED: inside the Flink job server
    expansion_service_jar: str = ".jars/kafka-expansion-service.jar"

    @model_validator(mode="after")
    def _coherent(self) -> KafkaSource:
        if self.value_format != "raw" and not self.value_columns:
            raise ValueError(f"value_format '{self.value_format}' needs value_columns: name -> type of each field")
        clash = sorted(set(self.value_columns) & set(MESSAGE_COLUMNS))
        if clash:
            raise ValueError(f"value_columns {clash} clash with the message columns {MESSAGE_COLUMNS}")
        if self.start == "timestamp" and self.start_timestamp is None:
            raise ValueError("start 'timestamp' needs start_timestamp (ISO-8601)")
        return self

    @property
    def start_timestamp_ms(self) -> int | None:
        return int(self.start_timestamp.timestamp() * 1000) if self.start_timestamp else None


class OutputSettings(Strict):
    """Files (Parquet or JSON lines, published atomically) or Kafka topics (``predictions``/``dead_letters``)."""

    format: Literal["parquet", "jsonl", "kafka"] = "parquet"
    predictions: str = Field(min_length=1)
    dead_letters: str = Field(min_length=1)
    bootstrap_servers: str | None = None
    producer: dict[str, KafkaSetting] = {}
    report: str | None = None
    # exactly_once: each stretch of input offsets, its outputs and its offset commit in one Kafka transaction
    delivery: Literal["at_least_once", "exactly_once"] = "at_least_once"


class JobConfig(Strict):
    job: JobSettings = JobSettings()
    local_endpoint: LocalEndpointSettings = LocalEndpointSettings()
    source: ParquetSource | KafkaSource = Field(discriminator="type")
    endpoint: EndpointSettings
    invoke: InvokeSettings
    output: OutputSettings

    @model_validator(mode="before")
    @classmethod
    def _default_source_type(cls, data: Any) -> Any:
        source = data.get("source") if isinstance(data, dict) else None
        if isinstance(source, dict) and "type" not in source:
            data["source"] = {**source, "type": "parquet"}
        return data

    @model_validator(mode="after")
    def _columns(self) -> JobConfig:
        clash = sorted(set(self.invoke.passthrough_columns) & RESERVED)
        if clash:
            raise ValueError(f"invoke.passthrough_columns {clash} clash with output columns of the same name")
        if self.output.predictions.rstrip("/") == self.output.dead_letters.rstrip("/"):
            raise ValueError("output.predictions and output.dead_letters must be different folders or topics")
        if self.streaming and self.output.format != "kafka":
            raise ValueError("a streaming Kafka source writes to Kafka: set output.format to kafka")
        if self.output.format == "kafka" and not self.output_bootstrap_servers:
            raise ValueError("output.format kafka needs output.bootstrap_servers")
        if self.output.delivery == "exactly_once":
            self._exactly_once_holds()
        return self

    def _exactly_once_holds(self) -> None:
        """Refuse exactly_once where a Kafka transaction cannot hold the outputs and the input offsets together."""
        source = self.source
        if not isinstance(source, KafkaSource) or self.output.format != "kafka":
            raise ValueError(
                "output.delivery exactly_once needs a Kafka source and Kafka outputs: a transaction commits Kafka "
                "messages and Kafka offsets together, and nothing else (file outputs are published atomically anyway)"
            )
        if source.reader == "java":
            raise ValueError(
                "output.delivery exactly_once needs source.reader confluent: with the java reader KafkaIO commits "
                "offsets itself when a checkpoint finalizes, outside our transactions"
            )
        if self.output_bootstrap_servers != source.bootstrap_servers:
            raise ValueError(
                "output.delivery exactly_once needs the outputs on the source's cluster (output.bootstrap_servers): "
                "a transaction spans one cluster"
            )

    @property
    def output_bootstrap_servers(self) -> str | None:
        """Kafka outputs go to ``output.bootstrap_servers``, by default the Kafka source's cluster."""
        source_servers = self.source.bootstrap_servers if isinstance(self.source, KafkaSource) else None
        return self.output.bootstrap_servers or source_servers

    @property
    def batch_rows(self) -> int:
        """Rows per table read from Parquet: ``source.batch_rows``, else about BATCH_ROWS in whole requests."""
        if isinstance(self.source, ParquetSource) and self.source.batch_rows:
            return self.source.batch_rows
        per_request = self.invoke.records_per_request
        return max(1, BATCH_ROWS // per_request) * per_request

    @property
    def streaming(self) -> bool:
        """The one definition: a Kafka source in streaming mode (an unbounded job with no end to report at)."""
        return isinstance(self.source, KafkaSource) and self.source.mode == "streaming"


def _interpolate(value: Any, key: str, problems: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{key}.{k}" if key else str(k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{key}.{i}", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(f"{key}: environment variable {name} is not set (write ${{{name}:-default}} for a default)")
        return ""

    return _ENV.sub(substitute, value)


def _apply_override(raw: dict[str, Any], assignment: str) -> None:
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise ConfigError([f"--set {assignment}: expected section.key=value"])
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError([f"--set {key}: {part} is not a section"])
        node = child
    node[parts[-1]] = yaml.safe_load(text) if text else ""


def _substitute_date(value: Any, date: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute_date(v, date) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_date(v, date) for v in value]
    return value.replace("{date}", date) if isinstance(value, str) else value


def format_validation_error(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against the README's configuration reference)"
        problems.append(f"{key}: {message}")
    return problems


def parse_date(text: str | None) -> str:
    if text is None:
        return dt.datetime.now(dt.UTC).date().isoformat()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError([f"--date {text}: expected YYYY-MM-DD"]) from None


def load_job_config(path: str | Path, date: str | None = None, overrides: list[str] | None = None) -> JobConfig:
    """Read, interpolate, override and validate a job config; raise ConfigError naming each bad key."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of sections"])
    problems: list[str] = []
    raw = _interpolate(raw, "", problems)
    if problems:
        raise ConfigError(problems)
    for assignment in overrides or []:
        _apply_override(raw, assignment)
    raw = _substitute_date(raw, parse_date(date))
    try:
        return JobConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None
