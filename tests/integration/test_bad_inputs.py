"""The bad-input catalogue (RELIABILITY.md), each through ``smscore run`` as a user meets it: a clear line naming
the problem and its exit status, or a dead letter of the record alone; never a traceback, never a silent loss."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.sample_data import make_table

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# Small requests (30 of them: the outage breaker trips at 16 in a row) and short backoffs.
FAST = ["--set", "invoke.max_records=10", "--set", "invoke.retry.max_attempts=2"]
FAST += ["--set", "invoke.retry.initial_backoff_seconds=0.01"]


def sample(folder: Path, rows: int = 300) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_table(rows), folder / "part-0.parquet")


def with_f0(folder: Path, values: list, kind: pa.DataType | None = None) -> None:
    """The sample with its first feature replaced (rows beyond ``values`` keep theirs)."""
    table = make_table(300)
    rest = table.column("f0").to_pylist()[len(values) :]
    f0 = values + ([str(v) for v in rest] if kind == pa.string() else rest)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.set_column(1, "f0", pa.array(f0, kind)), folder / "part-0.parquet")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# name: (prepare the data folder, extra flags, exit status, words on stderr, dead letters: {id: error_class})
Case = tuple[Callable[[Path], None], list[str], int, str, dict[int, str]]
CASES: dict[str, Case] = {
    "corrupt parquet": (
        lambda d: (sample(d), (d / "part-1.parquet").write_bytes(b"not parquet at all")),
        [],
        3,
        "part-1.parquet: not a readable Parquet file",
        {},
    ),
    "empty file": (
        lambda d: (sample(d), (d / "part-1.parquet").write_bytes(b"")),
        [],
        3,
        "part-1.parquet: not a readable Parquet file",
        {},
    ),
    "a column missing": (
        lambda d: (sample(d), pq.write_table(make_table(10).drop_columns(["f3"]), d / "part-1.parquet")),
        [],
        3,
        "part-1.parquet has no column 'f3'",
        {},
    ),
    "a column of another type": (
        lambda d: (
            sample(d),
            pq.write_table(make_table(10).set_column(4, "f3", pa.array(["x"] * 10)), d / "part-1.parquet"),
        ),
        [],
        3,
        "column 'f3' is string, not double",
        {},
    ),
    "a glob matching nothing": (
        lambda d: d.mkdir(),
        [],
        2,
        "matches no files",
        {},
    ),
    "a record over 6 MiB": (
        lambda d: with_f0(d, ["1" * (7 * 1024 * 1024)], pa.string()),
        [],
        0,
        "",
        {0: "ValidationError"},
    ),
    "null features": (
        lambda d: with_f0(d, [None, 1.5, None]),
        [],
        0,
        "",
        {0: "ModelError", 2: "ModelError"},
    ),
    "text csv cannot carry": (
        lambda d: with_f0(d, ["1,5", "2.5"], pa.string()),
        [],
        0,
        "",
        {0: "EncodeError"},
    ),
    "NaN and infinity in JSON": (
        lambda d: with_f0(d, [float("nan"), 1.0, float("inf")]),
        ["--set", "invoke.serializer=json"],
        0,
        "",
        {0: "EncodeError", 2: "EncodeError"},
    ),
    "an unknown endpoint": (
        sample,
        ["--set", "endpoint.name=no-such-endpoint"],
        3,
        "Endpoint no-such-endpoint of account",
        {},
    ),
    "a wrong secret": (
        sample,
        ["--set", "local_endpoint.enabled=false", "--set", "endpoint.endpoint_url={url}"],
        3,
        "AuthError/InvalidSignatureException",
        {},
    ),
    "an unreachable endpoint": (
        sample,
        ["--set", "local_endpoint.enabled=false", "--set", f"endpoint.endpoint_url=http://127.0.0.1:{closed_port()}"],
        3,
        "NetworkError/EndpointConnectionError",
        {},
    ),
    "an unwritable output": (
        lambda d: (sample(d), (d.parent / "blocked").write_text("a file, not a folder")),
        ["--set", "output.predictions={tmp}/blocked/predictions"],
        3,
        "cannot write its staging folder",
        {},
    ),
    "a malformed date": (sample, ["--date", "2026-13-45"], 2, "--date", {}),
    "an unknown config key": (sample, ["--set", "invoke.concurency=4"], 2, "invoke.concurency", {}),
    "an out-of-range config value": (sample, ["--set", "invoke.max_records=0"], 2, "invoke.max_records", {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_input_gets_a_clear_line_or_a_dead_letter(name, tmp_path, default_endpoint):
    prepare, flags, status, said, dead_letters = CASES[name]
    data = tmp_path / "data"
    prepare(data)
    flags = [f.format(url=default_endpoint.url, tmp=tmp_path) for f in flags]
    command = [
        sys.executable, "-m", "pipelines.cli", "run", "--config", "configs/local.yaml", "--no-progress",
        "--date", "2026-03-01", "--set", f"source.path={data}/*.parquet",
        "--set", f"output.predictions={tmp_path}/out/predictions", "--set", f"output.dead_letters={tmp_path}/out/dead",
        "--set", "job.max_dead_letter_fraction=1", *FAST, *flags,
    ]  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "wrong"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == status, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    if status:
        lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("local endpoint:")]
        assert said in result.stderr and len(lines) <= 3, result.stderr  # the verdict, what is wrong, a hint
        assert not (tmp_path / "out" / "predictions").exists(), "a failed run publishes nothing"
        return
    dead = pq.read_table(tmp_path / "out" / "dead")
    assert dict(zip(dead.column("id").to_pylist(), dead.column("error_class").to_pylist(), strict=True)) == dead_letters
    assert pq.read_table(tmp_path / "out" / "predictions").num_rows == 300 - len(dead_letters)
