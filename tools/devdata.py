"""Where `make run` keeps its state, and how other tools find it."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TRAINVITE_DATA_DIR", ROOT / ".data"))
KEY_FILE = DATA_DIR / "dev-jwt-secret"
ZOOM_SECRET_FILE = DATA_DIR / "dev-zoom-webhook-secret"
ENDPOINTS_FILE = DATA_DIR / "endpoints.json"


def development_key() -> Path:
    """The development signing key file, created on first use (mode 600)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not KEY_FILE.exists():
        KEY_FILE.write_text(secrets.token_urlsafe(48))
        KEY_FILE.chmod(0o600)
    return KEY_FILE


def zoom_webhook_secret() -> str:
    """The development Zoom app's secret token, created on first use (mode 600): the edge
    verifies webhooks with it and `make demo` signs the ones it plays."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not ZOOM_SECRET_FILE.exists():
        ZOOM_SECRET_FILE.write_text(secrets.token_urlsafe(24))
        ZOOM_SECRET_FILE.chmod(0o600)
    return ZOOM_SECRET_FILE.read_text().strip()


def write_endpoints(endpoints: dict[str, str]) -> None:
    ENDPOINTS_FILE.write_text(json.dumps(endpoints, indent=2))


def read_endpoints() -> dict[str, str]:
    """Addresses of the services `make run` started."""
    if not ENDPOINTS_FILE.exists():
        raise SystemExit("No running services found: start them with `make run` first.")
    endpoints: dict[str, str] = json.loads(ENDPOINTS_FILE.read_text())
    return endpoints
