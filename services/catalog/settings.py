"""The catalog's settings."""

from __future__ import annotations

from services.common.settings import CommonSettings


class CatalogSettings(CommonSettings):
    grpc_port: int = 50051
