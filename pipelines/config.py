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

from transforms.outputs import RESERVED
from transforms.settings import EndpointSettings, InvokeSettings, Strict

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


class ParquetSource(Strict):
    type: Literal["parquet"] = "parquet"
    path: str = Field(min_length=1)
    batch_rows: int = Field(65536, ge=1)


class OutputSettings(Strict):
    format: Literal["parquet", "jsonl"] = "parquet"
    predictions: str = Field(min_length=1)
    dead_letters: str = Field(min_length=1)


class JobConfig(Strict):
    job: JobSettings = JobSettings()
    local_endpoint: LocalEndpointSettings = LocalEndpointSettings()
    source: ParquetSource
    endpoint: EndpointSettings
    invoke: InvokeSettings
    output: OutputSettings

    @model_validator(mode="after")
    def _columns(self) -> JobConfig:
        clash = sorted(set(self.invoke.passthrough_columns) & RESERVED)
        if clash:
            raise ValueError(f"invoke.passthrough_columns {clash} clash with output columns of the same name")
        if self.output.predictions.rstrip("/") == self.output.dead_letters.rstrip("/"):
            raise ValueError("output.predictions and output.dead_letters must be different folders")
        return self


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
