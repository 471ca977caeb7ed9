"""The edge's settings. It holds no database: the services it calls, its keys, and the NATS it
publishes the webinar tools' webhooks to when they are on."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

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
    # The Zoom app's webhook Secret Token; several, comma-separated, while one is rotated out
    # (the new one first: it answers Zoom's URL validation). Unset, /webhooks/zoom is not there.
    zoom_webhook_secret_token: SecretStr | None = Field(default=None)
    # A webhook whose x-zm-request-timestamp is further than this from our clock is refused.
    zoom_webhook_max_skew_seconds: float = 300.0
    # Where webhooks become events (needed with a secret token), the events' namespace, and how
    # long to wait for JetStream's acknowledgement (Zoom waits 3 seconds for an answer).
    nats_url: str | None = None
    event_namespace: str = "trainvite"
    publish_timeout_seconds: float = 2.0
    log_level: str = "INFO"
    # Seconds open requests get to finish after SIGTERM.
    shutdown_grace_seconds: float = 10.0

    @model_validator(mode="after")
    def _webhooks_need_nats(self) -> EdgeSettings:
        if self.zoom_secrets() and not self.nats_url:
            raise ValueError("ZOOM_WEBHOOK_SECRET_TOKEN needs NATS_URL: webhooks become events")
        return self

    def zoom_secrets(self) -> tuple[str, ...]:
        """The Zoom secret tokens, newest first; none when Zoom webhooks are off."""
        configured = self.zoom_webhook_secret_token
        if configured is None:
            return ()
        return tuple(t.strip() for t in configured.get_secret_value().split(",") if t.strip())

    def link_keys(self) -> LinkKeys:
        configured = self.link_signing_keys
        return link_keys(configured.get_secret_value() if configured else None, self.signing_key())
