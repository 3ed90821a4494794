"""Checks against the real input before a pipeline is built."""

import pytest

from pipelines.config import ConfigError, load_job_config
from pipelines.preflight import output_schemas
from tests.unit.pipelines.job_files import BASE, write


def test_nested_feature_columns_need_a_json_serializer(tmp_path):
    import pyarrow as pa

    schema = pa.schema([("id", pa.int64()), ("a", pa.float64()), ("b", pa.list_(pa.float64()))])
    with pytest.raises(ConfigError) as info:
        output_schemas(load_job_config(write(tmp_path, BASE)), schema, ["id"])
    assert "invoke.feature_columns" in info.value.problems[0] and "b (list<item: double>)" in info.value.problems[0]
    as_json = BASE.replace("passthrough_columns: [id]", "passthrough_columns: [id], serializer: json")
    assert output_schemas(load_job_config(write(tmp_path, as_json)), schema, ["id"]).needed
