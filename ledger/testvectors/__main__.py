"""python -m ledger.testvectors [--check] [--out DIR]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledger.testvectors import HERE, differences, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.testvectors", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the shipped files; write nothing")
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write to (default: the package)")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.out)
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        if not problems:
            print("test vectors are up to date")
        return 1 if problems else 0
    for path in generate(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
