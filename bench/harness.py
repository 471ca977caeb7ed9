"""Starting servers and driving them from the separate load process."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A Python module as a child process, its output in `log`."""
    return subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **env},
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for_port(port: int, child: subprocess.Popen[bytes], seconds: float = 120) -> None:
    """Until the child listens on the loopback port."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"server exited with {child.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not listen in time")


def write_requests(path: Path, messages: list[bytes]) -> str:
    """Serialized requests for the load process, one base64 line each."""
    path.write_text("\n".join(base64.b64encode(m).decode() for m in messages))
    return str(path)


def load(
    target: str,
    method: str,
    token: str = "",
    requests: str = "",
    concurrency: int = 32,
    seconds: float = 10.0,
    max_requests: int = 1_000_000,
    call_timeout: float = 10.0,
) -> dict[str, float]:
    """Drive one method from the separate load process; its figures."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            target,
            method,
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
            "--token",
            token,
            "--requests",
            requests,
            "--max-requests",
            str(max_requests),
            "--call-timeout",
            str(call_timeout),
        ],
        capture_output=True,
        text=True,
        timeout=seconds * 3 + call_timeout + 600,
    )
    if out.returncode != 0:
        # The load process's own traceback says why (a refused warm-up call, say).
        raise RuntimeError(f"the load on {method} failed:\n{out.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures
