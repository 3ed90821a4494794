"""Every stage's stats reach the runner's counters; throttled time reaches Beam's throttling counter."""

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from pipelines.options import pipeline_options
from transforms.core.stats import RunStats
from transforms.totals import NAMESPACE, THROTTLING_SECONDS, CountStats, MergeStats


def test_counters_and_throttled_seconds_after_a_throttled_run():
    stats = [
        RunStats(records_in=10, predictions_out=9, dead_letters_out=1, requests=3, throttles=2, throttled_ms=2_500),
        RunStats(records_in=4, dead_letters_out=4, throttled_ms=700),  # e.g. malformed Kafka messages
    ]
    stats[0].errors["ThrottlingException"] += 2
    p = beam.Pipeline(options=pipeline_options([]))
    counted = p | beam.Create(stats) | CountStats()
    _ = counted | beam.CombineGlobally(MergeStats())
    result = p.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    }
    assert counters["records"] == 14 and counters["predictions"] == 9 and counters["dead_letters"] == 5
    assert counters["errors_ThrottlingException"] == 2 and counters["throttled_ms"] == 3_200
    assert counters[THROTTLING_SECONDS] == 3  # whole seconds; the 200 ms left are not reported yet
