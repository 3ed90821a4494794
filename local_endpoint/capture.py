"""Data capture in the shape SageMaker writes it, so per-record InferenceIds can be joined."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import uuid
from typing import IO

from local_endpoint.models import CSV, JSON, JSONLINES, media_type


def _encode(body: bytes, content_type: str | None) -> tuple[str, str]:
    kind = media_type(content_type)
    if kind == CSV:
        return body.decode("utf-8", "replace"), "CSV"
    if kind in (JSON, JSONLINES):
        return body.decode("utf-8", "replace"), "JSON"
    return base64.b64encode(body).decode(), "BASE64"


def capture_record(
    request_body: bytes,
    request_type: str | None,
    response_body: bytes,
    response_type: str | None,
    inference_id: str | None,
    when: dt.datetime,
) -> dict[str, object]:
    in_data, in_enc = _encode(request_body, request_type)
    out_data, out_enc = _encode(response_body, response_type)
    metadata: dict[str, str] = {
        "eventId": str(uuid.uuid4()),
        "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
    }
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": request_type,
                "mode": "INPUT",
                "data": in_data,
                "encoding": in_enc,
            },
            "endpointOutput": {
                "observedContentType": response_type,
                "mode": "OUTPUT",
                "data": out_data,
                "encoding": out_enc,
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


class CaptureWriter:
    """Appends JSON Lines under ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``."""

    def __init__(self, destination: str, endpoint: str) -> None:
        self.destination = destination
        self.endpoint = endpoint
        self._files: dict[str, IO[str]] = {}

    def write(self, variant: str, record: dict[str, object], when: dt.datetime) -> None:
        folder = os.path.join(self.destination, self.endpoint, variant, when.strftime("%Y/%m/%d/%H"))
        fh = self._files.get(folder)
        if fh is None:
            os.makedirs(folder, exist_ok=True)
            fh = open(os.path.join(folder, f"capture-{uuid.uuid4().hex[:8]}.jsonl"), "a", encoding="utf-8")  # noqa: SIM115
            self._files[folder] = fh
        fh.write(json.dumps(record) + "\n")
        fh.flush()

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()
