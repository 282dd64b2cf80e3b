"""Process-wide safety settings of a node process, applied once at its entry point."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

#: Python's recursion limit for the node. ``py_ecc`` (imported by eth-account) raises it to
#: 100,000 at import, so that a deeply nested structure no longer raises RecursionError but
#: overflows the 8 MB C stack and kills the whole process (API and indexer): a 200 KB body of
#: nested arrays did. At 4,000 every recursion, the C JSON scanner's included, fails cleanly with
#: RecursionError far below the stack's end (measured: 50,000 still fits an 8 MB stack), and it is
#: four times Python's default for our own code. Request bodies are depth-checked anyway
#: (chain.jsonsafe); this is the second wall.
SANE_RECURSION_LIMIT = 4_000


def sane_recursion_limit(limit: int = SANE_RECURSION_LIMIT) -> None:
    """Import what raises the limit first (so nothing imported later raises it again), then set it."""
    try:
        import py_ecc  # noqa: F401  (its import is what raises the limit)
    except ImportError:  # pragma: no cover - always installed with eth-account
        pass
    if sys.getrecursionlimit() != limit:
        log.debug("recursion limit %d -> %d", sys.getrecursionlimit(), limit)
        sys.setrecursionlimit(limit)
