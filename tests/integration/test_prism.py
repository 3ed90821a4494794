"""Prism as our options run it: a stateful step never sees one key in two bundles at once.

Prism splits a bundle that makes no progress for a tick and frees the keys of the elements it hands back,
even those the primary half still holds; a second bundle of such a key then runs beside the first, reads the
state as it was, and one of the two state writes is lost. The streaming offset ledger
(:mod:`transforms.sinks.commit`) is a stateful step whose elements are slow (each may commit). This test
drives that case on the Prism runner with the options every job gets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.coders import coders
from apache_beam.testing.util import assert_that
from apache_beam.transforms import userstate

from pipelines.options import PRISM, pipeline_options
from tests.conftest import require

pytestmark = pytest.mark.integration

KEYS = 3
PER_KEY = 12
_COUNT = userstate.ReadModifyWriteStateSpec("count", coders.VarIntCoder())
_COUNT_PARAM = beam.DoFn.StateParam(_COUNT)


class _CountFn(beam.DoFn):
    """Counts each key's elements in state, slowly enough that Prism wants to split its bundles."""

    def process(self, element: tuple[str, int], count: Any = _COUNT_PARAM) -> Iterator[tuple[str, int]]:
        time.sleep(0.15)
        seen = (count.read() or 0) + 1
        count.write(seen)
        yield element[0], seen


def _every_count_once(outputs: list[tuple[str, int]]) -> None:
    by_key: dict[str, list[int]] = {}
    for key, seen in outputs:
        by_key.setdefault(key, []).append(seen)
    # Two bundles of one key at once read one count twice: a count repeats and the last falls short.
    assert {key: sorted(counts) for key, counts in by_key.items()} == {
        f"k{k}": list(range(1, PER_KEY + 1)) for k in range(KEYS)
    }


def test_a_slow_stateful_step_loses_no_state_update_on_prism():
    require(PRISM.exists(), "the Prism runner (.tools/bin/prism)")
    elements = [(f"k{k}", i) for i in range(PER_KEY) for k in range(KEYS)]
    with beam.Pipeline(options=pipeline_options(["--runner=PrismRunner"])) as p:
        counted = p | beam.Create(elements, reshuffle=False) | beam.ParDo(_CountFn())
        assert_that(counted, _every_count_once)
