"""The edge's settings. It holds no database and no NATS: only the services it calls and keys."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.registration_links import LinkKeys, link_keys


class EdgeSettings(BaseSettings):
    """Environment variable names are the field names upper-cased."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # host:port of the catalog and the dispatcher, and the deadline of each call, in seconds.
    catalog_address: str = "127.0.0.1:50051"
    dispatcher_address: str = "127.0.0.1:50053"
    call_deadline_seconds: float = 5.0
    # The services' token key (the edge signs its own service token with it).
    jwt_secret: SecretStr | None = None
    jwt_secret_file: Path | None = None
    # Keys that verify registration links, "k2:secret2,k1:secret1": the personalizer's setting.
    # Unset, the one both derive from the token key.
    link_signing_keys: SecretStr | None = Field(default=None)
    log_level: str = "INFO"
    # Seconds open requests get to finish after SIGTERM.
    shutdown_grace_seconds: float = 10.0

    @model_validator(mode="after")
    def _needs_a_key(self) -> EdgeSettings:
        if self.jwt_secret is None and self.jwt_secret_file is None:
            raise ValueError("set JWT_SECRET or JWT_SECRET_FILE")
        return self

    def signing_key(self) -> str:
        """The token key, read from JWT_SECRET or from the file JWT_SECRET_FILE names."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        assert self.jwt_secret_file is not None
        return self.jwt_secret_file.read_text().strip()

    def link_keys(self) -> LinkKeys:
        configured = self.link_signing_keys
        return link_keys(configured.get_secret_value() if configured else None, self.signing_key())
