"""Every stage's stats reach the runner's counters; throttled time reaches Beam's throttling counter."""

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics.metric import MetricsFilter

from pipelines.options import pipeline_options
from tests.unit.transforms.invoke.stub_client import StubClient, service_error
from tests.unit.transforms.invoke.test_scorer import score, scorer
from transforms.core.stats import RunStats
from transforms.invoke.rate import RequestRate
from transforms.totals import NAMESPACE, THROTTLING_SECONDS, CountStats, MergeStats


def counted(stats: list[RunStats]) -> dict[str, int]:
    p = beam.Pipeline(options=pipeline_options([]))
    _ = p | beam.Create(stats) | CountStats() | beam.CombineGlobally(MergeStats())
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    return {c.key.metric.name: c.committed for c in counters}


def test_a_throttled_run_reports_its_throttled_seconds_to_the_runner():
    """Throttles backed off and waits for the request budget, from a scored batch to Beam's counter."""
    now = [0.0]
    client = StubClient([service_error("ThrottlingException", 400), service_error("ThrottlingException", 400)])
    s, slept = scorer(client, max_records=2)
    s.invoker.rate = RequestRate(1.0, clock=lambda: now[0], sleep=slept)  # one request a second
    batch = score(s, pa.table({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "id": list(range(6))}))
    assert batch.stats.throttles == 2 and batch.stats.throttled_ms >= 4_000  # 5 attempts at one instant
    counters = counted([batch.stats])
    assert counters[THROTTLING_SECONDS] == batch.stats.throttled_ms // 1000
    assert counters["throttled_ms"] == batch.stats.throttled_ms and counters["throttles"] == 2


def test_counters_of_every_stage_and_seconds_carried_between_batches():
    stats = [
        RunStats(records_in=10, predictions_out=9, dead_letters_out=1, requests=3, throttles=2, throttled_ms=2_500),
        RunStats(records_in=4, dead_letters_out=4, throttled_ms=700),  # e.g. malformed Kafka messages
    ]
    stats[0].errors["ThrottlingException"] += 2
    counters = counted(stats)
    assert counters["records"] == 14 and counters["predictions"] == 9 and counters["dead_letters"] == 5
    assert counters["errors_ThrottlingException"] == 2 and counters["throttled_ms"] == 3_200
    assert counters[THROTTLING_SECONDS] == 3  # whole seconds; the 200 ms left are not reported yet
