"""Carriers are members: each carrier credential is bound to an on-chain account that must be an
active ``LOGISTICS`` member of the ParticipantRegistry (``registry.isActive(account, LOGISTICS)``:
a member, not suspended, not sanctioned, KYC valid, holding the role).

Checked at start (each carrier, logged) and on every use, from a short cache: an answer is reused
for ``ttl`` seconds. While the chain cannot be reached, the last answer is trusted for ``grace``
seconds after it was read; after that, or without any answer yet, the post is refused with 503
(retry later) rather than accepted on trust. An inactive member is refused with 403.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol

from .credentials import Credential
from .errors import ChainUnavailable, Forbidden, NotReady

log = logging.getLogger(__name__)


class MembershipReader(Protocol):
    def is_active_logistics(self, account: str) -> bool:
        """``registry.isActive(account, Role.LOGISTICS)``; raises ChainUnavailable."""


@dataclass(frozen=True)
class Answer:
    active: bool
    read_at: float


class MembershipCache:
    def __init__(self, reader: MembershipReader, ttl: float = 30.0, grace: float = 600.0,
                 clock: Callable[[], float] = time.monotonic):
        self.reader = reader
        self.ttl = ttl
        self.grace = grace
        self.clock = clock
        self._answers: dict[str, Answer] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def _read(self, account: str) -> Answer:
        now = self.clock()
        with self._lock:
            cached = self._answers.get(account)
        if cached is not None and now - cached.read_at < self.ttl:
            return cached
        try:
            answer = Answer(bool(self.reader.is_active_logistics(account)), now)
        except ChainUnavailable as exc:
            with self._lock:
                self._errors[account] = str(exc)[:300]
            if cached is not None and now - cached.read_at < self.grace:
                log.warning("membership of %s not re-read (%s); using the answer of %.0fs ago", account, exc,
                            now - cached.read_at)
                return cached
            raise NotReady(f"cannot check that {account} is an active LOGISTICS member: the chain is "
                           f"unreachable ({exc}); retry later") from None
        with self._lock:
            if cached is not None and cached.active != answer.active:
                log.warning("member %s is %s an active LOGISTICS member", account, "now" if answer.active else
                            "no longer")
            self._answers[account] = answer
            self._errors.pop(account, None)
        return answer

    def require_active(self, credential: Credential) -> None:
        if credential.member is None:  # FX sources are not members
            return
        if not self._read(credential.member).active:
            raise Forbidden(f"carrier {credential.source} is bound to {credential.member}, which is not an active "
                            f"LOGISTICS member of the network (not a member, suspended, sanctioned, KYC expired "
                            f"or without the role)", field="X-Tradenet-Carrier")

    def check_all(self, carriers: Iterable[Credential]) -> dict[str, bool | None]:
        """At start (and after a credential reload): read every carrier's membership, log the result."""
        out: dict[str, bool | None] = {}
        for c in carriers:
            if c.member is None:
                continue
            try:
                active = self._read(c.member).active
            except NotReady as exc:
                log.warning("carrier %s: %s", c.source, exc.detail)
                out[c.source] = None
                continue
            out[c.source] = active
            if active:
                log.info("carrier %s is bound to %s, an active LOGISTICS member", c.source, c.member)
            else:
                log.error("carrier %s is bound to %s, which is NOT an active LOGISTICS member: its posts are "
                          "refused", c.source, c.member)
        return out

    def status(self) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            return {account: {"active": a.active, "ageSeconds": round(now - a.read_at, 1),
                              "lastError": self._errors.get(account)} for account, a in self._answers.items()}
