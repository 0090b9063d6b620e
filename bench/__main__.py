"""`make bench`: run every `bench/*.py` module that defines `main()`, one line per figure."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )
    if not names:
        print(
            "bench: no benchmarks yet (startrun, reads, probes and live arrive with their issues)"
        )
        return 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
