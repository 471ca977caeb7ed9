"""`make bench`: run every benchmark (or those named: `python -m bench catalog`)."""

from __future__ import annotations

import sys

from bench import catalog_bench, dispatcher_bench, personalizer_bench

BENCHMARKS = {
    "catalog": catalog_bench.main,
    "personalizer": personalizer_bench.main,
    "dispatcher": dispatcher_bench.main,
}


def main() -> None:
    names = sys.argv[1:] or list(BENCHMARKS)
    for name in names:
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()
