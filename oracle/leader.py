"""Who submits a report, and when: a deterministic rotation per digest with a fallback timeout.

All operators order the on-chain operator set the same way (by address) and start the rotation at
``int(digest) mod n``, so each report has one leader and the load spreads over operators. The
operator at position p in the rotation may submit ``p * timeout`` seconds after it saw the quorum:
if the leader is down or slow, the next one takes over, and so on. Everyone checks ``isConfirmed``
before submitting, and a submission reverting because the event is already confirmed counts as
success, so a late fallback never double-confirms.
"""

from __future__ import annotations

from typing import Sequence


def rotation(digest: str, operators: Sequence[str]) -> list[str]:
    ops = sorted({o.lower(): o for o in operators}.values(), key=str.lower)
    if not ops:
        return []
    start = int(digest, 16) % len(ops)
    return ops[start:] + ops[:start]


def turn_delay(digest: str, operators: Sequence[str], me: str, timeout: float) -> float | None:
    """Seconds after the quorum at which `me` may submit; None if `me` is not an operator."""
    rot = [o.lower() for o in rotation(digest, operators)]
    if me.lower() not in rot:
        return None
    return rot.index(me.lower()) * timeout
