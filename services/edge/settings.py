"""The edge's settings. It holds no database and no NATS: only the services it calls and keys."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.common.registration_links import LinkKeys, link_keys
from services.common.settings import TokenKeySettings


class EdgeSettings(TokenKeySettings):
    """The services' token key (the edge signs its own service token with it), where they
    listen, and the keys of the registration links."""

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # host:port of the catalog and the dispatcher, and the deadline of each call, in seconds.
    catalog_address: str = "127.0.0.1:50051"
    dispatcher_address: str = "127.0.0.1:50053"
    call_deadline_seconds: float = 5.0
    # Keys that verify registration links, "k2:secret2,k1:secret1": the personalizer's setting.
    # Unset, the one both derive from the token key.
    link_signing_keys: SecretStr | None = Field(default=None)
    log_level: str = "INFO"
    # Seconds open requests get to finish after SIGTERM.
    shutdown_grace_seconds: float = 10.0

    def link_keys(self) -> LinkKeys:
        configured = self.link_signing_keys
        return link_keys(configured.get_secret_value() if configured else None, self.signing_key())
