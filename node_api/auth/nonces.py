"""Single-use login nonces.

A nonce is issued to a client that wants to log in, put by the client into
its EIP-4361 message, and consumed by the server when the signed message
comes back.  :meth:`NonceStore.consume` is the one and only check: it tests
and spends the nonce atomically, so two concurrent logins with the same nonce
cannot both pass.

:class:`InMemoryNonceStore` is the single-process implementation.  A shared
(SQL) implementation must keep the same contract: ``consume`` is atomic (e.g.
``UPDATE ... SET used_at = now WHERE nonce = ? AND used_at IS NULL AND
expires_at > now`` and check the row count).
"""

from __future__ import annotations

import secrets
import string
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from .errors import NonceExpiredError, NonceReusedError, NonceUnknownError
from .rfc3339 import utc_now

__all__ = [
    "DEFAULT_NONCE_TTL",
    "NONCE_ALPHABET",
    "NONCE_LENGTH",
    "NonceStore",
    "InMemoryNonceStore",
    "generate_nonce",
]

NONCE_ALPHABET: Final = string.ascii_letters + string.digits
#: 24 characters from 62 symbols: about 143 bits of entropy (EIP-4361 asks >= 8 chars).
NONCE_LENGTH: Final = 24
DEFAULT_NONCE_TTL: Final = timedelta(minutes=10)
DEFAULT_MAX_OUTSTANDING: Final = 100_000


def generate_nonce(length: int = NONCE_LENGTH) -> str:
    """A random alphanumeric nonce from the OS CSPRNG."""
    if length < 8:
        raise ValueError("EIP-4361 nonces are at least 8 characters")
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(length))


class NonceStore(ABC):
    """Issues nonces and consumes each at most once."""

    @abstractmethod
    def issue(self) -> str:
        """Create, remember and return a fresh nonce valid for the store's TTL."""

    @abstractmethod
    def consume(self, nonce: str) -> None:
        """Spend ``nonce`` atomically.

        Returns normally exactly once per issued nonce, within its TTL.
        Raises :class:`NonceUnknownError` (never issued, or forgotten),
        :class:`NonceExpiredError` (TTL passed) or :class:`NonceReusedError`
        (already consumed).
        """


@dataclass(slots=True)
class _NonceEntry:
    expires_at: datetime
    used: bool = False


class InMemoryNonceStore(NonceStore):
    """Thread-safe in-memory :class:`NonceStore` for a single process.

    Consumed nonces are kept as tombstones until their TTL would have ended,
    so a replay is reported as :class:`NonceReusedError`; after that they are
    forgotten and a replay gets :class:`NonceUnknownError` (still refused).

    At most ``max_outstanding`` entries are held; when full, expired entries
    are purged first and then the oldest ones are dropped, so an
    unauthenticated flood of ``issue`` calls cannot exhaust memory (it can
    only push out old nonces; the API should rate-limit nonce issuance).
    """

    def __init__(
        self,
        *,
        ttl: timedelta = DEFAULT_NONCE_TTL,
        max_outstanding: int = DEFAULT_MAX_OUTSTANDING,
        clock: Callable[[], datetime] = utc_now,
        nonce_length: int = NONCE_LENGTH,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        if max_outstanding < 1:
            raise ValueError("max_outstanding must be at least 1")
        generate_nonce(nonce_length)  # validates the length
        self._ttl = ttl
        self._max = max_outstanding
        self._clock = clock
        self._length = nonce_length
        self._lock = threading.Lock()
        # Insertion order == expiry order, since every entry has the same TTL.
        self._entries: OrderedDict[str, _NonceEntry] = OrderedDict()

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def issue(self) -> str:
        nonce = generate_nonce(self._length)
        with self._lock:
            now = self._clock()
            self._purge_expired(now)
            while len(self._entries) >= self._max:
                self._entries.popitem(last=False)
            # 143 random bits: a collision is not a practical concern, but an
            # existing entry must never be reset, so regenerate if it happens.
            while nonce in self._entries:
                nonce = generate_nonce(self._length)
            self._entries[nonce] = _NonceEntry(expires_at=now + self._ttl)
        return nonce

    def consume(self, nonce: str) -> None:
        with self._lock:
            now = self._clock()
            entry = self._entries.get(nonce)
            if entry is None:
                raise NonceUnknownError("nonce", "nonce was not issued by this server")
            if entry.used:
                raise NonceReusedError("nonce", "nonce has already been used")
            if now >= entry.expires_at:
                del self._entries[nonce]
                raise NonceExpiredError("nonce", "nonce has expired; request a new one")
            entry.used = True

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _purge_expired(self, now: datetime) -> None:
        while self._entries:
            oldest_nonce, oldest = next(iter(self._entries.items()))
            if oldest.expires_at > now:
                break
            del self._entries[oldest_nonce]
