"""Arrow strings as Python bytes and newline-delimited buffers."""

import pyarrow as pa


def test_values_as_bytes_matches_to_pylist():
    from transforms.codecs.arrow_lines import values_as_bytes

    texts = pa.array(["a", "", "ünï", "x" * 100] * 3).slice(2, 7)
    assert values_as_bytes(texts) == texts.cast(pa.binary()).to_pylist()
    with_nulls = pa.array([b"a", None, b"c"])
    assert values_as_bytes(with_nulls) == [b"a", None, b"c"]
    assert values_as_bytes(pa.array([], pa.string())) == []
