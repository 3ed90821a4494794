"""Job configs: every problem names its key; the shipped configs validate."""

from pathlib import Path

import pytest

from pipelines.config import ConfigError, JobConfig, load_job_config
from tests.unit.pipelines.job_files import BASE, write


def problems(tmp_path, text, **kw):
    with pytest.raises(ConfigError) as info:
        load_job_config(write(tmp_path, text), **kw)
    return info.value.problems


def test_valid_config_with_date_and_defaults(tmp_path):
    config = load_job_config(write(tmp_path, BASE), date="2026-01-02")
    assert config.source.path == "in/2026-01-02/*.parquet"
    assert config.output.predictions == "out/2026-01-02/p"
    assert config.invoke.strategy == "MultiRecord" and config.invoke.content_type == "text/csv"


def test_parquet_tables_hold_whole_requests_unless_batch_rows_is_set(tmp_path):
    assert load_job_config(write(tmp_path, BASE)).batch_rows == 16000  # 32 requests of 500
    assert load_job_config(write(tmp_path, BASE), overrides=["invoke.max_records=300"]).batch_rows == 16200
    assert load_job_config(write(tmp_path, BASE), overrides=["invoke.strategy=SingleRecord"]).batch_rows == 16384
    assert load_job_config(write(tmp_path, BASE), overrides=["invoke.max_records=20000"]).batch_rows == 20000
    assert load_job_config(write(tmp_path, BASE), overrides=["source.batch_rows=1000"]).batch_rows == 1000


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


KAFKA_BASE = {
    "source": {
        "type": "kafka",
        "bootstrap_servers": "b:9092",
        "topic": "in",
        "group_id": "g",
        "value_columns": {"x": "float64"},
    },
    "endpoint": {"name": "e"},
    "invoke": {"feature_columns": ["x"]},
    "output": {"format": "kafka", "predictions": "p", "dead_letters": "d"},
}


def test_kafka_config_defaults_and_rules():
    config = JobConfig.model_validate(KAFKA_BASE)
    assert config.output_bootstrap_servers == "b:9092"
    streaming_to_files = {
        **KAFKA_BASE,
        "source": {**KAFKA_BASE["source"], "mode": "streaming"},
        "output": {"format": "parquet", "predictions": "p", "dead_letters": "d"},
    }
    with pytest.raises(ValueError, match="streaming Kafka source writes to Kafka"):
        JobConfig.model_validate(streaming_to_files)
    with pytest.raises(ValueError, match="needs value_columns"):
        JobConfig.model_validate({**KAFKA_BASE, "source": {**KAFKA_BASE["source"], "value_columns": {}}})
    with pytest.raises(ValueError, match="clash with the message columns"):
        JobConfig.model_validate(
            {**KAFKA_BASE, "source": {**KAFKA_BASE["source"], "value_columns": {"kafka_offset": "int64"}}}
        )


def test_exactly_once_is_refused_where_a_kafka_transaction_cannot_hold_it():
    eos = {**KAFKA_BASE["output"], "delivery": "exactly_once"}
    assert JobConfig.model_validate({**KAFKA_BASE, "output": eos}).output.delivery == "exactly_once"
    to_files = {**KAFKA_BASE, "output": {**eos, "format": "parquet"}}
    with pytest.raises(ValueError, match="needs a Kafka source and Kafka outputs"):
        JobConfig.model_validate(to_files)
    java = {**KAFKA_BASE, "source": {**KAFKA_BASE["source"], "reader": "java"}, "output": eos}
    with pytest.raises(ValueError, match=r"needs source\.reader confluent"):
        JobConfig.model_validate(java)
    elsewhere = {**KAFKA_BASE, "output": {**eos, "bootstrap_servers": "other:9092"}}
    with pytest.raises(ValueError, match="on the source's cluster"):
        JobConfig.model_validate(elsewhere)
