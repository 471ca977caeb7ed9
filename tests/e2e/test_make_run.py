"""`make run` as a person uses it: start, then Ctrl-C in the terminal.

A terminal's Ctrl-C sends SIGINT to its whole foreground process group. The test starts the
runner in a process group of its own and signals that group, as the terminal would, then reads
what the services logged: each drained and stopped cleanly, and NATS outlived them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_chat_flow import ROOT
from tests.helpers import free_port

pytestmark = pytest.mark.e2e


def _wait_for_line(process: subprocess.Popen[str], marker: str, seconds: float) -> list[str]:
    """Lines the runner printed up to and including the one containing `marker`."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"runner never printed {marker!r}; it printed:\n" + "\n".join(lines))


def test_ctrl_c_stops_the_services_before_their_servers(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")},
        "TRAINVITE_DATA_DIR": str(tmp_path / "data"),
        "CATALOG_PORT": str(free_port()),
        "PERSONALIZER_PORT": str(free_port()),
        "DISPATCHER_PORT": str(free_port()),
        "EDGE_PORT": str(free_port()),
    }
    runner = subprocess.Popen(
        [sys.executable, "-m", "tools.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,  # the terminal's foreground group, in miniature
    )
    try:
        started = _wait_for_line(runner, "Ctrl-C stops everything", 180)
        edge = f"http://127.0.0.1:{env['EDGE_PORT']}"
        assert any("edge" in line and edge in line for line in started), started
        with urllib.request.urlopen(f"{edge}/healthz", timeout=5) as health:  # noqa: S310
            assert health.status == 200 and health.read() == b"ok"
        os.killpg(runner.pid, signal.SIGINT)
        printed = _wait_for_line(runner, "stopped; data kept", 60)
        assert runner.wait(30) == 0
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()

    for name in ("catalog", "personalizer", "dispatcher", "edge"):
        assert f"{name} stopped" in "\n".join(printed)
        log = (tmp_path / "data" / "logs" / f"{name}.log").read_text()
        assert '"message": "stopped"' in log, f"{name} did not finish its shutdown:\n{log[-2000:]}"
        for sign_of_trouble in ("Traceback", "ConnectionReconnectingError", '"level": "ERROR"'):
            assert sign_of_trouble not in log, f"{name} logged {sign_of_trouble}:\n{log[-3000:]}"
