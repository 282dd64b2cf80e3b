"""The operator's persistent state: one SQLite database per operator (SQLAlchemy 2).

Tables
- ``carrier_events``: every accepted carrier post (canonical JSON kept as evidence), unique by
  eventID: a replay is answered from here, a changed replay is refused.
- ``reports``: one per signed subject, ``UNIQUE(kind, subject)`` where subject is
  (shipmentId, eventCode) or (base, quote, observedAt). That constraint is what guarantees the
  operator never signs two different contents for one subject, across restarts.
  State: accepted -> signed -> quorum -> submitted -> confirmed | conflict | rejected.
- ``messages``: every struct seen (own or a peer's) by EIP-712 digest.
- ``signatures``: operators' signatures by (digest, signer), own and peers'.
- ``deliveries``: our signature to each peer, until the peer acknowledged it.
- ``conflicts``: two different digests seen for one subject (a lying or misfed operator).
- ``meta``: which operator / chain / contracts this database belongs to.

Writes happen under one process-wide lock (one daemon per database) and in short transactions;
callers get plain dataclass snapshots, never live ORM objects.
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import (Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, create_engine, event,
                        func, select)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from .errors import ConfigError, ContentConflict

log = logging.getLogger(__name__)


class State(str, enum.Enum):
    ACCEPTED = "accepted"
    SIGNED = "signed"
    QUORUM = "quorum"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    CONFLICT = "conflict"  # the chain confirmed a different content for this subject
    REJECTED = "rejected"  # the contract refused the report for good (stale, superseded...)


OPEN_STATES = (State.SIGNED, State.QUORUM, State.SUBMITTED)
FINAL_STATES = (State.CONFIRMED, State.CONFLICT, State.REJECTED)


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MessageRow(Base):
    __tablename__ = "messages"
    digest: Mapped[str] = mapped_column(String(66), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128), index=True)
    message: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(200))
    first_seen: Mapped[float] = mapped_column(Float)


class ReportRow(Base):
    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("kind", "subject", name="uq_one_content_per_subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(66), ForeignKey("messages.digest"), unique=True)
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    own_signature: Mapped[str | None] = mapped_column(String(132), nullable=True)
    conflicted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    signed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    quorum_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    onchain_id: Mapped[str | None] = mapped_column(String(66), nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(42), nullable=True)
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class CarrierEventRow(Base):
    __tablename__ = "carrier_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(String(66))
    canonical: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # attested | ignored
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_digest: Mapped[str | None] = mapped_column(String(66), nullable=True)
    received_at: Mapped[float] = mapped_column(Float)


class SignatureRow(Base):
    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("digest", "signer", name="uq_signature_per_signer"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128), index=True)
    digest: Mapped[str] = mapped_column(String(66), ForeignKey("messages.digest"), index=True)
    signer: Mapped[str] = mapped_column(String(42))
    signature: Mapped[str] = mapped_column(String(132))
    origin: Mapped[str] = mapped_column(String(16))  # self | peer
    received_at: Mapped[float] = mapped_column(Float)


class DeliveryRow(Base):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("digest", "peer", name="uq_delivery"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(66), ForeignKey("messages.digest"))
    peer: Mapped[str] = mapped_column(String(64))
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConflictRow(Base):
    __tablename__ = "conflicts"
    __table_args__ = (UniqueConstraint("kind", "subject", "signer", "held_digest", "other_digest", name="uq_conflict"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(200))
    signer: Mapped[str] = mapped_column(String(64))  # who signed / sent other_digest
    held_digest: Mapped[str] = mapped_column(String(66))  # ours if we signed, else the first one seen
    other_digest: Mapped[str] = mapped_column(String(66))
    origin: Mapped[str] = mapped_column(String(16))  # peer | carrier | chain
    detail: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[float] = mapped_column(Float)


# -------------------------------------------------------------------------------------- snapshots
@dataclass(frozen=True)
class Report:
    kind: str
    subject: str
    digest: str
    message: dict[str, Any]
    label: str
    reference: str | None
    state: State
    own_signature: str | None
    conflicted: bool
    created_at: float
    signed_at: float | None
    quorum_at: float | None
    submitted_at: float | None
    finished_at: float | None
    tx_hash: str | None
    onchain_id: str | None
    submissions: int
    attempts: int
    next_attempt_at: float
    last_error: str | None


@dataclass(frozen=True)
class Delivery:
    id: int
    peer: str
    digest: str
    kind: str
    message: dict[str, Any]
    signature: str


@dataclass(frozen=True)
class Conflict:
    kind: str
    subject: str
    label: str
    signer: str
    held_digest: str
    other_digest: str
    origin: str
    detail: str
    detected_at: float


@dataclass(frozen=True)
class CarrierEventRecord:
    event_id: str
    evidence: str
    status: str
    reason: str | None
    report_digest: str | None


@dataclass(frozen=True)
class PeerSignatureOutcome:
    new: bool
    conflicts: list[Conflict]


def _report(row: ReportRow, msg: MessageRow) -> Report:
    return Report(row.kind, row.subject, row.digest, json.loads(msg.message), msg.label, row.reference,
                  State(row.state), row.own_signature, row.conflicted, row.created_at, row.signed_at, row.quorum_at,
                  row.submitted_at, row.finished_at, row.tx_hash, row.onchain_id, row.submissions, row.attempts,
                  row.next_attempt_at, row.last_error)


def _conflict(row: ConflictRow) -> Conflict:
    return Conflict(row.kind, row.subject, row.label, row.signer, row.held_digest, row.other_digest, row.origin,
                    row.detail, row.detected_at)


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(f"sqlite:///{self.path}", connect_args={"check_same_thread": False,
                                                                             "timeout": 30})

        @event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an ack means the row is on disk
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock = threading.RLock()

    def close(self) -> None:
        self.engine.dispose()

    def _tx(self) -> Session:
        return self._sessions.begin()  # type: ignore[return-value]

    # ------------------------------------------------------------------------------- identity
    def bind_identity(self, identity: dict[str, str]) -> None:
        """Remember whose database this is; refuse to run on another operator's or chain's DB
        (its signatures would be over other digests)."""
        with self._lock, self._tx() as s:
            stored = {r.key: r.value for r in s.scalars(select(MetaRow))}
            for key, value in identity.items():
                if key in stored and stored[key] != value:
                    raise ConfigError(f"database {self.path} belongs to {key}={stored[key]}, not {value}")
                if key not in stored:
                    s.add(MetaRow(key=key, value=value))

    # ------------------------------------------------------------------------------- ingest
    def _ensure_message(self, s: Session, kind: str, subject: str, digest: str, message: dict[str, Any],
                        label: str) -> None:
        if s.get(MessageRow, digest) is None:
            s.add(MessageRow(digest=digest, kind=kind, subject=subject, message=json.dumps(message, sort_keys=True),
                             label=label, first_seen=time.time()))
            s.flush()

    def carrier_event(self, event_id: str) -> CarrierEventRecord | None:
        with self._tx() as s:
            row = s.scalar(select(CarrierEventRow).where(CarrierEventRow.event_id == event_id))
            return None if row is None else CarrierEventRecord(row.event_id, row.evidence, row.status, row.reason,
                                                               row.report_digest)

    def accept_carrier_event(
        self, *, event_id: str, source: str, evidence: str, canonical: str, reference: str, code: str,
        ignored_reason: str | None, kind: str | None = None, subject: str | None = None, digest: str | None = None,
        message: dict[str, Any] | None = None, label: str = "",
    ) -> tuple[bool, CarrierEventRecord]:
        """Persist an accepted carrier event (and its report in state `accepted`) in one
        transaction. Returns (created, record); (False, record) for an identical replay.
        Raises ContentConflict if the eventID or the subject is already bound to other content."""
        with self._lock, self._tx() as s:
            row = s.scalar(select(CarrierEventRow).where(CarrierEventRow.event_id == event_id))
            if row is not None:
                if row.evidence != evidence:
                    raise ContentConflict(
                        f"eventID {event_id} was already accepted with different content "
                        f"(evidence {row.evidence}, this post {evidence}); it will not be signed",
                        field="eventID", extra={"acceptedEvidence": row.evidence, "postedEvidence": evidence})
                return False, CarrierEventRecord(row.event_id, row.evidence, row.status, row.reason,
                                                 row.report_digest)
            if digest is not None:
                assert kind and subject and message is not None
                existing = s.scalar(select(ReportRow).where(ReportRow.kind == kind, ReportRow.subject == subject))
                if existing is not None and existing.digest != digest:
                    raise ContentConflict(
                        f"{label}: this operator already accepted a different {code} event for shipment "
                        f"{reference} (digest {existing.digest}); a second content is never signed",
                        field="eventID", extra={"acceptedDigest": existing.digest, "postedDigest": digest})
                self._ensure_message(s, kind, subject, digest, message, label)
                if existing is None:
                    s.add(ReportRow(kind=kind, subject=subject, digest=digest, reference=reference,
                                    state=State.ACCEPTED.value, created_at=time.time()))
            row = CarrierEventRow(event_id=event_id, source=source, evidence=evidence, canonical=canonical,
                                  reference=reference, code=code,
                                  status="ignored" if ignored_reason else "attested", reason=ignored_reason,
                                  report_digest=digest, received_at=time.time())
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:  # pragma: no cover - guarded by the lock; defensive
                raise ContentConflict(f"concurrent conflicting post: {exc.orig}", field="eventID") from None
            return True, CarrierEventRecord(row.event_id, row.evidence, row.status, row.reason, row.report_digest)

    def accept_struct(self, *, kind: str, subject: str, digest: str, message: dict[str, Any], label: str,
                      reference: str | None = None) -> bool:
        """Persist a report (FX feed) in state `accepted`; False if the same content is already
        there; ContentConflict if the subject is bound to another content."""
        with self._lock, self._tx() as s:
            existing = s.scalar(select(ReportRow).where(ReportRow.kind == kind, ReportRow.subject == subject))
            if existing is not None:
                if existing.digest != digest:
                    raise ContentConflict(
                        f"{subject}: already accepted with different content (digest {existing.digest}); "
                        f"a second content is never signed", field="rate",
                        extra={"acceptedDigest": existing.digest, "postedDigest": digest})
                return False
            self._ensure_message(s, kind, subject, digest, message, label)
            s.add(ReportRow(kind=kind, subject=subject, digest=digest, reference=reference,
                            state=State.ACCEPTED.value, created_at=time.time()))
            return True

    # ------------------------------------------------------------------------------- signatures
    def _conflicts_for(self, s: Session, kind: str, subject: str, digest: str, signer: str, origin: str,
                       label: str) -> list[Conflict]:
        """Record a conflict for every other digest seen for `subject` (ours first)."""
        own = s.scalar(select(ReportRow).where(ReportRow.kind == kind, ReportRow.subject == subject))
        others = set(s.scalars(select(SignatureRow.digest).where(SignatureRow.kind == kind,
                                                                  SignatureRow.subject == subject,
                                                                  SignatureRow.digest != digest)))
        if own is not None and own.digest != digest:
            others.add(own.digest)
        found: list[Conflict] = []
        for held in sorted(others, key=lambda d: (own is None or d != own.digest, d)):
            equivocation = s.scalar(select(SignatureRow.id).where(SignatureRow.digest == held,
                                                                  SignatureRow.signer == signer)) is not None
            detail = (f"{signer} signed two different contents for {label}" if equivocation else
                      f"{signer} signed {other_short(digest)} for {label} but {other_short(held)} is "
                      f"{'our signed content' if own is not None and held == own.digest else 'also held'}")
            dup = s.scalar(select(ConflictRow).where(ConflictRow.kind == kind, ConflictRow.subject == subject,
                                                     ConflictRow.signer == signer, ConflictRow.held_digest == held,
                                                     ConflictRow.other_digest == digest))
            if dup is not None:
                continue
            row = ConflictRow(kind=kind, subject=subject, label=label, signer=signer, held_digest=held,
                              other_digest=digest, origin=origin, detail=detail, detected_at=time.time())
            s.add(row)
            found.append(_conflict(row))
        if found and own is not None:
            own.conflicted = True
        return found

    def save_own_signature(self, digest: str, signer: str, signature: str, peers: Sequence[str]) -> list[Conflict]:
        """accepted -> signed: store our signature and queue its delivery to every peer."""
        with self._lock, self._tx() as s:
            report = s.scalar(select(ReportRow).where(ReportRow.digest == digest))
            if report is None:
                raise KeyError(digest)
            msg = s.get(MessageRow, digest)
            conflicts = self._conflicts_for(s, report.kind, report.subject, digest, signer, "self", msg.label)
            if s.scalar(select(SignatureRow).where(SignatureRow.digest == digest, SignatureRow.signer == signer)) is None:
                s.add(SignatureRow(kind=report.kind, subject=report.subject, digest=digest, signer=signer,
                                   signature=signature, origin="self", received_at=time.time()))
            report.own_signature = signature
            report.signed_at = time.time()
            if report.state == State.ACCEPTED.value:
                report.state = State.SIGNED.value
            for peer in peers:
                if s.scalar(select(DeliveryRow).where(DeliveryRow.digest == digest, DeliveryRow.peer == peer)) is None:
                    s.add(DeliveryRow(digest=digest, peer=peer))
            return conflicts

    def save_peer_signature(self, *, kind: str, subject: str, digest: str, message: dict[str, Any], label: str,
                            signer: str, signature: str) -> PeerSignatureOutcome:
        with self._lock, self._tx() as s:
            existing = s.scalar(select(SignatureRow).where(SignatureRow.digest == digest, SignatureRow.signer == signer))
            if existing is not None:
                return PeerSignatureOutcome(False, [])
            self._ensure_message(s, kind, subject, digest, message, label)
            conflicts = self._conflicts_for(s, kind, subject, digest, signer, "peer", label)
            s.add(SignatureRow(kind=kind, subject=subject, digest=digest, signer=signer, signature=signature,
                               origin="peer", received_at=time.time()))
            return PeerSignatureOutcome(True, conflicts)

    def signatures(self, digest: str) -> dict[str, str]:
        with self._tx() as s:
            return {r.signer: r.signature for r in s.scalars(select(SignatureRow).where(SignatureRow.digest == digest))}

    # ------------------------------------------------------------------------------- deliveries
    def due_deliveries(self, now: float, limit: int = 100) -> list[Delivery]:
        with self._tx() as s:
            q = (select(DeliveryRow, MessageRow, ReportRow)
                 .join(MessageRow, MessageRow.digest == DeliveryRow.digest)
                 .join(ReportRow, ReportRow.digest == DeliveryRow.digest)
                 .where(DeliveryRow.delivered_at.is_(None), DeliveryRow.next_attempt_at <= now)
                 .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id).limit(limit))
            return [Delivery(d.id, d.peer, d.digest, m.kind, json.loads(m.message), r.own_signature or "")
                    for d, m, r in s.execute(q)]

    def delivery_done(self, delivery_id: int) -> None:
        with self._lock, self._tx() as s:
            row = s.get(DeliveryRow, delivery_id)
            row.delivered_at = time.time()
            row.attempts += 1
            row.last_error = None

    def delivery_failed(self, delivery_id: int, error: str, backoff: float) -> None:
        with self._lock, self._tx() as s:
            row = s.get(DeliveryRow, delivery_id)
            row.attempts += 1
            row.last_error = error[:500]
            row.next_attempt_at = time.time() + backoff

    def delivery_attempts(self, delivery_id: int) -> int:
        with self._tx() as s:
            return s.get(DeliveryRow, delivery_id).attempts

    def requeue_deliveries(self) -> int:
        """At start: deliver again every signature of a report still open (peers may have lost it)."""
        with self._lock, self._tx() as s:
            rows = s.scalars(select(DeliveryRow).join(ReportRow, ReportRow.digest == DeliveryRow.digest)
                             .where(ReportRow.state.in_([st.value for st in OPEN_STATES])))
            n = 0
            for row in rows:
                row.delivered_at = None
                row.next_attempt_at = 0.0
                n += 1
            return n

    def peer_delivery_stats(self) -> dict[str, dict[str, Any]]:
        with self._tx() as s:
            out: dict[str, dict[str, Any]] = {}
            for peer, delivered, pending in s.execute(
                select(DeliveryRow.peer, func.count(DeliveryRow.delivered_at),
                       func.sum((DeliveryRow.delivered_at.is_(None)).cast(Integer))).group_by(DeliveryRow.peer)):
                out[peer] = {"delivered": delivered, "pending": int(pending or 0)}
            for peer, err in s.execute(select(DeliveryRow.peer, DeliveryRow.last_error)
                                       .where(DeliveryRow.delivered_at.is_(None), DeliveryRow.last_error.is_not(None))):
                out.setdefault(peer, {})["last_error"] = err
            return out

    # ------------------------------------------------------------------------------- reports
    def report(self, digest: str) -> Report | None:
        with self._tx() as s:
            row = s.scalar(select(ReportRow).where(ReportRow.digest == digest))
            return None if row is None else _report(row, s.get(MessageRow, digest))

    def report_for_subject(self, kind: str, subject: str) -> Report | None:
        with self._tx() as s:
            row = s.scalar(select(ReportRow).where(ReportRow.kind == kind, ReportRow.subject == subject))
            return None if row is None else _report(row, s.get(MessageRow, row.digest))

    def reports(self, states: Iterable[State] | None = None, limit: int | None = None,
                newest_first: bool = False) -> list[Report]:
        with self._tx() as s:
            q = select(ReportRow, MessageRow).join(MessageRow, MessageRow.digest == ReportRow.digest)
            if states is not None:
                q = q.where(ReportRow.state.in_([st.value for st in states]))
            q = q.order_by(ReportRow.id.desc() if newest_first else ReportRow.id)
            if limit:
                q = q.limit(limit)
            return [_report(r, m) for r, m in s.execute(q)]

    def update_report(self, digest: str, **fields: Any) -> None:
        with self._lock, self._tx() as s:
            row = s.scalar(select(ReportRow).where(ReportRow.digest == digest))
            for key, value in fields.items():
                if key == "state":
                    value = State(value).value
                    if value in [st.value for st in FINAL_STATES] and row.finished_at is None:
                        row.finished_at = time.time()
                if key == "submissions_inc":
                    row.submissions += value
                    continue
                setattr(row, key, value)

    def record_conflict(self, *, kind: str, subject: str, label: str, signer: str, held_digest: str,
                        other_digest: str, origin: str, detail: str) -> Conflict | None:
        with self._lock, self._tx() as s:
            dup = s.scalar(select(ConflictRow).where(ConflictRow.kind == kind, ConflictRow.subject == subject,
                                                     ConflictRow.signer == signer,
                                                     ConflictRow.held_digest == held_digest,
                                                     ConflictRow.other_digest == other_digest))
            if dup is not None:
                return None
            row = ConflictRow(kind=kind, subject=subject, label=label, signer=signer, held_digest=held_digest,
                              other_digest=other_digest, origin=origin, detail=detail, detected_at=time.time())
            s.add(row)
            own = s.scalar(select(ReportRow).where(ReportRow.kind == kind, ReportRow.subject == subject))
            if own is not None:
                own.conflicted = True
            return _conflict(row)

    def conflicts(self, limit: int = 100) -> list[Conflict]:
        with self._tx() as s:
            return [_conflict(r) for r in s.scalars(select(ConflictRow).order_by(ConflictRow.id.desc()).limit(limit))]

    def counts(self) -> dict[str, Any]:
        with self._tx() as s:
            by_state = {st: n for st, n in s.execute(select(ReportRow.state, func.count()).group_by(ReportRow.state))}
            events = {st: n for st, n in s.execute(select(CarrierEventRow.status, func.count())
                                                     .group_by(CarrierEventRow.status))}
            submissions = s.scalar(select(func.coalesce(func.sum(ReportRow.submissions), 0)))
            conflicts = s.scalar(select(func.count()).select_from(ConflictRow))
            return {"reports": by_state, "carrier_events": events, "submissions": int(submissions or 0),
                    "conflicts": int(conflicts or 0)}


def other_short(digest: str) -> str:
    return digest[:10] + ".." + digest[-4:]
