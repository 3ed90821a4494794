"""A Dataflow worker's environment, for real: the sdist installed in a clean venv with exactly what setup.py
declares (and the launcher's Beam, as the SDK container has it), serving a Beam worker pool. A Parquet job and
a bounded Kafka job run on Prism with that pool as their EXTERNAL environment, so their DoFns are unpickled
and run there, not in the launching process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import apache_beam
import pyarrow.parquet as pq
import pytest

from pipelines.options import PRISM
from pipelines.sample_data import write_sample
from tests.conftest import require
from tests.integration.test_kafka import Topics, offsets_of

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def worker_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(the worker venv's site-packages, the worker pool's address)."""
    require(PRISM.exists(), "the Prism runner (.tools/bin/prism)")
    tmp = tmp_path_factory.mktemp("worker")
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp / "dist")], cwd=ROOT, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (sdist,) = (tmp / "dist").glob("*.tar.gz")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)  # no system site-packages: only what setup.py declares
    python = env_dir / "bin" / "python"
    # --no-compile: a module's bytecode then appears only when a worker imports it.
    install = [
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-compile",
        str(sdist),
        f"apache-beam=={apache_beam.__version__}",
    ]
    installed = subprocess.run(install, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-3000:]
    probe = "import importlib.util as u; print(u.find_spec('aiohttp') is None, u.find_spec('uvloop') is None)"
    found = subprocess.run([python, "-c", probe], cwd=tmp, capture_output=True, text=True).stdout.split()
    # aiohttp is the direct client's transport; the local endpoint's event loop (uvloop) is not for workers.
    assert found == ["False", "True"], found
    (site,) = (env_dir / "lib").glob("python3*/site-packages")
    port = free_port()
    pool = subprocess.Popen(
        [python, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
        cwd=tmp,  # nothing of the repository on its path: only what the sdist installed
        env=pool_env(env_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert pool.poll() is None and time.monotonic() < deadline, "the worker pool did not start"
        time.sleep(0.2)
    yield site, f"localhost:{port}"
    pool.terminate()
    pool.wait(timeout=30)


def pool_env(env_dir: Path) -> dict[str, str]:
    """The pool starts its workers as `python`: the venv's comes first on PATH. Bytecode is written (the
    proof of what a worker imported), whatever this shell says."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}"}


def on_the_worker(address: str) -> list[str]:
    return ["--runner=PrismRunner", "--environment_type=EXTERNAL", f"--environment_config={address}"]


def ran_there(site: Path, module: str) -> bool:
    """Whether the worker imported ``module`` (its bytecode exists only once imported: --no-compile)."""
    path = site / Path(*module.split("."))
    return any(path.parent.joinpath("__pycache__").glob(f"{path.name}.*.pyc"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipelines.cli", "run", "--no-progress", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_parquet_job_runs_in_the_worker_environment(worker_env, tmp_path):
    site, address = worker_env
    write_sample(str(tmp_path / "in"), rows=2_000, files=2)
    result = run(
        "--config", "configs/local.yaml",
        "--set", f"source.path={tmp_path}/in/*.parquet",
        "--set", f"output.predictions={tmp_path}/out/p",
        "--set", f"output.dead_letters={tmp_path}/out/d",
        *on_the_worker(address),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(pq.read_table(tmp_path / "out" / "p").column("id").to_pylist()) == list(range(2_000))
    for module in ("transforms.invoke.transform", "transforms.sources.parquet", "transforms.sinks.files"):
        assert ran_there(site, module), f"{module} was not imported on the worker"


@pytest.mark.kafka
def test_a_bounded_kafka_job_runs_in_the_worker_environment(worker_env, kafka_broker, tmp_path):
    site, address = worker_env
    topics = Topics(kafka_broker)
    topics.produce(400, malformed_every=100)
    report = tmp_path / "report.json"
    result = run(
        "--config", "configs/kafka-bounded.yaml", "--report", str(report),
        *topics.overrides(**{"output.report": str(tmp_path / "r.json")}),
        *on_the_worker(address),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(report.read_text())
    assert (summary["predictions_out"], summary["dead_letters_out"]) == (396, 4)
    seen = offsets_of(topics.read(topics.predictions, 396)) + offsets_of(topics.read(topics.dlq, 4))
    assert len(seen) == 400 and max(seen.values()) == 1
    assert topics.committed() == topics.ends()
    for module in ("transforms.sources.kafka_read", "transforms.sinks.kafka_produce", "transforms.sinks.commit"):
        assert ran_there(site, module), f"{module} was not imported on the worker"
