"""Web identity federation: the worker's token goes to STS for the configured role; nothing else is sent."""

import datetime as dt

import botocore.session
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from transforms.core.settings import EndpointSettings, WebIdentity
from transforms.invoke.credentials import web_identity_session


def test_assume_role_with_the_workers_token_and_use_the_temporary_credentials():
    sts = botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", aws_access_key_id="unused", aws_secret_access_key="unused"
    )
    identity = WebIdentity(role_arn="arn:aws:iam::123456789012:role/scoring", session_name="nightly")
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role_with_web_identity",
            {
                "Credentials": {
                    "AccessKeyId": "ASIATEMPORARYKEY01",
                    "SecretAccessKey": "s",
                    "SessionToken": "t",
                    "Expiration": expires,
                }
            },
            {
                "RoleArn": "arn:aws:iam::123456789012:role/scoring",
                "RoleSessionName": "nightly",
                "WebIdentityToken": "google-id-token",
                "DurationSeconds": 3600,
            },
        )
        tokens = []

        def loader() -> str:
            tokens.append(1)
            return "google-id-token"

        session = web_identity_session(identity, "eu-west-1", loader, client_creator=lambda *a, **k: sts)
        frozen = session.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.token) == ("ASIATEMPORARYKEY01", "t")
    assert tokens == [1] and session.region_name == "eu-west-1"


def test_role_arn_is_checked_at_config_time():
    with pytest.raises(ValidationError, match="role_arn"):
        EndpointSettings(name="e", web_identity={"role_arn": "not-an-arn"})
