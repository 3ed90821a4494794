"""AWS credentials for workers outside AWS, without secrets: web identity federation.

On Dataflow (or any GCE/GKE worker) the worker's service account can get a Google-signed ID
token from the metadata server; AWS STS ``AssumeRoleWithWebIdentity`` trades it for temporary
credentials of a role whose trust policy names that service account. botocore's own fetcher
and refreshable credentials do the exchange and refresh before expiry.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.credentials import AssumeRoleWithWebIdentityCredentialFetcher, DeferredRefreshableCredentials

from transforms.core.settings import WebIdentity

METADATA_IDENTITY = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity"


def gcp_identity_token(audience: str, timeout: float = 5.0) -> Callable[[], str]:
    """A loader of fresh Google ID tokens for ``audience`` from the GCE metadata server."""
    url = f"{METADATA_IDENTITY}?{urllib.parse.urlencode({'audience': audience, 'format': 'full'})}"

    def load() -> str:
        request = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read().decode("ascii"))

    return load


def web_identity_session(
    settings: WebIdentity,
    region: str,
    token_loader: Callable[[], str] | None = None,
    client_creator: Callable[..., Any] | None = None,
    core: botocore.session.Session | None = None,
) -> boto3.session.Session:
    """A boto3 session (on ``core``, if given) whose credentials come from AssumeRoleWithWebIdentity,
    refreshed as they expire."""
    core = core or botocore.session.get_session()
    fetcher = AssumeRoleWithWebIdentityCredentialFetcher(
        client_creator=client_creator or core.create_client,
        web_identity_token_loader=token_loader or gcp_identity_token(settings.audience),
        role_arn=settings.role_arn,
        extra_args={"RoleSessionName": settings.session_name, "DurationSeconds": settings.duration_seconds},
    )
    credentials: Any = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role-with-web-identity"
    )
    core._credentials = credentials  # botocore's documented way to hand a session its credentials
    return boto3.session.Session(botocore_session=core, region_name=region)
