"""Where the clients send: the endpoint URL as boto3 resolves it (regions, FIPS, an explicit endpoint_url)."""

import pytest

from transforms.core.settings import EndpointSettings
from transforms.invoke.client import StaticCredentials, make_client

KEYS = StaticCredentials("a", "b")


@pytest.mark.parametrize(
    ("settings", "fips", "url"),
    [
        ({"region": "eu-west-1"}, False, "https://runtime.sagemaker.eu-west-1.amazonaws.com"),
        ({"region": "us-east-1"}, True, "https://runtime-fips.sagemaker.us-east-1.amazonaws.com"),
        ({"endpoint_url": "http://127.0.0.1:8080"}, False, "http://127.0.0.1:8080"),
    ],
)
def test_the_direct_client_sends_where_boto3_would(monkeypatch, settings, fips, url):
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true" if fips else "false")
    endpoint = EndpointSettings(name="e", **settings)
    boto3_client = make_client(endpoint, 2, KEYS, "boto3")
    assert boto3_client.endpoint_url == url
    assert make_client(endpoint, 2, KEYS).endpoint_url == url


def test_a_static_secret_is_not_in_the_repr():
    assert "s3cr3t" not in repr(StaticCredentials("key", "s3cr3t"))
