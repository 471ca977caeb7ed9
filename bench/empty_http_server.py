"""The HTTP baseline: Starlette with one empty POST handler, under uvicorn as the edge runs it."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The edge's registration path, so that routing costs the same.
PATH = "/r/{token}/register"


async def _empty(request: Request) -> Response:
    return Response(b"")


def app() -> Starlette:
    return Starlette(routes=[Route(PATH, _empty, methods=["POST"])])


def serve(port: int) -> None:
    # The settings of services/edge/__main__.py, so that only the handler differs.
    config = uvicorn.Config(
        app(),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
