"""The AWS SDK for JavaScript v3 (InvokeEndpointCommand), unmodified, against the local endpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require

pytestmark = pytest.mark.integration
JS = Path(__file__).resolve().parents[1] / "js"


def test_aws_sdk_for_javascript_v3_cannot_tell_the_difference(default_endpoint):
    require(shutil.which("node") is not None, "node")
    require((JS / "node_modules" / "@aws-sdk" / "client-sagemaker-runtime").exists(), "the JS SDK (make js-sdk)")
    result = subprocess.run(
        ["node", str(JS / "invoke.mjs"), default_endpoint.url], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    ok = seen["ok"]
    assert len(ok["body"].split()) == 2 and ok["contentType"] == "text/csv"
    assert ok["variant"] == "variant-a" and ok["customAttributes"].startswith("trace-instance")
    assert ok["requestId"]
    assert seen["unknownEndpoint"]["error"] == "ValidationError" and seen["unknownEndpoint"]["status"] == 400
    model = seen["modelError"]
    assert (model["error"], model["status"], model["originalStatusCode"]) == ("ModelError", 424, 415)
    assert model["logStreamArn"].startswith("arn:aws:logs:")
    assert seen["wrongSecret"] == {"error": "InvalidSignatureException", "status": 403}
