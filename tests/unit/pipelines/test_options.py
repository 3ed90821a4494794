"""Pipeline options: local runners that download nothing, streaming defaults for Flink."""

import pytest

from pipelines.config import ConfigError, load_job_config
from pipelines.options import pipeline_options, request_budget
from tests.unit.pipelines.job_files import BASE, write


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], (10_000, True)),  # commits need checkpoints; outputs must exist before their offsets commit
        (["--checkpointing_interval=2000", "--finish_bundle_before_checkpointing=false"], (2000, False)),
    ],
)
def test_flink_streaming_gets_checkpoint_defaults_unless_set(flags, expected):
    from pipelines.options import FlinkCheckpointOptions, pipeline_options

    options = pipeline_options(["--runner=FlinkRunner", *flags], streaming=True).view_as(FlinkCheckpointOptions)
    assert (options.checkpointing_interval, options.finish_bundle_before_checkpointing) == expected


def test_flink_batch_is_left_as_given():
    from pipelines.options import FlinkCheckpointOptions, pipeline_options

    options = pipeline_options(["--runner=FlinkRunner"]).view_as(FlinkCheckpointOptions)
    assert (options.checkpointing_interval, options.finish_bundle_before_checkpointing) == (None, None)


@pytest.mark.parametrize(
    ("flags", "processes"),
    [
        ([], 1),
        (["--direct_num_workers=4", "--direct_running_mode=multi_processing"], 4),
        (["--direct_num_workers=4"], 1),  # threads of one process share one budget
        (["--runner=FlinkRunner", "--parallelism=6", "--environment_type=PROCESS"], 6),
        (["--runner=FlinkRunner", "--parallelism=6", "--environment_type=LOOPBACK"], 1),
        (["--runner=FlinkRunner", "--environment_type=PROCESS"], None),
        (["--runner=DataflowRunner", "--max_num_workers=10", "--machine_type=n2-standard-4"], 40),
        (["--runner=DataflowRunner", "--num_workers=3", "--machine_type=custom-8-32768"], 24),
        (["--runner=DataflowRunner", "--max_num_workers=10", "--experiments=no_use_multiple_sdk_containers"], 10),
        (["--runner=DataflowRunner", "--max_num_workers=10"], None),
    ],
)
def test_worker_processes_that_share_the_request_budget(flags, processes):
    from pipelines.options import worker_processes

    assert worker_processes(pipeline_options(flags)) == processes


def test_each_process_gets_its_share_of_the_request_budget_or_the_key_to_set_is_named(tmp_path):
    from pipelines.options import pipeline_options

    capped = BASE.replace("passthrough_columns: [id]", "passthrough_columns: [id], max_requests_per_second: 100")
    config = load_job_config(write(tmp_path, capped))
    assert request_budget(config, pipeline_options([])) == 100
    flink = ["--runner=FlinkRunner", "--parallelism=4", "--environment_type=PROCESS"]
    assert request_budget(config, pipeline_options(flink)) == 25
    with pytest.raises(ConfigError, match=r"invoke\.worker_processes"):
        request_budget(config, pipeline_options(["--runner=DataflowRunner"]))
    stated = capped.replace("max_requests_per_second: 100", "max_requests_per_second: 100, worker_processes: 8")
    assert (
        request_budget(load_job_config(write(tmp_path, stated)), pipeline_options(["--runner=DataflowRunner"])) == 12.5
    )
    assert request_budget(load_job_config(write(tmp_path, BASE)), pipeline_options([])) is None


@pytest.mark.parametrize(
    ("flags", "shared"),
    [
        ([], True),
        (["--runner=FlinkRunner", "--flink_master=[local]"], True),
        (["--runner=FlinkRunner", "--flink_master=localhost:8081"], True),
        (["--runner=FlinkRunner", "--flink_master=flink.internal:8081"], False),
        (["--runner=DataflowRunner"], False),
    ],
)
def test_which_runners_write_where_this_machine_reads(flags, shared):
    from pipelines.options import shares_local_files

    assert shares_local_files(pipeline_options(flags)) is shared


@pytest.mark.parametrize("flags", [[], ["--experiments=prism_disable_sdf_split"], ["--experiments=other"]])
def test_prism_never_splits_a_bundle_and_keeps_other_experiments(flags, tmp_path, monkeypatch):
    from apache_beam.options.pipeline_options import DebugOptions

    prism = tmp_path / "prism"
    prism.touch()
    monkeypatch.setenv("SMSCORE_PRISM", str(prism))
    experiments = pipeline_options(flags, streaming=True).view_as(DebugOptions).experiments
    assert experiments.count("prism_disable_sdf_split") == 1
    assert ("other" in experiments) == (flags == ["--experiments=other"])
