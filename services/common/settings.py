"""One typed settings object per service, built once from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TokenKeySettings(BaseSettings):
    """The key that signs and checks the services' bearer tokens (HS256): every process that
    serves or calls a service reads it. Environment variable names are the field names
    upper-cased."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # Give it directly or as a file.
    jwt_secret: SecretStr | None = None
    jwt_secret_file: Path | None = None

    @model_validator(mode="after")
    def _needs_a_key(self) -> TokenKeySettings:
        if self.jwt_secret is None and self.jwt_secret_file is None:
            raise ValueError("set JWT_SECRET or JWT_SECRET_FILE")
        return self

    def signing_key(self) -> str:
        """The token key, read from JWT_SECRET or from the file JWT_SECRET_FILE names."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        assert self.jwt_secret_file is not None
        return self.jwt_secret_file.read_text().strip()


class CommonSettings(TokenKeySettings):
    """Settings every gRPC service reads."""

    database_url: str = Field(description="PostgreSQL URL, for example postgresql://u@host/db")
    nats_url: str = Field(description="NATS URL, for example nats://127.0.0.1:4222")
    # Prefix of every stream and subject, so that several environments can share one NATS.
    event_namespace: str = "trainvite"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    log_level: str = "INFO"
    # Seconds in-flight calls get to finish after SIGTERM.
    shutdown_grace_seconds: float = 10.0
    db_pool_min_size: int = 1
    db_pool_max_size: int = 10

    @property
    def listen_address(self) -> str:
        """host:port the gRPC server binds."""
        return f"{self.grpc_host}:{self.grpc_port}"
