"""Output rows as Kafka messages: key, JSON value, id and variant headers."""

import json

import pyarrow as pa

from transforms.codecs.kafka_messages import encode_rows


def test_output_messages_keep_the_key_and_carry_id_and_variant_headers():
    table = pa.table(
        {
            "kafka_key": pa.array([b"k1", None]),
            "kafka_offset": [4, 5],
            "inference_id": ["id-4", "id-5"],
            "invoked_variant": ["variant-a", None],
            "payload": pa.array([b"\xff\xfe", b"ok"]),
        }
    )
    out = encode_rows(table)
    assert list(out.keys) == [b"k1", None]
    assert out.headers[0] == [("inference_id", b"id-4"), ("invoked_variant", b"variant-a")]
    assert out.headers[1] == [("inference_id", b"id-5")]
    every_variant = encode_rows(table.set_column(3, "invoked_variant", pa.array(["variant-a", "variant-b"])))
    assert list(every_variant.headers) == [  # lists: confluent-kafka refuses tuples
        [("inference_id", b"id-4"), ("invoked_variant", b"variant-a")],
        [("inference_id", b"id-5"), ("invoked_variant", b"variant-b")],
    ]
    body = json.loads(out.values[0])
    assert body["kafka_offset"] == 4 and "kafka_key" not in body
    assert body["payload"] == {"base64": "//4="} and json.loads(out.values[1])["payload"] == "ok"
