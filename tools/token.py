"""Print a bearer token for calling the services by hand (grpcurl, Postman).

make token CSM=alex.rivera@trainvite.dev          a CSM, for their own customers
make token EDITOR=casey@trainvite.dev             a catalog editor: courses and sessions
make token SERVICE=personalizer                    a service: reads the catalog
make token GATEWAY=1                               the gateway: one-click unsubscribe only
grpcurl -plaintext -H "authorization: Bearer $(make -s token CSM=...)" 127.0.0.1:50052 list
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

from services.common.auth import CallerKind, issue_token
from services.platform.seed import CSM_EMAIL
from tools import devdata


def signing_key() -> str:
    """JWT_SECRET if set, else the development key `make run` created."""
    if os.environ.get("JWT_SECRET"):
        return os.environ["JWT_SECRET"]
    return devdata.development_key().read_text().strip()


def add_caller_arguments(parser: argparse.ArgumentParser) -> None:
    """--csm / --editor / --service / --gateway: whom the token speaks for."""
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--csm", help=f"the CSM's email (default {CSM_EMAIL})")
    who.add_argument("--editor", help="a catalog editor's email instead of a CSM")
    who.add_argument("--service", help="a service's name instead of a CSM")
    who.add_argument(
        "--gateway", action="store_true", help="the gateway, for one-click unsubscribe links"
    )


def caller(args: argparse.Namespace) -> tuple[str, CallerKind]:
    """The subject and kind `add_caller_arguments` asked for."""
    if args.editor:
        return args.editor, CallerKind.CATALOG_EDITOR
    if args.service:
        return args.service, CallerKind.SERVICE
    if args.gateway:
        return "gateway", CallerKind.GATEWAY
    return args.csm or CSM_EMAIL, CallerKind.CSM


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_caller_arguments(parser)
    parser.add_argument("--hours", type=float, default=12.0, help="lifetime (default 12)")
    args = parser.parse_args()
    subject, kind = caller(args)
    print(issue_token(signing_key(), subject, kind, dt.timedelta(hours=args.hours)))


if __name__ == "__main__":
    main()
