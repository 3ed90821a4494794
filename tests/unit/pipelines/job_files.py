"""A minimal Parquet job config, written where a test wants it."""

import textwrap

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
