"""Checks against the real input before a pipeline is built."""

import textwrap

import pytest

from pipelines.config import ConfigError, load_job_config
from pipelines.preflight import check_shared_locations, output_schemas
from tests.unit.pipelines.job_files import BASE, write


def test_nested_feature_columns_need_a_json_serializer(tmp_path):
    import pyarrow as pa

    schema = pa.schema([("id", pa.int64()), ("a", pa.float64()), ("b", pa.list_(pa.float64()))])
    with pytest.raises(ConfigError) as info:
        output_schemas(load_job_config(write(tmp_path, BASE)), schema, ["id"])
    assert "invoke.feature_columns" in info.value.problems[0] and "b (list<item: double>)" in info.value.problems[0]
    as_json = BASE.replace("passthrough_columns: [id]", "passthrough_columns: [id], serializer: json")
    assert output_schemas(load_job_config(write(tmp_path, as_json)), schema, ["id"]).needed


def test_a_remote_runner_gets_outputs_and_a_report_it_can_share_or_the_key_is_named(tmp_path):
    local = load_job_config(write(tmp_path, BASE), "2026-01-02")
    check_shared_locations(local, workers_share_our_disk=True)  # a local runner: anything goes
    with pytest.raises(ConfigError) as info:
        check_shared_locations(local, workers_share_our_disk=False)
    assert [p.split(":")[0] for p in info.value.problems] == ["output.predictions", "output.dead_letters"]
    on_gcs = BASE.replace('"out/{date}/p"', '"gs://b/p"').replace('"out/{date}/d"', '"gs://b/d"')
    check_shared_locations(load_job_config(write(tmp_path, on_gcs)), workers_share_our_disk=False)
    kafka = textwrap.dedent(
        """
        source: {type: kafka, bootstrap_servers: "b:9092", topic: in, group_id: g, value_columns: {a: float64}}
        endpoint: {name: e}
        invoke: {feature_columns: [a]}
        output: {format: kafka, predictions: p, dead_letters: d}
        """
    )
    with pytest.raises(ConfigError, match=r"^output\.report: out/smscore/report\.json is a local path"):
        check_shared_locations(load_job_config(write(tmp_path, kafka)), workers_share_our_disk=False)
    shared_report = kafka.replace("dead_letters: d}", "dead_letters: d, report: gs://b/report.json}")
    check_shared_locations(load_job_config(write(tmp_path, shared_report)), workers_share_our_disk=False)
