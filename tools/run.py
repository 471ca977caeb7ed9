"""`make run`: the whole system on one machine.

Starts an embedded PostgreSQL and NATS (unless DATABASE_URL / NATS_URL are set), migrates,
seeds, starts the three services and the HTTP edge (the invitees' registration links and
one-click unsubscribe) as child processes, says where each listens, and on Ctrl-C stops them
(SIGTERM, so each shuts down gracefully) and then the embedded servers. The children run in
sessions of their own so that the terminal's SIGINT does not reach them all at once. Data stays
in .data/ for the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.migrations import apply_all
from tools import devdata, stack
from tools.seed import seed_all

SERVICES = {
    "catalog": int(os.environ.get("CATALOG_PORT", "50051")),
    "personalizer": int(os.environ.get("PERSONALIZER_PORT", "50052")),
    "dispatcher": int(os.environ.get("DISPATCHER_PORT", "50053")),
}
EDGE_PORT = int(os.environ.get("EDGE_PORT", "8080"))
EDGE_URL = f"http://127.0.0.1:{EDGE_PORT}"


def _say(text: str) -> None:
    print(f"[trainvite] {text}", flush=True)


def service_environment(
    database_url: str, nats_url: str, key_file: str
) -> dict[str, dict[str, str]]:
    """Per service, the environment it runs with."""
    common = {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "JWT_SECRET_FILE": key_file,
        "GRPC_HOST": os.environ.get("GRPC_HOST", "127.0.0.1"),
    }
    return {
        "catalog": {**common, "GRPC_PORT": str(SERVICES["catalog"])},
        "personalizer": {
            **common,
            "GRPC_PORT": str(SERVICES["personalizer"]),
            "CATALOG_ADDRESS": f"127.0.0.1:{SERVICES['catalog']}",
            # Registration links are signed with a key derived from the token key, which the
            # edge derives the same way (LINK_SIGNING_KEYS unset on both).
            "REGISTRATION_BASE_URL": EDGE_URL,
        },
        "dispatcher": {
            **common,
            "GRPC_PORT": str(SERVICES["dispatcher"]),
            "OUTBOX_DIR": str(devdata.DATA_DIR / "outbox"),
            "UNSUBSCRIBE_BASE_URL": f"{EDGE_URL}/unsubscribe",
        },
    }


def edge_environment(key_file: str, nats_url: str, zoom_secret: str) -> dict[str, str]:
    """The HTTP edge's environment: the services it calls, the key its tokens and the links'
    keys come from, the stream webinar webhooks go to and the Zoom app's secret token."""
    return {
        "JWT_SECRET_FILE": key_file,
        "NATS_URL": nats_url,
        "ZOOM_WEBHOOK_SECRET_TOKEN": zoom_secret,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(EDGE_PORT),
        "CATALOG_ADDRESS": f"127.0.0.1:{SERVICES['catalog']}",
        "DISPATCHER_ADDRESS": f"127.0.0.1:{SERVICES['dispatcher']}",
    }


def _wait_until_serving(
    name: str, address: str, child: subprocess.Popen[bytes], seconds: float = 60
) -> None:
    """Block until the service's health check answers SERVING."""
    deadline = time.monotonic() + seconds
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise SystemExit(f"{name} exited with {child.returncode}; see its log")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass  # not listening yet
            time.sleep(0.2)
    raise SystemExit(f"{name} did not report SERVING within {seconds:.0f} s")


def _wait_until_healthy(
    name: str, url: str, child: subprocess.Popen[bytes], seconds: float = 60
) -> None:
    """Block until `url` answers 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{name} exited with {child.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:  # noqa: S310 - our own http URL
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        time.sleep(0.2)
    raise SystemExit(f"{name} did not answer {url} within {seconds:.0f} s")


def _start(name: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        # Out of the terminal's process group: Ctrl-C reaches only this process, which
        # stops the services (SIGTERM, a graceful drain) before NATS and PostgreSQL.
        start_new_session=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--migrate-only", action="store_true", help="migrate and seed, then exit")
    args = parser.parse_args()

    devdata.DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = devdata.development_key()
    handles: list[object] = []

    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        _say("PostgreSQL: DATABASE_URL")
    else:
        admin_url, server = stack.postgres(devdata.DATA_DIR / "postgres")
        handles.append(server)
        database_url = stack.create_database(admin_url, "trainvite")
        _say(f"PostgreSQL (embedded): {database_url}")

    nats_server = None
    nats_url = os.environ.get("NATS_URL")
    if nats_url:
        _say("NATS: NATS_URL")
    else:
        nats_server = stack.nats(devdata.DATA_DIR / "nats")
        nats_url = nats_server.url
        _say(f"NATS JetStream (embedded): {nats_url}")

    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        apply_all(database_url)
        asyncio.run(seed_all(database_url))
        _say("migrated and seeded")
        if args.migrate_only:
            return 0

        logs = devdata.DATA_DIR / "logs"
        logs.mkdir(exist_ok=True)
        for name, env in service_environment(database_url, nats_url, str(key_file)).items():
            children[name] = _start(name, env, logs)
        children["edge"] = _start(
            "edge", edge_environment(str(key_file), nats_url, devdata.zoom_webhook_secret()), logs
        )
        for name, port in SERVICES.items():
            _wait_until_serving(name, f"127.0.0.1:{port}", children[name])
        _wait_until_healthy("edge", f"{EDGE_URL}/healthz", children["edge"])
        devdata.write_endpoints(
            {**{n: f"127.0.0.1:{p}" for n, p in SERVICES.items()}, "edge": EDGE_URL}
        )
        for name, port in SERVICES.items():
            _say(f"{name:<13} grpc 127.0.0.1:{port}   log {logs / (name + '.log')}")
        _say(f"{'edge':<13} http {EDGE_URL}   log {logs / 'edge.log'}")
        _say("make demo (in another terminal) plays the chat flow; Ctrl-C stops everything")

        stop = False

        def _stop(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        while not stop:
            for name, child in children.items():
                if child.poll() is not None:
                    _say(f"{name} exited with {child.returncode}; see its log. Stopping.")
                    stop = True
            time.sleep(0.2)
        return 0
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in children.items():
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
            _say(f"{name} stopped")
        devdata.ENDPOINTS_FILE.unlink(missing_ok=True)
        if nats_server is not None:
            nats_server.stop()
        _say("stopped; data kept in .data/")


if __name__ == "__main__":
    sys.exit(main())
