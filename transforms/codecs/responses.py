"""Response bodies: exactly as many predictions as records sent, or a :class:`BadResponse`.

A short or long answer is an error, never truncated or padded: zipping by position would
silently attach a prediction to the wrong record.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.core.errors import BadResponse
from transforms.core.settings import InvokeSettings


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def parse_predictions(body: bytes, content_type: str | None, expected: int, settings: InvokeSettings) -> pa.Array:
    """Parse a response into exactly ``expected`` predictions, or raise :class:`BadResponse`."""
    kind = media_type(content_type) or media_type(settings.accept)
    if kind == "text/csv" and settings.prediction_type == "float64" and settings.prediction_field is None:
        numbers = _csv_numbers(body)
        if numbers is not None:
            _check_count(len(numbers), expected)
            return numbers
    try:
        if kind == "text/csv":
            values: list[Any] = body.decode("utf-8").splitlines()
        elif kind == "application/json":
            doc = json.loads(body)
            values = doc["predictions"] if isinstance(doc, dict) and "predictions" in doc else doc
            if not isinstance(values, list):
                raise ValueError("no list of predictions")
        elif kind in ("application/jsonlines", "application/x-ndjson"):
            values = [json.loads(line) for line in body.splitlines() if line.strip()]
        else:
            values = [body.decode("utf-8")] if expected == 1 else body.decode("utf-8").splitlines()
    except (ValueError, KeyError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadResponse(
            "UnparsableResponse", f"cannot parse {kind or 'unknown'} response: {type(exc).__name__}"
        ) from None
    _check_count(len(values), expected)
    if settings.prediction_field is not None:
        try:
            values = [v[settings.prediction_field] for v in values]
        except (KeyError, TypeError, IndexError):
            raise BadResponse(
                "MissingPredictionField", f"predictions lack field {settings.prediction_field!r}"
            ) from None
    return _typed(values, settings.prediction_type)


def _check_count(count: int, expected: int) -> None:
    if count != expected:
        raise BadResponse("CountMismatch", f"response has {count} predictions for {expected} records")


def _csv_numbers(body: bytes) -> pa.Array | None:
    """One number per line, split and parsed in Arrow (no Python object per prediction).

    None sends the body down the general path: other line endings, blank lines, spaces,
    anything Arrow does not read as a number (the general path says what is wrong).
    """
    text = body[:-1] if body.endswith(b"\n") else body
    if not text or b"\r" in text:
        return None
    try:
        lines = pc.split_pattern(pa.array([text], pa.string()), pattern="\n").values
        return lines.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _typed(values: list[Any], prediction_type: str) -> pa.Array:
    if prediction_type == "float64":
        try:
            return pa.array(np.asarray(values, dtype=np.float64))
        except (ValueError, TypeError):
            raise BadResponse(
                "NonNumericPrediction", "a prediction is not a number (set prediction_type: string)"
            ) from None
    return pa.array([v if isinstance(v, str) else json.dumps(v) for v in values], pa.string())
