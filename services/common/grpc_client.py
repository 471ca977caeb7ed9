"""Channels to other services: bearer token, a deadline on every call, UNAVAILABLE retried."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc

DEFAULT_DEADLINE_SECONDS = 5.0

_RETRY_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


class _AuthAndDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: Callable[[], str], deadline: float) -> None:
        self._token = token
        self._deadline = deadline

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        metadata = list(client_call_details.metadata or [])
        metadata.append(("authorization", f"Bearer {self._token()}"))
        timeout = client_call_details.timeout
        details = client_call_details._replace(
            metadata=metadata, timeout=self._deadline if timeout is None else timeout
        )
        return await continuation(details, request)


def create_channel(
    target: str, token: Callable[[], str], deadline: float = DEFAULT_DEADLINE_SECONDS
) -> grpc.aio.Channel:
    """An insecure channel (TLS is the mesh's job) that authenticates and bounds every call."""
    return grpc.aio.insecure_channel(
        target,
        options=[("grpc.service_config", _RETRY_CONFIG), ("grpc.enable_retries", 1)],
        interceptors=[_AuthAndDeadline(token, deadline)],
    )
