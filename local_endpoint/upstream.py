"""An upstream model container (the container contract: POST /invocations) behind a variant, over HTTP."""

from __future__ import annotations

import aiohttp

from local_endpoint.models import Invocation, ModelFailure, ModelOutput


class UpstreamContainer:
    """Forward to a real model container (``POST /invocations``), as SageMaker does."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds + 5)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def ping(self) -> bool:
        try:
            async with self._client().get(f"{self.url}/ping") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def invoke(self, inv: Invocation) -> ModelOutput:
        headers = {"Content-Type": inv.content_type, "Accept": inv.accept or "*/*"}
        optional = {
            "X-Amzn-SageMaker-Custom-Attributes": inv.custom_attributes,
            "X-Amzn-SageMaker-Inference-Id": inv.inference_id,
            "X-Amzn-SageMaker-Session-Id": inv.session_id,
            "X-Amzn-SageMaker-Enable-Explanations": inv.enable_explanations,
        }
        headers.update({k: v for k, v in optional.items() if v is not None})
        try:
            async with self._client().post(f"{self.url}/invocations", data=inv.body, headers=headers) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise ModelFailure(resp.status, body.decode("utf-8", "replace")[:1024])
                return ModelOutput(
                    body=body,
                    content_type=resp.headers.get("Content-Type", inv.accept or "application/octet-stream"),
                    custom_attributes=resp.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
                    closed_session_id=resp.headers.get("X-Amzn-SageMaker-Closed-Session-Id"),
                )
        except aiohttp.ClientError as exc:
            raise ModelFailure(502, f"Upstream container unreachable: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
