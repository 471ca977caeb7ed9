"""Call one RPC of the running services with a JSON request, as a CSM (or another caller).

make call RPC=GetTrainingGaps DATA='{"name": "customers/cloudtech/training-gaps"}'
make call RPC=PersonalizerService/ListInvitationBatches DATA='{"parent": "customers/cloudtech"}'
make call RPC=ListTrainingSessions EDITOR=casey@trainvite.dev
make call LIST=1                                   every RPC it can call

The request and the answer are protobuf JSON (lowerCamelCase field names; a field mask is one
string, "content.textBody"). The token is made as `make token` makes it, and the address is the
one `make run` wrote down, so nothing but this repository's environment is needed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import grpc
from google.protobuf import descriptor, json_format, message_factory
from trainvite.catalog.v1 import catalog_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2
from trainvite.personalizer.v1 import personalizer_pb2

from services.common.auth import issue_token
from tools import devdata
from tools.token import add_caller_arguments, caller, signing_key

# Each service's contract, by the name `make run` gives its address.
_SERVICES = {
    "catalog": catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
    "personalizer": personalizer_pb2.DESCRIPTOR.services_by_name["PersonalizerService"],
    "dispatcher": dispatcher_pb2.DESCRIPTOR.services_by_name["DispatcherService"],
}


def every_rpc() -> list[str]:
    return [f"{s.name}/{m.name}" for s in _SERVICES.values() for m in s.methods]


def find(rpc: str) -> tuple[str, descriptor.MethodDescriptor]:
    """The service's key and the method, from "Method", "Service/Method" or the full name."""
    wanted = rpc.strip().strip("/").replace("/", ".").split(".")
    found = [
        (key, method)
        for key, service in _SERVICES.items()
        for method in service.methods
        if method.full_name.split(".")[-len(wanted) :] == wanted
    ]
    if len(found) != 1:
        known = "\n  ".join(every_rpc())
        problem = "is not an RPC" if not found else "names several RPCs"
        raise SystemExit(f"{rpc!r} {problem}; one of:\n  {known}")
    return found[0]


def call(rpc: str, data: str, token: str, endpoints: dict[str, str], timeout: float = 30.0) -> str:
    """The answer to one call, as protobuf JSON."""
    key, method = find(rpc)
    request_class: Any = message_factory.GetMessageClass(method.input_type)
    response_class: Any = message_factory.GetMessageClass(method.output_type)
    try:
        request = json_format.Parse(data or "{}", request_class())
    except json_format.ParseError as exc:
        raise SystemExit(f"DATA is not a {method.input_type.name} in JSON: {exc}") from exc
    with grpc.insecure_channel(endpoints[key]) as channel:
        stub: grpc.UnaryUnaryMultiCallable[Any, Any] = channel.unary_unary(
            f"/{method.containing_service.full_name}/{method.name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        response = stub(request, metadata=(("authorization", f"Bearer {token}"),), timeout=timeout)
    return json_format.MessageToJson(response, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rpc", nargs="?", help="GetTrainingGaps, PersonalizerService/...")
    parser.add_argument("data", nargs="?", default="{}", help="the request as JSON")
    parser.add_argument("--list", action="store_true", help="print every RPC and stop")
    add_caller_arguments(parser)
    args = parser.parse_args()
    if args.list or not args.rpc:
        print("\n".join(every_rpc()))
        return
    subject, kind = caller(args)
    token = issue_token(signing_key(), subject, kind)
    try:
        print(call(args.rpc, args.data, token, devdata.read_endpoints()))
    except grpc.RpcError as exc:
        print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
