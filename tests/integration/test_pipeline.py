"""The Beam pipeline on the in-process runner against the local endpoint, and the CLI end to end."""

import json
import os
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.options import pipeline_options
from pipelines.sample_data import make_table, write_sample
from tests.conftest import endpoint_stats
from transforms.core.rows import dead_letter_schema, prediction_schema
from transforms.core.settings import EndpointSettings, InvokeSettings
from transforms.invoke.transform import DEAD_LETTERS, PREDICTIONS, STATS, InvokeEndpoint, InvokeSpec
from transforms.sources.parquet import ReadParquetTables
from transforms.sources.parquet_files import KEY_COLUMNS
from transforms.totals import CountStats

pytestmark = pytest.mark.integration
FEATURES = [f"f{i}" for i in range(16)]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_invoke_transform_on_test_pipeline(endpoint_factory, creds, tmp_path):
    ep = endpoint_factory(None)
    write_sample(str(tmp_path), rows=1234, files=3, row_group_rows=200)
    settings = InvokeSettings(feature_columns=FEATURES, passthrough_columns=["id"], max_records=50, concurrency=8)
    passthrough = pa.schema([pa.field("id", pa.int64())])
    endpoint = EndpointSettings(name="local-demo", endpoint_url=ep.url)
    columns = settings.input_columns(KEY_COLUMNS)
    p = TestPipeline(options=pipeline_options([]))
    scored = (
        p
        | ReadParquetTables(str(tmp_path / "*.parquet"), columns, batch_rows=100)
        | InvokeEndpoint(
            InvokeSpec(
                endpoint=endpoint,
                settings=settings,
                key_columns=KEY_COLUMNS,
                prediction_schema=prediction_schema(passthrough, "float64"),
                dead_letter_schema=dead_letter_schema(passthrough),
            )
        )
    )
    ids = scored[PREDICTIONS] | "Ids" >> _flat_column("id")
    assert_that(ids, equal_to(list(range(1234))), label="EveryRecordOnce")
    dead = scored[DEAD_LETTERS] | "DeadIds" >> _flat_column("id")
    _ = scored[STATS] | CountStats()
    assert_that(dead, equal_to([]), label="NoDeadLetters")
    result = p.run()
    result.wait_until_finish()
    metrics = result.metrics().query(MetricsFilter())
    counters = {c.key.metric.name: c.committed for c in metrics["counters"]}
    assert counters["records"] == counters["predictions"] == 1234
    assert counters["requests"] >= 1234 // 50
    (latency,) = [d.committed for d in metrics["distributions"] if d.key.metric.name == "latency_ms"]
    assert latency.count == counters["requests"]  # one sample per request, not per batch


def _flat_column(name):
    import apache_beam as beam

    return beam.FlatMap(lambda table: table.column(name).to_pylist())


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def local_overrides(tmp_path, data):
    return [
        "--set",
        f"source.path={data}/*.parquet",
        "--set",
        f"output.predictions={tmp_path}/out/{{date}}/predictions",
        "--set",
        f"output.dead_letters={tmp_path}/out/{{date}}/dead_letters",
    ]


def run_local(tmp_path, data, *flags, env=None):
    """configs/local.yaml on ``data``, outputs under ``tmp_path``, with more flags."""
    return run_cli(
        "run", "--config", "configs/local.yaml", "--no-progress", *local_overrides(tmp_path, data), *flags, env=env
    )


def test_make_run_path_end_to_end_and_rerun_replaces(tmp_path):
    data = tmp_path / "data"
    write_sample(str(data), rows=3000, files=2)
    report_path = tmp_path / "report.json"
    args = [
        "run",
        "--config",
        "configs/local.yaml",
        "--date",
        "2026-01-02",
        "--report",
        str(report_path),
        "--no-progress",
        *local_overrides(tmp_path, data),
    ]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    report = json.loads(report_path.read_text())
    assert report["records_in"] == 3000 == report["predictions_out"] + report["dead_letters_out"]
    assert report["accounted"] and report["dead_letters_out"] == 0
    assert set(report["variants"]) == {"variant-a", "variant-b"}
    assert all(v["latency_ms"]["p99"] is not None for v in report["variants"].values())
    out = tmp_path / "out" / "2026-01-02"
    predictions = pq.read_table(out / "predictions")
    assert predictions.num_rows == 3000 and sorted(predictions.column("id").to_pylist()) == list(range(3000))
    assert json.loads((out / "predictions" / "_SUCCESS").read_text())["records_in"] == 3000
    ids_first = sorted(predictions.column("inference_id").to_pylist())

    second = run_cli(*args)
    assert second.returncode == 0, second.stderr
    again = pq.read_table(out / "predictions")
    assert again.num_rows == 3000, "a rerun for the same date replaces, never appends"
    assert sorted(again.column("inference_id").to_pylist()) == ids_first, "same records, same InferenceIds"
    assert not [p for p in os.listdir(out) if "staging" in p], "no staging folders left behind"
    assert "Scored 3,000 records" in second.stdout


def test_dead_letter_threshold_sets_exit_status(tmp_path):
    data = tmp_path / "data"
    write_sample(str(data), rows=200, files=1)
    table = pq.read_table(data / "part-00000.parquet")
    values = table.column("f0").to_pylist()
    for i in range(0, 200, 20):
        values[i] = float("inf")
    pq.write_table(table.set_column(1, "f0", pa.array(values)), data / "part-00000.parquet")
    result = run_cli(
        "run",
        "--config",
        "configs/local.yaml",
        "--date",
        "2026-01-03",
        "--no-progress",
        *local_overrides(tmp_path, data),
    )
    assert result.returncode == 1, result.stderr
    assert "exceeds job.max_dead_letter_fraction" in result.stderr
    dead = pq.read_table(tmp_path / "out" / "2026-01-03" / "dead_letters")
    assert sorted(dead.column("id").to_pylist()) == list(range(0, 200, 20))
    assert set(dead.column("error_class").to_pylist()) == {"ModelError"}


def test_refused_credentials_stop_the_run_in_one_line_and_publish_nothing(endpoint_factory, tmp_path):
    ep = endpoint_factory(None)
    data = tmp_path / "data"
    write_sample(str(data), rows=20_000, files=1)
    result = run_local(
        tmp_path,
        data,
        "--set",
        "local_endpoint.enabled=false",
        "--set",
        f"endpoint.endpoint_url={ep.url}",
        env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "wrong", "SMSCORE_LOG_LEVEL": "WARNING"},
    )
    assert result.returncode == 3, result.stderr
    assert "EndpointOutage" in result.stderr and "AuthError/InvalidSignatureException" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 2
    assert not (tmp_path / "out").exists(), "a stopped run publishes nothing"


def test_dead_letters_replay_under_their_inference_ids_and_score_as_a_clean_run_would(tmp_path):
    data = tmp_path / "data"
    write_sample(str(data), rows=2000, files=1)
    endpoints = {}  # one variant (the built-in two answer differently), failing 30% of requests with 503, or not
    for name, errors in (("flaky", {"service_unavailable": 0.3}), ("steady", {})):
        endpoint = {"name": "local-demo", "faults": {"seed": 7, "errors": errors}, "variants": [{"name": "only"}]}
        endpoints[name] = tmp_path / f"{name}.yaml"
        endpoints[name].write_text(json.dumps({"endpoints": [endpoint]}))

    def run(config, name, *extra):
        folder = tmp_path / name
        args = ["--set", f"output.predictions={folder}/p", "--set", f"output.dead_letters={folder}/d", *extra]
        args += ["--set", f"local_endpoint.config={endpoints['flaky' if name == 'first' else 'steady']}"]
        result = run_cli("run", "--config", config, "--date", "2026-01-04", "--no-progress", *args)
        assert result.returncode == 0, result.stderr
        return pq.read_table(folder / "p"), pq.read_table(folder / "d")

    source = ["--set", f"source.path={data}/*.parquet"]
    _, dead = run(
        "configs/local.yaml",
        "first",
        *source,
        *("--set", "job.max_dead_letter_fraction=1"),
        *("--set", "invoke.retry.max_attempts=1", "--set", "invoke.retry.abort_after_endpoint_failures=0"),
    )
    assert dead.num_rows > 0 and set(dead.column("error_class").to_pylist()) == {"ServiceUnavailable"}
    replayed, still_dead = run(
        "configs/replay-local.yaml", "replayed", "--set", f"source.path={tmp_path}/first/d/*.parquet"
    )
    assert still_dead.num_rows == 0 and replayed.num_rows == dead.num_rows
    assert sorted(replayed.column("inference_id").to_pylist()) == sorted(dead.column("inference_id").to_pylist())
    clean, _ = run("configs/local.yaml", "clean", *source)
    expected = dict(zip(clean.column("inference_id").to_pylist(), clean.column("prediction").to_pylist(), strict=True))
    got = dict(zip(replayed.column("inference_id").to_pylist(), replayed.column("prediction").to_pylist(), strict=True))
    assert got == {i: expected[i] for i in got}
    assert sorted(replayed.column("id").to_pylist()) == sorted(dead.column("id").to_pylist())


def test_bad_config_names_the_key_without_traceback(tmp_path):
    result = run_cli("run", "--config", "configs/local.yaml", "--set", "invoke.concurrency=0")
    assert result.returncode == 2
    assert "invoke.concurrency:" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("validate", "--config", "configs/local.yaml", "--set", "source.path=/nonexistent/*.parquet")
    assert result.returncode == 0 and '"/nonexistent/*.parquet"' in result.stdout
    result = run_cli("run", "--config", "configs/local.yaml", "--set", "source.path=/nonexistent/*.parquet")
    assert result.returncode == 2 and "matches no files" in result.stderr


def test_the_embedded_endpoint_is_called_with_its_own_credentials_and_a_report_lands_where_asked(tmp_path):
    data = tmp_path / "data"
    write_sample(str(data), rows=500, files=1)
    endpoint_config = tmp_path / "endpoint.yaml"
    endpoint_config.write_text(
        "credentials: [{access_key_id: alice, secret_access_key: not-test}]\n"
        "endpoints: [{name: local-demo, variants: [{name: only}]}]\n"
    )
    report = tmp_path / "reports" / "night.json"
    result = run_local(
        tmp_path,
        data,
        "--set",
        f"local_endpoint.config={endpoint_config}",
        "--set",
        f"output.report={report}",
        env={"AWS_ACCESS_KEY_ID": "someone-else", "AWS_SECRET_ACCESS_KEY": "theirs"},  # the user's own, untouched
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(report.read_text())["predictions_out"] == 500


@pytest.mark.parametrize("client", ["direct", "boto3"])
def test_at_debug_no_secret_custom_attribute_or_record_reaches_a_log_line_or_an_output(tmp_path, client):
    """SMSCORE_LOG_LEVEL=DEBUG, as a user debugging a run sets it: the secret key, the custom attributes and
    the record bodies appear nowhere in stdout, stderr, the report or the outputs, except in the dead
    letters' ``payload`` (the record, kept to replay it)."""
    secret, attribute, body, poison = "S3cretMarkerKey", "tenant=AttrMarker", "31337.4242", "12345.678"
    table = make_table(300)
    f1 = pa.array([float(body)] * 300)
    f0 = table.column("f0").to_pylist()
    f0[7] = float(poison)
    table = table.set_column(1, "f0", pa.array(f0)).set_column(2, "f1", f1)
    (tmp_path / "data").mkdir()
    pq.write_table(table, tmp_path / "data" / "part-0.parquet")
    endpoint_config = tmp_path / "endpoint.yaml"
    endpoint_config.write_text(
        json.dumps(
            {
                "credentials": [{"access_key_id": "debug-key", "secret_access_key": secret}],
                "endpoints": [
                    {
                        "name": "local-demo",
                        "faults": {"poison": {"marker": poison}},
                        "variants": [{"name": "only", "model": {"type": "demo", "echo_custom_attributes": False}}],
                    }
                ],
            }
        )
    )
    report = tmp_path / "report.json"
    result = run_local(
        tmp_path,
        tmp_path / "data",
        *("--set", f"local_endpoint.config={endpoint_config}", "--set", f"output.report={report}"),
        *("--set", f"invoke.fields.custom_attributes={attribute}", "--set", "job.max_dead_letter_fraction=1"),
        *("--date", "2026-01-01", "--set", f"invoke.client={client}"),
        env={"SMSCORE_LOG_LEVEL": "DEBUG"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stderr.splitlines()) > 100, "DEBUG logs"
    predictions = pq.read_table(tmp_path / "out" / "2026-01-01" / "predictions")
    dead = pq.read_table(tmp_path / "out" / "2026-01-01" / "dead_letters")
    assert predictions.num_rows == 299 and dead.num_rows == 1 and body.encode() in dead.column("payload")[0].as_py()
    outputs = [str(predictions.to_pylist()), str(dead.drop_columns(["payload"]).to_pylist()), report.read_text()]
    for text in (result.stdout, result.stderr, *outputs):
        for marker in (secret, attribute, "AttrMarker", body, poison):
            assert marker not in text


def test_a_run_killed_at_five_points_resumes_and_publishes_every_record_exactly_once(endpoint_factory, tmp_path):
    """SIGKILL a nightly run after 1, 8, 16, 24 and 32 of its 40 shards (row groups) are finished; each rerun
    of the same date scores only the other shards, and the published outputs hold every record once."""
    ep = endpoint_factory(
        {"endpoints": [{"name": "local-demo", "faults": {"latency": {"fixed_ms": 40}}, "variants": [{"name": "only"}]}]}
    )
    data = tmp_path / "data"
    data.mkdir()
    for i in range(10):  # 10 files x 4 row groups x 500 records
        pq.write_table(make_table(2000, start=2000 * i), data / f"part-{i}.parquet", row_group_size=500)
    shards, per_shard, in_flight = 40, 5, 4 * 4  # 100 records a request; the invoke step queues 4 x concurrency
    settings = ["--set", "invoke.max_records=100", "--set", "invoke.concurrency=4"]
    settings += ["--set", "local_endpoint.enabled=false", "--set", f"endpoint.endpoint_url={ep.url}"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    for day, kill_after in enumerate([1, 8, 16, 24, 32], start=10):
        date = f"2026-02-{day}"
        args = [*local_overrides(tmp_path, data), *settings, "--date", date, "--no-progress"]
        command = [sys.executable, "-m", "pipelines.cli", "run", "--config", "configs/local.yaml", *args]
        ledger = tmp_path / "out" / date
        endpoint_stats(ep.url, reset=True)
        finished = kill_after_shards(command, env, ledger, kill_after)
        assert kill_after <= finished < shards, "killed before the run finished"
        killed_requests = endpoint_stats(ep.url, reset=True)["received"]
        rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert f"{finished} of {shards} input shards" in rerun.stderr
        rerun_requests = endpoint_stats(ep.url)["received"]
        assert rerun_requests == (shards - finished) * per_shard  # only the shards not finished
        assert killed_requests + rerun_requests <= shards * per_shard + in_flight
        predictions = pq.read_table(tmp_path / "out" / date / "predictions")
        ids = predictions.column("inference_id").to_pylist()
        assert len(ids) == len(set(ids)) == 20_000
        assert sorted(predictions.column("id").to_pylist()) == list(range(20_000))
        report = json.loads((tmp_path / "out" / date / "predictions" / "_SUCCESS").read_text())
        assert (report["records_in"], report["predictions_out"], report["resumed_shards"]) == (20_000, 20_000, finished)
        assert not list(ledger.glob(".*staging*")), "nothing left behind"


def kill_after_shards(command: list[str], env: dict, folder, shards: int) -> int:
    """Run ``command``, SIGKILL it once ``shards`` shards are finished under ``folder``; the shards finished."""
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while run.poll() is None and len(list(folder.glob(".predictions.staging-*/_ledger/*.json"))) < shards:
        time.sleep(0.02)
    run.kill()
    run.wait()
    return len(list(folder.glob(".predictions.staging-*/_ledger/*.json")))


def test_a_changed_config_or_fresh_starts_afresh_and_says_so(endpoint_factory, tmp_path):
    ep = endpoint_factory(
        {"endpoints": [{"name": "local-demo", "faults": {"latency": {"fixed_ms": 40}}, "variants": [{"name": "only"}]}]}
    )
    data = tmp_path / "data"
    write_sample(str(data), rows=8000, files=8, row_group_rows=500)
    settings = ["--set", "invoke.max_records=100", "--set", "invoke.concurrency=4", "--date", "2026-02-20"]
    settings += ["--set", "local_endpoint.enabled=false", "--set", f"endpoint.endpoint_url={ep.url}"]
    command = [sys.executable, "-m", "pipelines.cli", "run", "--config", "configs/local.yaml", "--no-progress"]
    command += [*local_overrides(tmp_path, data), *settings]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    folder = tmp_path / "out" / "2026-02-20"
    for rerun_flags, said in (
        (["--set", "invoke.max_records=50"], "another config or other inputs"),
        (["--fresh"], "--fresh: the unfinished run's work"),
    ):
        assert 0 < kill_after_shards(command, env, folder, 4) < 16
        endpoint_stats(ep.url, reset=True)
        rerun = subprocess.run([*command, *rerun_flags], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert said in rerun.stderr and "resuming" not in rerun.stderr
        report = json.loads((folder / "predictions" / "_SUCCESS").read_text())
        assert report["predictions_out"] == 8000 and "resumed_shards" not in report
        assert endpoint_stats(ep.url)["received"] == 8000 // (50 if "--fresh" not in rerun_flags else 100)
        assert not list(folder.glob(".*staging*"))
