"""Where Beam's Java KafkaIO starts for each `source.start`, given that a start time is all it takes."""

import pytest

from transforms.sources.kafka_plan import start_read_time_ms


@pytest.mark.parametrize(
    ("start", "timestamp", "expected"),
    [
        ("committed", None, None),  # the group's commits (auto.offset.reset=earliest where it has none)
        ("earliest", None, 0),
        ("latest", None, 1_800_000_000_000),  # the launch: what arrives from now on
        ("timestamp", 1_700_000_000_000, 1_700_000_000_000),
    ],
)
def test_every_start_becomes_a_read_time_or_the_group_commits(start, timestamp, expected):
    assert start_read_time_ms(start, timestamp, now_ms=1_800_000_000_000) == expected
