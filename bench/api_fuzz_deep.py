"""The deep run of the API fuzzing (not in CI): ``tests/test_api_fuzz.py`` with many more
Schemathesis examples per operation and mode (``TRADENET_FUZZ_EXAMPLES``, 50 by default here,
against 6 anonymous / 2 per role / 30 on the oracle in CI), the counts printed per identity.

    .venv/bin/python bench/api_fuzz_deep.py [--examples N] [pytest args, e.g. -k seller]"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=50, help="examples per operation and mode")
    a, rest = ap.parse_known_args(argv)
    os.environ["TRADENET_FUZZ_EXAMPLES"] = str(a.examples)
    os.chdir(ROOT)
    return pytest.main(["-q", "-s", "-p", "no:cacheprovider", "tests/test_api_fuzz.py", *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
