"""Pipeline options: local runners that download nothing, streaming defaults for Flink."""

import pytest


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
