"""The load process: calls one gRPC method from many concurrent tasks, prints JSON figures.

    python -m bench.load TARGET METHOD --seconds 10 --concurrency 32 --token T --requests FILE

Requests are serialized protobuf messages (one per line, base64) cycled through, or an empty
body. Bounded in time and count; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import time
from pathlib import Path

import grpc
import uvloop


async def run(args: argparse.Namespace) -> dict[str, float]:
    bodies = [b""]
    if args.requests:
        lines = Path(args.requests).read_text().splitlines()  # noqa: ASYNC240 - before the clock
        bodies = [base64.b64decode(line) for line in lines if line.strip()]
    metadata = (("authorization", f"Bearer {args.token}"),) if args.token else None
    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(args.target) as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(args.method)
        await call(bodies[0], metadata=metadata, timeout=args.call_timeout)  # connect, warm up
        deadline = time.perf_counter() + args.seconds

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline and len(latencies) < args.max_requests:
                body = bodies[i % len(bodies)]
                i += args.concurrency
                started = time.perf_counter()
                try:
                    await call(body, metadata=metadata, timeout=args.call_timeout)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("method")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--token", default="")
    parser.add_argument("--requests", default="")
    # A call's deadline: seconds for a read, minutes for a 10,000-recipient draft.
    parser.add_argument("--call-timeout", type=float, default=10)
    print(json.dumps(uvloop.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
