"""Login nonces and sessions kept in the node's database, so every process of a node sees them:
``tradenet node --workers N`` runs N API processes behind one port, and a client's nonce may be
issued by one, its login verified by another and its next request served by a third.

Same contracts as the in-memory stores (:mod:`.nonces`, :mod:`.sessions`):

- ``SqlNonceStore.consume`` spends a nonce atomically: one ``UPDATE ... WHERE nonce = ? AND
  used = false AND expires_at > now`` whose row count decides (two logins racing with one nonce,
  in two processes, pass once). Spent nonces stay as tombstones until their TTL would have ended
  (a replay is "already used"), then they are deleted. At most ``max_outstanding`` rows: expired
  ones go first, then the oldest (an unauthenticated flood of nonce requests pushes out old
  nonces; it never grows the table).
- ``SqlSessionStore`` keeps the SHA-256 digest of each token, never the token; expired rows are
  deleted as sessions start. Sessions survive a restart of the node until they expire. Each
  process remembers the sessions it confirmed: a session confirmed less than ``recheck_seconds``
  ago (1 s) is not read again (a request's body guard and its handler look it up once between
  them), so a logout through one process ends the session there at once and in the node's other
  processes within that second. While the database is unreachable, a session this process
  confirmed within ``outage_grace_seconds`` (5 min) still works until it expires: writes go to
  the chain, not to the database, and keep working (a session ended through another process
  during that window is not seen there until the database is back).

Times are stored as integer microseconds since the epoch (UTC): exact, and comparable in SQL.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, delete, func, insert, \
    select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from chain.indexer.db import writing

from .errors import NonceExpiredError, NonceReusedError, NonceUnknownError, SessionExpiredError, \
    SessionNotFoundError
from .nonces import DEFAULT_MAX_OUTSTANDING, DEFAULT_NONCE_TTL, NONCE_LENGTH, NonceStore, generate_nonce
from .rfc3339 import utc_now
from .sessions import _MAX_TOKEN_LENGTH, DEFAULT_SESSION_TTL, TOKEN_BYTES, IssuedSession, Session, SessionStore, \
    _digest, check_start, session_end

__all__ = ["SqlNonceStore", "SqlSessionStore", "create_auth_tables"]

log = logging.getLogger(__name__)

metadata = MetaData()

login_nonces = Table(
    "node_login_nonces", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # issue order: the oldest go first
    Column("nonce", String(64), nullable=False, unique=True),
    Column("expires_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("used", Boolean, nullable=False, default=False),
    Index("ix_node_login_nonces_expiry", "expires_at"),
)

sessions = Table(
    "node_sessions", metadata,
    Column("digest", String(64), primary_key=True),  # sha-256 of the token (the token is never stored)
    Column("address", String(42), nullable=False),
    Column("chain_id", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_node_sessions_address", "address"),
    Index("ix_node_sessions_expiry", "expires_at"),
)


def create_auth_tables(db: Engine) -> None:
    metadata.create_all(db, checkfirst=True)


def _micros(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SqlNonceStore(NonceStore):
    """:class:`NonceStore` shared by every process on the node's database (see the module)."""

    def __init__(self, db: Engine, *, ttl: timedelta = DEFAULT_NONCE_TTL,
                 max_outstanding: int = DEFAULT_MAX_OUTSTANDING, clock: Callable[[], datetime] = utc_now,
                 nonce_length: int = NONCE_LENGTH) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        if max_outstanding < 1:
            raise ValueError("max_outstanding must be at least 1")
        generate_nonce(nonce_length)  # validates the length
        self._db, self._ttl, self._max, self._clock, self._length = db, ttl, max_outstanding, clock, nonce_length

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def issue(self) -> str:
        now = _micros(self._clock())
        for _ in range(3):  # 143 random bits: a collision is not a practical concern, but never reuse one
            nonce = generate_nonce(self._length)
            try:
                with writing(self._db) as c:
                    c.execute(delete(login_nonces).where(login_nonces.c.expires_at <= now))
                    # ids grow by one per nonce: max - min + 1 bounds the rows held, read from the index
                    # (no count of a table an unauthenticated flood fills); beyond, the oldest go
                    low, high = c.execute(select(func.min(login_nonces.c.id), func.max(login_nonces.c.id))).one()
                    if high is not None and high - low + 1 >= self._max:
                        c.execute(delete(login_nonces).where(login_nonces.c.id <= high - self._max + 1))
                    c.execute(insert(login_nonces).values(nonce=nonce, used=False,
                                                          expires_at=now + self._ttl // timedelta(microseconds=1)))
                return nonce
            except IntegrityError:
                continue
        raise RuntimeError("could not issue a unique login nonce")

    def consume(self, nonce: str) -> None:
        now = _micros(self._clock())
        with writing(self._db) as c:
            spent = c.execute(update(login_nonces).where(login_nonces.c.nonce == nonce, login_nonces.c.used.is_(False),
                                                         login_nonces.c.expires_at > now)
                              .values(used=True)).rowcount
            if spent == 1:
                return
            row = c.execute(select(login_nonces.c.used, login_nonces.c.expires_at)
                            .where(login_nonces.c.nonce == nonce)).first()
            if row is None:
                raise NonceUnknownError("nonce", "nonce was not issued by this server")
            if row.used:
                raise NonceReusedError("nonce", "nonce has already been used")
            c.execute(delete(login_nonces).where(login_nonces.c.nonce == nonce))
        raise NonceExpiredError("nonce", "nonce has expired; request a new one")

    def __len__(self) -> int:
        with self._db.connect() as c:
            return c.execute(select(func.count()).select_from(login_nonces)).scalar_one()


class SqlSessionStore(SessionStore):
    """:class:`SessionStore` shared by every process on the node's database (see the module)."""

    def __init__(self, db: Engine, *, ttl: timedelta = DEFAULT_SESSION_TTL,
                 clock: Callable[[], datetime] = utc_now, recheck_seconds: float = 1.0,
                 outage_grace_seconds: float = 300.0, max_remembered: int = 100_000) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self._db, self._ttl, self._clock = db, ttl, clock
        self._recheck, self._grace, self._max = recheck_seconds, outage_grace_seconds, max_remembered
        self._confirmed: dict[str, tuple[Session, float]] = {}  # digest -> (session, time.monotonic() confirmed)
        self._lock = threading.Lock()

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def create(self, address: str, chain_id: int, *, expires_at: datetime | None = None) -> IssuedSession:
        check_start(address, chain_id, expires_at)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        digest = _digest(token)
        now = self._clock()
        end = session_end(now, self._ttl, expires_at)
        issued, ends = _micros(now), _micros(end)
        with writing(self._db) as c:
            c.execute(delete(sessions).where(sessions.c.expires_at <= issued))
            c.execute(insert(sessions).values(digest=digest, address=address, chain_id=chain_id,
                                              issued_at=issued, expires_at=ends))
        # the times as read back from the store (whole microseconds), so every process answers the same
        return IssuedSession(token=token, session=Session(digest[:16], address, chain_id, _time(issued), _time(ends)))

    def get(self, token: str) -> Session:
        digest = _lookup_key(token)
        if digest is None:
            raise SessionNotFoundError("session", "unknown or revoked session token")
        now = self._clock()
        known = self._confirmed.get(digest)
        if known is not None and now < known[0].expires_at and time.monotonic() - known[1] < self._recheck:
            return known[0]
        try:
            with self._db.connect() as c:
                row = c.execute(select(sessions).where(sessions.c.digest == digest)).first()
        except DBAPIError as exc:
            if known is not None and now < known[0].expires_at and time.monotonic() - known[1] < self._grace:
                log.warning("the node's database is unreachable (%s): session %s served as confirmed %.0f s ago",
                            type(exc.orig).__name__, known[0].session_id, time.monotonic() - known[1])
                return known[0]
            raise
        if row is None:
            self._forget(digest)
            raise SessionNotFoundError("session", "unknown or revoked session token")
        if _micros(now) >= row.expires_at:
            self._forget(digest)
            with writing(self._db) as c:
                c.execute(delete(sessions).where(sessions.c.digest == digest))
            raise SessionExpiredError("session", "session has expired; log in again")
        session = Session(digest[:16], row.address, int(row.chain_id), _time(row.issued_at), _time(row.expires_at))
        with self._lock:
            if len(self._confirmed) >= self._max:
                self._confirmed.clear()
            self._confirmed[digest] = (session, time.monotonic())
        return session

    def _forget(self, digest: str) -> None:
        with self._lock:
            self._confirmed.pop(digest, None)

    def revoke(self, token: str) -> bool:
        digest = _lookup_key(token)
        if digest is None:
            return False
        self._forget(digest)
        with writing(self._db) as c:
            return c.execute(delete(sessions).where(sessions.c.digest == digest)).rowcount == 1

    def revoke_address(self, address: str) -> int:
        with self._lock:
            for digest in [d for d, (s, _) in self._confirmed.items() if s.address.lower() == address.lower()]:
                del self._confirmed[digest]
        with writing(self._db) as c:
            return c.execute(delete(sessions).where(func.lower(sessions.c.address) == address.lower())).rowcount

    def __len__(self) -> int:
        with self._db.connect() as c:
            return c.execute(select(func.count()).select_from(sessions)).scalar_one()


def _lookup_key(token: str) -> str | None:
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_LENGTH:
        return None
    return _digest(token)
