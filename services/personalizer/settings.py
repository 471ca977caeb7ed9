"""The personalizer's settings."""

from __future__ import annotations

from services.common.settings import CommonSettings


class PersonalizerSettings(CommonSettings):
    grpc_port: int = 50052
    # host:port of the catalog service.
    catalog_address: str = "127.0.0.1:50051"
    # Deadline of each call to the catalog, in seconds.
    catalog_deadline_seconds: float = 5.0
