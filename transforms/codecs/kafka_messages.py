"""Output rows -> Kafka messages: the input key, a JSON value rendered in Arrow, id and variant headers."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pyarrow as pa

from transforms.codecs.arrow_lines import values_as_bytes
from transforms.codecs.json_rows import json_objects

Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class OutputMessages:
    """Messages to produce, column by column: no Python object per message beyond its value and headers."""

    keys: Sequence[bytes | None]
    values: Sequence[bytes]
    headers: Sequence[Headers]

    def __len__(self) -> int:
        return len(self.values)


# Columns that are the message itself, not facts about the prediction: kept out of the output value.
_NOT_IN_VALUE = frozenset({"kafka_key", "kafka_value", "kafka_headers"})


def encode_rows(table: pa.Table) -> OutputMessages:
    """One output message per row: the input key, a JSON value, and id/variant headers."""
    rows, names = table.num_rows, table.column_names
    keys: Sequence[bytes | None] = _column_bytes(table, "kafka_key") if "kafka_key" in names else [None] * rows
    objects = json_objects(table.select([c for c in names if c not in _NOT_IN_VALUE]))
    values = cast(list[bytes], values_as_bytes(objects))  # json_objects has no nulls
    ids = _column_bytes(table, "inference_id")
    variants = _column_bytes(table, "invoked_variant") if "invoked_variant" in names else [None] * rows
    # Built by zip and map: no Python-level call per row on this per-message path.
    # confluent-kafka takes headers as a list (not a tuple) of (name, value) pairs.
    id_headers = zip(itertools.repeat("inference_id"), ids)
    if "invoked_variant" in names and not table.column("invoked_variant").null_count:
        variant_headers = zip(itertools.repeat("invoked_variant"), variants)
        headers: Iterable[Any] = map(list, zip(id_headers, variant_headers, strict=True))
    else:  # dead letters, and any row without a variant
        headers = ([h, ("invoked_variant", v)] if v else [h] for h, v in zip(id_headers, variants, strict=True))
    return OutputMessages(keys, values, list(headers))


def _column_bytes(table: pa.Table, name: str) -> list[bytes | None]:
    return values_as_bytes(table.column(name).combine_chunks())
