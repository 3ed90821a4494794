"""Models served by the local endpoint: the built-in demo model and upstream containers.

A model sees what a SageMaker model container sees (body, content type, accept,
custom attributes, explanations flag) and answers a body, or raises
:class:`ModelFailure` with the status a container would have returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
SUPPORTED = (CSV, JSON, JSONLINES)
SCORE_DECIMALS = 9
_ARROW_PARSE_FROM = 16 * 1024  # bytes; below this Arrow's per-call cost exceeds Python's float per field
_ZERO = ord("0")
_NOT_A_SEPARATOR = bytes(sorted(set(range(256)) - set(b",\n")))
_TICKS_PER_UNIT = 10**SCORE_DECIMALS
_SCORE_FORMAT = b"%%.%df" % SCORE_DECIMALS
_VECTOR_RENDER_FROM = 256  # rows; below this one %-format beats NumPy's per-call cost


@dataclass(frozen=True, kw_only=True)
class Invocation:
    body: bytes
    content_type: str
    accept: str | None
    custom_attributes: str | None
    enable_explanations: str | None
    inference_id: str | None
    session_id: str | None
    instance: str


@dataclass(frozen=True, kw_only=True)
class ModelOutput:
    body: bytes
    content_type: str
    custom_attributes: str | None = None
    closed_session_id: str | None = None


class ModelFailure(Exception):
    """The container answered an error status; becomes ModelError 424 with OriginalStatusCode."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Model(Protocol):
    async def invoke(self, inv: Invocation) -> ModelOutput: ...

    async def close(self) -> None: ...


def media_type(value: str | None) -> str | None:
    """``text/csv; charset=utf-8`` -> ``text/csv``."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def _explanations_requested(flag: str | None) -> bool:
    return flag is not None and flag.strip().strip("`").lower() == "true"


@lru_cache(maxsize=64)
def _weights(width: int) -> np.ndarray:
    return np.array([(-1) ** j / (j + 1) for j in range(width)], dtype=np.float64)


class DemoModel:
    """Deterministic logistic score over any number of numeric features.

    score = sigmoid(scale * sum_j w_j x_j + bias) with w_j = (-1)^j / (j + 1).
    """

    def __init__(self, bias: float = 0.0, scale: float = 1.0, echo_custom_attributes: bool = True) -> None:
        self.bias = bias
        self.scale = scale
        self.echo_custom_attributes = echo_custom_attributes

    def score(self, features: np.ndarray) -> np.ndarray:
        z = self.scale * (features @ _weights(features.shape[1])) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    @staticmethod
    def contributions(features: np.ndarray) -> np.ndarray:
        return features * _weights(features.shape[1])

    async def invoke(self, inv: Invocation) -> ModelOutput:
        output = self.predict(inv)
        return output if self.echo_custom_attributes else replace(output, custom_attributes=None)

    def predict(self, inv: Invocation) -> ModelOutput:
        """The container's work for one request; synchronous, it never waits."""
        content_type = media_type(inv.content_type)
        if content_type not in SUPPORTED:
            raise ModelFailure(415, f"Unsupported content type: {inv.content_type}")
        accept = media_type(inv.accept)
        if accept in (None, "*/*"):
            accept = content_type
        if accept not in SUPPORTED:
            raise ModelFailure(406, f"Unsupported accept type: {inv.accept}")
        if _is_session_control(inv.body, content_type):
            return _session_control_answer(inv)
        features = parse_features(inv.body, content_type)
        if not np.isfinite(features).all():
            raise ModelFailure(400, "Features must be finite numbers")
        explain = _explanations_requested(inv.enable_explanations)
        body = render_scores(self.score(features), accept, self.contributions(features) if explain else None)
        return ModelOutput(body=body, content_type=accept, custom_attributes=_echo_attributes(inv))

    async def close(self) -> None:
        return None


def _is_session_control(body: bytes, content_type: str) -> bool:
    return content_type == JSON and body.lstrip().startswith(b'{"requestType"')


def _session_control_answer(inv: Invocation) -> ModelOutput:
    try:
        request_type = json.loads(inv.body).get("requestType")
    except ValueError:
        raise ModelFailure(400, "Could not parse the session request") from None
    if request_type == "CLOSE":
        if not inv.session_id or inv.session_id == "NEW_SESSION":
            raise ModelFailure(400, "CLOSE needs an open session id")
        return ModelOutput(
            body=b'{"status": "closed"}',
            content_type=JSON,
            custom_attributes=_echo_attributes(inv),
            closed_session_id=inv.session_id,
        )
    if request_type == "NEW_SESSION":
        return ModelOutput(body=b'{"status": "opened"}', content_type=JSON, custom_attributes=_echo_attributes(inv))
    raise ModelFailure(400, f"Unknown requestType {request_type!r}")


def _echo_attributes(inv: Invocation) -> str | None:
    """Echo CustomAttributes as a container may; ``trace-instance`` asks which instance served."""
    attrs = inv.custom_attributes
    if attrs is None:
        return None
    if "trace-instance" in attrs.split(";"):
        return f"{attrs};instance={inv.instance}"
    return attrs


def parse_features(body: bytes, content_type: str) -> np.ndarray:
    try:
        if content_type == CSV:
            return _csv_matrix(body)
        if content_type == JSON:
            instances = json.loads(body)["instances"]
            return _as_matrix(instances)
        rows = [json.loads(line) for line in body.splitlines() if line.strip()]
        return _as_matrix([r["features"] if isinstance(r, dict) else r for r in rows])
    except ModelFailure:
        raise
    except (ValueError, KeyError, TypeError, RecursionError, pa.ArrowInvalid) as exc:  # Recursion: nested too deep
        raise ModelFailure(400, f"Could not parse {content_type} payload: {type(exc).__name__}") from None


def _csv_matrix(body: bytes) -> np.ndarray:
    """Numeric CSV rows -> matrix, without a Python object per row.

    The row shape is checked on the raw bytes (the separators alone must read ``,,,\n``
    repeated: the same number of fields on every line); numbers are parsed by Python's
    float for small bodies and by Arrow's cast (C++) for large ones, where one Python
    float per field would dominate the request.
    """
    text = body.replace(b"\r", b"").replace(b" ", b"").strip(b"\n")
    while b"\n\n" in text:  # blank lines carry no row
        text = text.replace(b"\n\n", b"\n")
    if not text:
        raise ModelFailure(400, "Empty CSV payload")
    separators = text.translate(None, _NOT_A_SEPARATOR) + b"\n"
    rows = separators.count(b"\n")
    width = len(separators) // rows
    if separators != (b"," * (width - 1) + b"\n") * rows:
        raise ValueError("rows have different numbers of columns")
    flat = text.replace(b"\n", b",")
    if len(flat) < _ARROW_PARSE_FROM:
        return np.array(flat.split(b","), dtype=np.float64).reshape(rows, width)
    fields = pc.split_pattern(pa.array([flat], pa.binary()), pattern=b",").values
    numbers = fields.cast(pa.float64())  # its buffer as is: to_numpy() would first try to import pandas
    return np.frombuffer(numbers.buffers()[1], np.float64, len(numbers), numbers.offset * 8).reshape(rows, width)


def _as_matrix(rows: object) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise ValueError("expected a non-empty list of rows")
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("rows must all have the same number of numeric features")
    return matrix


def render_scores(scores: np.ndarray, accept: str, contributions: np.ndarray | None = None) -> bytes:
    """Scores as the container answers them, each with SCORE_DECIMALS decimals (see _each_score)."""
    if accept == CSV:
        return _each_score(scores, b"", b"\n")
    if accept == JSON:
        predictions = _each_score(scores, b"", b",")[:-1]
        explained = (
            b""
            if contributions is None
            else b', "explanations": ' + json.dumps({"contributions": contributions.tolist()}).encode()
        )
        return b'{"predictions": [' + predictions + b"]" + explained + b"}"
    return _each_score(scores, b'{"score": ', b"}\n")


def _each_score(scores: np.ndarray, before: bytes, after: bytes) -> bytes:
    """``before + "0.123456789" + after`` for every score in [0, 1], concatenated.

    Scores are first rounded to whole ticks of 10^-SCORE_DECIMALS, so both ways of writing
    them give the same digits: one %-format for a few rows, digit columns in NumPy for many.
    """
    ticks = np.rint(np.clip(scores, 0.0, 1.0) * _TICKS_PER_UNIT).astype(np.int64)
    if len(ticks) < _VECTOR_RENDER_FROM:
        return ((before + _SCORE_FORMAT + after) * len(ticks)) % tuple((ticks / _TICKS_PER_UNIT).tolist())
    start = len(before)
    cells = np.empty((len(ticks), start + SCORE_DECIMALS + 2 + len(after)), dtype=np.uint8)
    cells[:, :start] = np.frombuffer(before, dtype=np.uint8)
    cells[:, start + 1] = ord(".")
    for column in range(start + 1 + SCORE_DECIMALS, start + 1, -1):  # last digit first; scalar // is libdivide
        quotient = ticks // 10
        cells[:, column] = ticks - quotient * 10 + _ZERO
        ticks = quotient
    cells[:, start] = ticks + _ZERO
    cells[:, start + 2 + SCORE_DECIMALS :] = np.frombuffer(after, dtype=np.uint8)
    return cells.tobytes()


def drop_last_prediction(body: bytes, content_type: str) -> bytes:
    """Fault helper: the same answer with one prediction missing."""
    if media_type(content_type) == JSON:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("predictions"), list) and doc["predictions"]:
            doc["predictions"].pop()
            return json.dumps(doc).encode()
        return body
    lines = body.rstrip(b"\n").split(b"\n")
    return b"\n".join(lines[:-1]) + (b"\n" if len(lines) > 1 else b"")
