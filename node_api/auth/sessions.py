"""Login sessions: opaque bearer tokens bound to an address.

A session holds only who logged in (address, chain id) and when it ends.
Roles are deliberately **not** stored: the API takes them from the on-chain
ParticipantRegistry's member record (kept until a block changes the registry,
node_api.members), so a role revoked or a member suspended on chain takes
effect within one block, without waiting for sessions to expire.
The node keeps its sessions in its database (:mod:`.shared`); this in-memory
store serves tests and single-process tools.

Tokens are ``secrets.token_urlsafe`` strings.  The store keeps only their
SHA-256 digest, so a dump of the store (or of a future SQL table) does not
reveal usable tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from eth_utils import is_checksum_address

from .errors import SessionExpiredError, SessionNotFoundError
from .rfc3339 import utc_now
from .verify import VerifiedLogin

__all__ = [
    "DEFAULT_SESSION_TTL",
    "TOKEN_BYTES",
    "IssuedSession",
    "Session",
    "SessionStore",
    "InMemorySessionStore",
]

DEFAULT_SESSION_TTL: Final = timedelta(hours=8)
TOKEN_BYTES: Final = 32  # 256 bits -> 43 URL-safe characters
_MAX_TOKEN_LENGTH: Final = 256


@dataclass(frozen=True, slots=True)
class Session:
    """A live session. ``session_id`` is a non-secret handle (for logs, revoke lists)."""

    session_id: str
    address: str
    chain_id: int
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """Returned once, at login: the bearer ``token`` is not retrievable later."""

    token: str
    session: Session


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_start(address: str, chain_id: int, expires_at: datetime | None) -> None:
    """What every store checks before it starts a session (ValueError naming the argument)."""
    if not isinstance(address, str) or not is_checksum_address(address):
        raise ValueError(f"address must be EIP-55 checksummed: {address!r}")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 1:
        raise ValueError(f"chain_id must be a positive integer: {chain_id!r}")
    if expires_at is not None and expires_at.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware")


def session_end(now: datetime, ttl: timedelta, expires_at: datetime | None) -> datetime:
    """When a session started `now` ends: the TTL, or `expires_at` if earlier (never in the past)."""
    end = now + ttl
    if expires_at is not None and expires_at < end:
        end = expires_at
    if end <= now:
        raise SessionExpiredError("session", "session would already be expired")
    return end


class SessionStore(ABC):
    """Issues, looks up and revokes bearer-token sessions."""

    @abstractmethod
    def create(
        self, address: str, chain_id: int, *, expires_at: datetime | None = None
    ) -> IssuedSession:
        """Start a session for ``address`` (EIP-55) on ``chain_id``.

        It ends at the store's TTL from now, or at ``expires_at`` if earlier.
        """

    @abstractmethod
    def get(self, token: str) -> Session:
        """The live session for ``token``.

        Raises :class:`SessionNotFoundError` (unknown or revoked) or
        :class:`SessionExpiredError`.
        """

    @abstractmethod
    def revoke(self, token: str) -> bool:
        """End the session for ``token``; ``False`` if there was none."""

    @abstractmethod
    def revoke_address(self, address: str) -> int:
        """End every session of ``address``; returns how many were ended."""

    def start(self, login: VerifiedLogin) -> IssuedSession:
        """Start a session after :func:`verify_login`; never outlives the message's expiry."""
        return self.create(login.address, login.chain_id, expires_at=login.expiration_time)


class InMemorySessionStore(SessionStore):
    """Thread-safe in-memory :class:`SessionStore` for a single process."""

    def __init__(
        self,
        *,
        ttl: timedelta = DEFAULT_SESSION_TTL,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}  # sha256(token) -> session

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def create(
        self, address: str, chain_id: int, *, expires_at: datetime | None = None
    ) -> IssuedSession:
        check_start(address, chain_id, expires_at)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        digest = _digest(token)
        with self._lock:
            now = self._clock()
            end = session_end(now, self._ttl, expires_at)
            self._purge_expired(now)
            session = Session(
                session_id=digest[:16],
                address=address,
                chain_id=chain_id,
                issued_at=now,
                expires_at=end,
            )
            self._sessions[digest] = session
        return IssuedSession(token=token, session=session)

    def get(self, token: str) -> Session:
        digest = self._lookup_key(token)
        if digest is None:
            raise SessionNotFoundError("session", "unknown or revoked session token")
        with self._lock:
            session = self._sessions.get(digest)
            if session is None:
                raise SessionNotFoundError("session", "unknown or revoked session token")
            if self._clock() >= session.expires_at:
                del self._sessions[digest]
                raise SessionExpiredError("session", "session has expired; log in again")
            return session

    def revoke(self, token: str) -> bool:
        digest = self._lookup_key(token)
        if digest is None:
            return False
        with self._lock:
            return self._sessions.pop(digest, None) is not None

    def revoke_address(self, address: str) -> int:
        wanted = address.lower()
        with self._lock:
            doomed = [
                key for key, session in self._sessions.items() if session.address.lower() == wanted
            ]
            for key in doomed:
                del self._sessions[key]
            return len(doomed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    @staticmethod
    def _lookup_key(token: str) -> str | None:
        if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_LENGTH:
            return None
        return _digest(token)

    def _purge_expired(self, now: datetime) -> None:
        expired = [key for key, s in self._sessions.items() if now >= s.expires_at]
        for key in expired:
            del self._sessions[key]
