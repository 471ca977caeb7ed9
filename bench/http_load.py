"""The HTTP load process: POSTs to many paths from concurrent tasks, prints JSON figures.

    python -m bench.http_load BASE_URL --paths FILE --seconds 10 --concurrency 32 [--cycle]

Each path of the file (one a line) is POSTed at most once, so that every request registers a
different person; it stops when the time is up or the paths run out (with --cycle, only when the
time is up). One keep-alive HTTP/1.1 connection per task, as many browsers behind a proxy hold.

The client is a few lines over asyncio streams (`--client raw`, the default) rather than httpx
(`--client httpx`): on two cores httpx spends several times the server's own time per request,
so against an empty handler it would measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvloop

Post = Callable[[str], Awaitable[int]]
# A request that got no answer: counted, and the connection is opened again.
FAILURES = (OSError, ValueError, TimeoutError, EOFError, httpx.HTTPError)


class RawConnection:
    """One keep-alive HTTP/1.1 connection that POSTs empty bodies and reads whole answers."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            if "content-length" not in headers:
                raise ValueError("an answer without Content-Length")
            await reader.readexactly(int(headers["content-length"]))
        except BaseException:
            await self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()


async def run(args: argparse.Namespace) -> dict[str, float]:
    paths = [p for p in Path(args.paths).read_text().splitlines() if p.strip()]  # noqa: ASYNC240
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures = 0
    url = urlsplit(args.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=args.base_url, limits=limits, timeout=60) as client:

        async def httpx_post(path: str) -> int:
            return (await client.post(path)).status_code

        connections = [RawConnection(host, port) for _ in range(args.concurrency)]
        posts: list[Post] = (
            [httpx_post] * args.concurrency
            if args.client == "httpx"
            else [c.post for c in connections]
        )
        # Connect and warm up on a path nobody uses: a 404 registers nobody.
        await asyncio.gather(*(post("/warm-up") for post in posts))
        queue: Iterator[str] = itertools.cycle(paths) if args.cycle else iter(paths)
        deadline = time.perf_counter() + args.seconds

        async def worker(post: Post) -> None:
            nonlocal failures
            for path in queue:
                if time.perf_counter() >= deadline:
                    return
                started = time.perf_counter()
                try:
                    status = await asyncio.wait_for(post(path), 60)
                except FAILURES:
                    failures += 1
                    continue
                statuses[status] += 1
                if 200 <= status < 300:
                    latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker(post) for post in posts))
        elapsed = time.perf_counter() - started
        for c in connections:
            await c.close()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    attempted = failures + sum(statuses.values())
    return {
        "requests": len(latencies),
        "errors": attempted - len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "seconds": elapsed,
        "exhausted": float(not args.cycle and attempted >= len(paths)),
        **{f"status_{s}": float(n) for s, n in statuses.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("--paths", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--cycle", action="store_true", help="POST the paths again and again")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    print(json.dumps(uvloop.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
