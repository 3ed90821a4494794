"""A batch for the invoke step with values that must reach the sink in the same bundle as its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class CarriedBatch:
    """``table`` to score (None when nothing in the poll batch decoded) and ``riders``: tagged values the invoke
    step emits with the batch's own outputs, on the same output. The exactly-once Kafka sink needs a poll batch's
    malformed-message dead letters and its manifest in the bundle that scored it, and a Flatten of separate
    outputs would end the fused stage."""

    table: pa.Table | None
    riders: tuple[tuple[str, Any], ...]
