"""`make bench`: run every benchmark (or those named: `python -m bench catalog`).

`python -m bench load [--seconds N] [--concurrency N]` (`make load`) runs the gateway's mix for
minutes instead; it is not part of the default list.
"""

from __future__ import annotations

import sys

from bench import (
    catalog_bench,
    dispatcher_bench,
    edge_bench,
    gateway_load,
    personalizer_bench,
    tracking_bench,
)

BENCHMARKS = {
    "catalog": catalog_bench.main,
    "personalizer": personalizer_bench.main,
    "dispatcher": dispatcher_bench.main,
    "tracking": tracking_bench.main,
    "edge": edge_bench.main,
}


def main() -> None:
    if sys.argv[1:2] == ["load"]:
        gateway_load.main(sys.argv[2:])
        return
    names = sys.argv[1:] or list(BENCHMARKS)
    for name in names:
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()
