"""Clients of Google's APIs acting as one user: a service account with domain-wide delegation
impersonates them, or one OAuth token file authorizes a single account. Gmail and Calendar are
reached the same way."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient import discovery


class GoogleApi:
    """One API (for example "gmail", "v1") with the given scopes, a client per user and thread."""

    def __init__(
        self,
        api: tuple[str, str],
        scopes: list[str],
        service_account_file: Path | None = None,
        token_file: Path | None = None,
        api_endpoint: str | None = None,
        make_http: Callable[[], httplib2.Http] = httplib2.Http,
    ) -> None:
        if (service_account_file is None) == (token_file is None):
            raise ValueError("give exactly one of a service account file or a token file")
        self._api = api
        self._scopes = scopes
        self._service_account_file = service_account_file
        self._token_file = token_file
        self._api_endpoint = api_endpoint
        self._make_http = make_http
        # httplib2.Http is not thread-safe: each worker thread has its own clients.
        self._local = threading.local()

    def credentials(self, user: str) -> Credentials:
        if self._service_account_file is not None:
            base = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(self._service_account_file), scopes=self._scopes
            )
            delegated: Credentials = base.with_subject(user)
            return delegated
        assert self._token_file is not None
        token: Credentials = user_credentials.Credentials.from_authorized_user_file(  # type: ignore[no-untyped-call]
            str(self._token_file), scopes=self._scopes
        )
        return token

    def client(self, user: str) -> Any:
        """This thread's client acting as `user`, built from the discovery document bundled
        with google-api-python-client (no network to build it)."""
        clients: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        if user not in clients:
            http = google_auth_httplib2.AuthorizedHttp(
                self.credentials(user), http=self._make_http()
            )
            options = {"api_endpoint": self._api_endpoint} if self._api_endpoint else None
            name, version = self._api
            clients[user] = discovery.build(
                name,
                version,
                http=http,
                static_discovery=True,
                cache_discovery=False,
                client_options=options,
            )
        return clients[user]
