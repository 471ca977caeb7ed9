"""The bearer token a trainvite process presents when it calls another service."""

from __future__ import annotations

import datetime as dt

from services.common.auth import CallerKind, issue_token
from services.common.clock import utc_now


class ServiceToken:
    """A token for `subject` as `kind`, renewed well before it expires: a channel calls it for
    every request, so it must be cheap and never hand out one about to lapse."""

    def __init__(
        self,
        key: str,
        subject: str,
        kind: CallerKind = CallerKind.SERVICE,
        ttl: dt.timedelta = dt.timedelta(hours=1),
    ) -> None:
        self._key = key
        self._subject = subject
        self._kind = kind
        self._ttl = ttl
        self._token = ""
        self._renew_at = dt.datetime.min.replace(tzinfo=dt.UTC)

    def __call__(self) -> str:
        now = utc_now()
        if now >= self._renew_at:
            self._token = issue_token(self._key, self._subject, self._kind, self._ttl)
            self._renew_at = now + self._ttl / 2
        return self._token
