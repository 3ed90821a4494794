import textwrap
from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_job_config
from transforms.stats import RunStats

BASE = """
source: {path: "in/{date}/*.parquet"}
endpoint: {name: my-endpoint}
invoke: {feature_columns: [a, b], passthrough_columns: [id]}
output: {predictions: "out/{date}/p", dead_letters: "out/{date}/d"}
"""


def write(tmp_path, text):
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text, **kw):
    with pytest.raises(ConfigError) as info:
        load_job_config(write(tmp_path, text), **kw)
    return info.value.problems


def test_valid_config_with_date_and_defaults(tmp_path):
    config = load_job_config(write(tmp_path, BASE), date="2026-01-02")
    assert config.source.path == "in/2026-01-02/*.parquet"
    assert config.output.predictions == "out/2026-01-02/p"
    assert config.invoke.strategy == "MultiRecord" and config.invoke.content_type == "text/csv"


def test_errors_name_the_key(tmp_path):
    found = problems(tmp_path, BASE + "\njob: {max_dead_letter_fraction: 2}\n")
    assert any(p.startswith("job.max_dead_letter_fraction:") for p in found)
    found = problems(tmp_path, BASE.replace("my-endpoint", "bad_name!"))
    assert any(p.startswith("endpoint.name:") for p in found)
    found = problems(tmp_path, BASE.replace("feature_columns", "feature_column"))
    assert any("invoke.feature_column: unknown key" in p for p in found)


def test_payload_limit_is_six_mib(tmp_path):
    found = problems(tmp_path, BASE, overrides=["invoke.max_payload_bytes=7000000"])
    assert any(p.startswith("invoke.max_payload_bytes:") for p in found)


def test_raw_serializer_needs_its_column(tmp_path):
    found = problems(tmp_path, BASE, overrides=["invoke.serializer=raw"])
    assert any("raw_column" in p for p in found)


def test_ids_come_from_key_columns_or_an_id_column_not_both(tmp_path):
    found = problems(tmp_path, BASE, overrides=["invoke.id_columns=[id]", "invoke.inference_id_column=inference_id"])
    assert any("not both" in p for p in found)


def test_the_shipped_configs_are_valid(monkeypatch):
    for name in ("GCP_PROJECT", "GCS_BUCKET", "SAGEMAKER_ENDPOINT"):  # what configs/dataflow.yaml asks for
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/scoring")
    for path in sorted((Path(__file__).parents[2] / "configs").glob("*.yaml")):
        load_job_config(path, "2026-11-29")


def test_env_interpolation_and_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("EP_NAME", "from-env")
    text = BASE.replace("my-endpoint", "'${EP_NAME}'") + "\njob: {name: '${JOB:-fallback}'}\n"
    config = load_job_config(write(tmp_path, text), overrides=["invoke.concurrency=3", "invoke.strategy=SingleRecord"])
    assert config.endpoint.name == "from-env" and config.job.name == "fallback"
    assert config.invoke.concurrency == 3 and config.invoke.records_per_request == 1


def test_missing_env_var_names_key_and_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    found = problems(tmp_path, BASE.replace("my-endpoint", "'${NOPE}'"))
    assert found == ["endpoint.name: environment variable NOPE is not set (write ${NOPE:-default} for a default)"]


def test_bad_date_and_bad_set(tmp_path):
    assert problems(tmp_path, BASE, date="2026-13-01") == ["--date 2026-13-01: expected YYYY-MM-DD"]
    assert "expected section.key=value" in problems(tmp_path, BASE, overrides=["nonsense"])[0]


def test_passthrough_may_not_shadow_output_columns(tmp_path):
    found = problems(tmp_path, BASE.replace("passthrough_columns: [id]", "passthrough_columns: [prediction]"))
    assert any("clash" in p for p in found)


def test_stats_merge_and_percentiles():
    a, b = RunStats(records_in=3, predictions_out=2, dead_letters_out=1), RunStats(records_in=1, predictions_out=1)
    a.variant("v").add(2, 10.0)
    b.variant("v").add(1, 100.0)
    report = a.merge(b).to_report()
    assert report["records_in"] == 4 and report["accounted"]
    latency = report["variants"]["v"]["latency_ms"]
    assert latency["p50"] == pytest.approx(10, rel=0.05) and latency["p99"] == pytest.approx(100, rel=0.05)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], (10_000, True)),  # commits need checkpoints; outputs must exist before their offsets commit
        (["--checkpointing_interval=2000", "--finish_bundle_before_checkpointing=false"], (2000, False)),
    ],
)
def test_flink_streaming_gets_checkpoint_defaults_unless_set(flags, expected):
    from pipelines.cli import pipeline_options
    from pipelines.flink_options import FlinkCheckpointOptions

    options = pipeline_options(["--runner=FlinkRunner", *flags], streaming=True).view_as(FlinkCheckpointOptions)
    assert (options.checkpointing_interval, options.finish_bundle_before_checkpointing) == expected


def test_flink_batch_is_left_as_given():
    from pipelines.cli import pipeline_options
    from pipelines.flink_options import FlinkCheckpointOptions

    options = pipeline_options(["--runner=FlinkRunner"]).view_as(FlinkCheckpointOptions)
    assert (options.checkpointing_interval, options.finish_bundle_before_checkpointing) == (None, None)


def test_nested_feature_columns_need_a_json_serializer(tmp_path):
    import pyarrow as pa

    from pipelines.build import _schemas

    schema = pa.schema([("id", pa.int64()), ("a", pa.float64()), ("b", pa.list_(pa.float64()))])
    with pytest.raises(ConfigError) as info:
        _schemas(load_job_config(write(tmp_path, BASE)), schema, ["id"])
    assert "invoke.feature_columns" in info.value.problems[0] and "b (list<item: double>)" in info.value.problems[0]
    as_json = BASE.replace("passthrough_columns: [id]", "passthrough_columns: [id], serializer: json")
    assert _schemas(load_job_config(write(tmp_path, as_json)), schema, ["id"])[0]


def test_a_runner_failure_carrying_a_worker_traceback_is_told_in_its_last_exception_line():
    from pipelines.cli import _one_line

    worker = (
        "Pipeline job-001 failed in state FAILED: bundle inst002 failed:Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\nbotocore.errorfactory.ValidationError: first\n\n'
        "During handling of the above exception, another exception occurred:\n\n"
        'Traceback (most recent call last):\n  File "y.py", line 2, in g\n'
        "transforms.outage.EndpointOutage: the endpoint failed 16 requests [while running 'Invoke']\n"
    )
    assert _one_line(RuntimeError(worker)) == (
        "transforms.outage.EndpointOutage: the endpoint failed 16 requests [while running 'Invoke']"
    )
    assert _one_line(ValueError("bad value")) == "ValueError: bad value"
