"""Run statistics merge exactly across batches and workers."""

import pytest

from transforms.core.stats import RunStats


def test_stats_merge_and_percentiles():
    a, b = RunStats(records_in=3, predictions_out=2, dead_letters_out=1), RunStats(records_in=1, predictions_out=1)
    a.variant("v").add(2, 10.0)
    b.variant("v").add(1, 100.0)
    report = a.merge(b).to_report()
    assert report["records_in"] == 4 and report["accounted"]
    latency = report["variants"]["v"]["latency_ms"]
    assert latency["p50"] == pytest.approx(10, rel=0.05) and latency["p99"] == pytest.approx(100, rel=0.05)
