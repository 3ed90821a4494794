"""Models served by the local endpoint: the built-in demo model and upstream containers.

A model sees what a SageMaker model container sees (body, content type, accept,
custom attributes, explanations flag) and answers a body, or raises
:class:`ModelFailure` with the status a container would have returned.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
SUPPORTED = (CSV, JSON, JSONLINES)
_ARROW_CSV_FROM = 64 * 1024  # bytes; below this the per-call cost of the CSV engine dominates


@dataclass(frozen=True)
class Invocation:
    body: bytes
    content_type: str
    accept: str | None
    custom_attributes: str | None
    enable_explanations: str | None
    inference_id: str | None
    session_id: str | None
    instance: str


@dataclass(frozen=True)
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


class DemoModel:
    """Deterministic logistic score over any number of numeric features.

    score = sigmoid(scale * sum_j w_j x_j + bias) with w_j = (-1)^j / (j + 1).
    """

    def __init__(self, bias: float = 0.0, scale: float = 1.0) -> None:
        self.bias = bias
        self.scale = scale

    def score(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = features.shape[1] if features.ndim == 2 else 0
        weights = np.array([(-1) ** j / (j + 1) for j in range(d)], dtype=np.float64)
        contributions = features * weights if d else np.zeros((features.shape[0], 0))
        z = self.scale * contributions.sum(axis=1) + self.bias
        return 1.0 / (1.0 + np.exp(-z)), contributions

    async def invoke(self, inv: Invocation) -> ModelOutput:
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
        scores, contributions = self.score(features)
        body = render_scores(
            scores, accept, contributions if _explanations_requested(inv.enable_explanations) else None
        )
        return ModelOutput(body=body, content_type=accept, custom_attributes=_echo_attributes(inv))

    async def close(self) -> None:
        return None


def _is_session_control(body: bytes, content_type: str) -> bool:
    return content_type == JSON and body.lstrip().startswith(b'{"requestType"')


def _session_control_answer(inv: Invocation) -> ModelOutput:
    request_type = json.loads(inv.body).get("requestType")
    if request_type == "CLOSE":
        if not inv.session_id or inv.session_id == "NEW_SESSION":
            raise ModelFailure(400, "CLOSE needs an open session id")
        return ModelOutput(b'{"status": "closed"}', JSON, _echo_attributes(inv), closed_session_id=inv.session_id)
    if request_type == "NEW_SESSION":
        return ModelOutput(b'{"status": "opened"}', JSON, _echo_attributes(inv))
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
    except (ValueError, KeyError, TypeError, pa.ArrowInvalid) as exc:
        raise ModelFailure(400, f"Could not parse {content_type} payload: {type(exc).__name__}") from None


def _csv_matrix(body: bytes) -> np.ndarray:
    """Numeric CSV rows -> matrix: a plain split for small bodies, Arrow's CSV reader for large ones."""
    if len(body) > _ARROW_CSV_FROM:
        table = pacsv.read_csv(io.BytesIO(body), read_options=pacsv.ReadOptions(autogenerate_column_names=True))
        return np.column_stack([col.to_numpy().astype(np.float64) for col in table.columns])
    rows = [r for r in body.splitlines() if r.strip()]
    if not rows:
        raise ModelFailure(400, "Empty CSV payload")
    width = rows[0].count(b",") + 1
    if any(r.count(b",") + 1 != width for r in rows):
        raise ValueError("rows have different numbers of columns")
    return np.array(b",".join(rows).split(b","), dtype=np.float64).reshape(len(rows), width)


def _as_matrix(rows: object) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise ValueError("expected a non-empty list of rows")
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("rows must all have the same number of numeric features")
    return matrix


def render_scores(scores: np.ndarray, accept: str, contributions: np.ndarray | None = None) -> bytes:
    if accept == CSV:
        return ("\n".join(map(repr, scores.tolist())) + "\n").encode()
    if accept == JSON:
        doc: dict[str, object] = {"predictions": scores.tolist()}
        if contributions is not None:
            doc["explanations"] = {"contributions": contributions.tolist()}
        return json.dumps(doc).encode()
    return "".join(json.dumps({"score": float(s)}) + "\n" for s in scores).encode()


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


class UpstreamContainer:
    """Forward to a real model container (``POST /invocations``), as SageMaker does."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds + 5)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def ping(self) -> bool:
        try:
            async with self._client().get(f"{self.url}/ping") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def invoke(self, inv: Invocation) -> ModelOutput:
        headers = {"Content-Type": inv.content_type, "Accept": inv.accept or "*/*"}
        optional = {
            "X-Amzn-SageMaker-Custom-Attributes": inv.custom_attributes,
            "X-Amzn-SageMaker-Inference-Id": inv.inference_id,
            "X-Amzn-SageMaker-Session-Id": inv.session_id,
            "X-Amzn-SageMaker-Enable-Explanations": inv.enable_explanations,
        }
        headers.update({k: v for k, v in optional.items() if v is not None})
        try:
            async with self._client().post(f"{self.url}/invocations", data=inv.body, headers=headers) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise ModelFailure(resp.status, body.decode("utf-8", "replace")[:1024])
                return ModelOutput(
                    body=body,
                    content_type=resp.headers.get("Content-Type", inv.accept or "application/octet-stream"),
                    custom_attributes=resp.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
                    closed_session_id=resp.headers.get("X-Amzn-SageMaker-Closed-Session-Id"),
                )
        except aiohttp.ClientError as exc:
            raise ModelFailure(502, f"Upstream container unreachable: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
