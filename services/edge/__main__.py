"""Run the HTTP edge: `python -m services.edge`."""

from __future__ import annotations

import logging

import uvicorn

from services.common.logging import configure_logging
from services.edge.bootstrap import SERVICE_NAME, build
from services.edge.settings import EdgeSettings


def main() -> None:
    settings = EdgeSettings()
    configure_logging(SERVICE_NAME, settings.log_level)
    config = uvicorn.Config(
        build(settings),
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        lifespan="on",
        # Tokens are in the paths: an access log would keep every link's token.
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        server_header=False,
    )
    log = logging.getLogger(__name__)
    log.info(
        "serving",
        extra={"service": SERVICE_NAME, "address": f"{settings.http_host}:{settings.http_port}"},
    )
    # uvicorn stops on SIGTERM or SIGINT: it stops accepting, lets open requests finish within
    # the grace period, then closes the channels (the app's lifespan, which logs "stopped").
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
