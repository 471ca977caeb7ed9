"""The personalizer's settings."""

from __future__ import annotations

import datetime as dt

from pydantic import SecretStr

from services.common.registration_links import RegistrationLinks, link_keys
from services.common.settings import CommonSettings


class PersonalizerSettings(CommonSettings):
    grpc_port: int = 50052
    # host:port of the catalog service.
    catalog_address: str = "127.0.0.1:50051"
    # Deadline of each call to the catalog, in seconds.
    catalog_deadline_seconds: float = 5.0
    # Usage windows (days) whose role benchmarks are precomputed, and how often they are.
    benchmark_windows: list[int] = [7, 30, 90]
    benchmark_refresh_seconds: float = 3600.0
    # No second training invitation to the same person within this many days.
    frequency_cap_days: int = 14
    # Training attended within this many days closes the gap on its features.
    training_counts_days: int = 180
    # Choose each invitation's angle among those that fit by how the recipient's role answered
    # (Thompson sampling, the rules as the prior); off: the rules alone.
    angle_learning: bool = True
    # The share of those choices made uniformly among the angles that fit.
    angle_exploration: float = 0.05
    # A CSM's own templates render in this many worker processes, each field within these
    # bounds: a render past its time is killed with its worker, larger output is refused.
    template_workers: int = 2
    template_timeout_seconds: float = 2.0
    template_max_output_bytes: int = 200 * 1024
    # Address space a worker may add to what it holds at start.
    template_memory_bytes: int = 128 * 1024 * 1024
    # Longest range() in a template, and loop steps in one render, all loops together.
    template_max_range: int = 1_000
    template_max_loop_steps: int = 10_000
    # Largest HTML body a CSM may store by editing a draft.
    max_html_body_bytes: int = 200 * 1024
    # Each invitation's "Register" link is {registration_base_url}/r/{signed token}: the HTTP
    # edge's page. Keys as "k2:secret2,k1:secret1" (the first signs, the edge verifies with any;
    # the same setting on both); unset, one key is derived from the token key (JWT_SECRET).
    registration_base_url: str = "http://127.0.0.1:8080"
    link_signing_keys: SecretStr | None = None
    # A link works until this many days after its session ends.
    registration_link_days_after_end: int = 30

    def registration_links(self) -> RegistrationLinks:
        """What signs the registration links, from these settings."""
        configured = self.link_signing_keys
        return RegistrationLinks(
            self.registration_base_url,
            link_keys(configured.get_secret_value() if configured else None, self.signing_key()),
            dt.timedelta(days=self.registration_link_days_after_end),
        )
