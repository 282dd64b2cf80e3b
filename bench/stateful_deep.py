"""The deep run of the stateful property tests (not in CI): the `deep` Hypothesis profile
(2,000 sequences x 60 steps) of ``tests/test_stateful.py`` on a fresh anvil, with the counts
printed at the end.

    .venv/bin/python bench/stateful_deep.py [--deep | --profile NAME] [pytest args...]

``--deep`` (the default) selects the deep profile; ``--profile ci`` or ``dev`` the smaller ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    profile = "deep"
    rest = []
    it = iter(argv)
    for arg in it:
        if arg == "--deep":
            profile = "deep"
        elif arg == "--profile":
            profile = next(it)
        else:
            rest.append(arg)
    os.environ["HYPOTHESIS_PROFILE"] = profile
    os.chdir(ROOT)
    return pytest.main(["-q", "-x", "tests/test_stateful.py::test_random_sequences_keep_every_invariant", *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
