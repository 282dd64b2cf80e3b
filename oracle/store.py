"""The operator's persistent state: one SQLite database per operator (SQLAlchemy 2).

Tables
- ``carrier_events``: every accepted carrier event (canonical JSON kept as evidence), one row
  per version, identified by (source, originating party, eventID) and its evidence: a replay is
  answered from here, a changed replay refused (409) or, in DCSA 3.0.0, ordered by
  ``eventUpdatedDateTime`` into an update or a superseded version. Status: ``attested``,
  ``ignored``, ``retraction``, ``update`` (a newer version of an attested event, not signed),
  ``superseded`` (an older version, or one retracted before it arrived).
- ``reports``: one per signed content. ``slot`` is what the operator never signs two live
  contents for: (shipmentId, eventCode, location) or (base, quote, observedAt); a retraction's
  slot is the eventId it retracts. A shipment slot holds one report per ``generation``: a new
  content (generation + 1) is admitted only once the slot's latest report is *dead*: retracted on
  chain, or refused for good in a way that can never be undone (stale, replayed, invalid), so
  that at no time do two contents of one slot both hold this operator's signature and a chance to
  be confirmed. ``UNIQUE(kind, subject)`` (subject = slot, ``slot#g`` for a later generation, a
  retraction's digest) keeps that across restarts. State: accepted -> signed -> quorum ->
  submitted -> confirmed | conflict | rejected, and confirmed -> retracted. A report may be *held*
  (never submitted by this operator) once its event was retracted by the carrier; an on-chain
  refusal is recorded with the error's name, arguments and a sentence. ``notified`` and
  ``keeper_done``: the deals the submitter named and whether it has poked the others (``oracle.keeper``).
- ``intents``: what the chain side has to do about a retraction or an update of an attested
  event (``oracle.intents``): kind, the original event and report, state.
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

from sqlalchemy import (Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, create_engine,
                        event, func, inspect, select)
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
    RETRACTED = "retracted"  # confirmed, then retracted on chain by a k-of-n retraction report


OPEN_STATES = (State.SIGNED, State.QUORUM, State.SUBMITTED)
FINAL_STATES = (State.CONFIRMED, State.CONFLICT, State.REJECTED, State.RETRACTED)
#: refusals after which a report can never be confirmed, whatever happens later on chain: its slot
#: may take a new content (a retracted eventId is never accepted again; time only moves forward)
DEAD_REFUSALS = frozenset({"StaleReport", "EventReplayed", "InvalidEventCode", "InvalidShipmentId", "MissingEvidence",
                           "InvalidLocode"})


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
    slot: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
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
    block_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    held_reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # never submitted by this operator
    # the latest on-chain refusal (decoded revert, or the contract's rule applied before sending)
    refusal_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refusal_args: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    refusal_sentence: Mapped[str | None] = mapped_column(Text, nullable=True)
    refusal_final: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    refusal_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    # retracted on chain: by which transaction (ours or another operator's)
    retracted_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    retracted_block: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the keeper: deal ids the submission named (JSON list), and whether the others were poked
    notified: Mapped[str | None] = mapped_column(Text, nullable=True)
    keeper_done: Mapped[bool] = mapped_column(Boolean, default=False)


class CarrierEventRow(Base):
    __tablename__ = "carrier_events"
    __table_args__ = (UniqueConstraint("source", "party", "event_id", "evidence", name="uq_event_version"),
                      Index("ix_event_identity", "source", "party", "event_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[str] = mapped_column(String(600))
    dcsa_version: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # v3.0.0 eventUpdatedDateTime
    evidence: Mapped[str] = mapped_column(String(66))
    canonical: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    code: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(5), nullable=True)
    transport_call: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    status: Mapped[str] = mapped_column(String(16))  # attested | ignored | retraction | update | superseded
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    target_event_id: Mapped[str | None] = mapped_column(String(600), nullable=True)  # what a retraction retracts
    report_digest: Mapped[str | None] = mapped_column(String(66), nullable=True)  # attested: its report
    proposed_digest: Mapped[str | None] = mapped_column(String(66), nullable=True)  # update: the new content
    proposed_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    proposed_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    received_at: Mapped[float] = mapped_column(Float)


class IntentRow(Base):
    __tablename__ = "intents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # retraction | update
    source: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str] = mapped_column(String(600))
    original_event: Mapped[int] = mapped_column(Integer, ForeignKey("carrier_events.id"))
    original_digest: Mapped[str] = mapped_column(String(66))
    trigger_event: Mapped[int] = mapped_column(Integer, ForeignKey("carrier_events.id"))
    replacement_digest: Mapped[str | None] = mapped_column(String(66), nullable=True)
    reason_hash: Mapped[str] = mapped_column(String(66))  # evidence of the retraction / update message
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending | done | failed | obsolete
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


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
    confirmed_by: str | None = None
    block_number: int | None = None
    held_reason: str | None = None
    refusal: "Refusal | None" = None
    slot: str = ""
    generation: int = 0
    retracted_tx: str | None = None
    retracted_block: int | None = None
    notified: tuple[int, ...] | None = None
    keeper_done: bool = False

    @property
    def dead(self) -> bool:
        """Can never be confirmed (again): its slot may take a new content."""
        return is_dead(self.state, self.refusal.name if self.refusal else None)


def is_dead(state: State | str, refusal_name: str | None) -> bool:
    state = State(state)
    return state == State.RETRACTED or (state == State.REJECTED and refusal_name in DEAD_REFUSALS)


@dataclass(frozen=True)
class Refusal:
    """Why the chain refused (or would refuse) a report: the contract error's name and arguments
    and a sentence for people; `final` if it can never succeed."""

    name: str
    arguments: dict[str, Any]
    sentence: str
    final: bool
    at: float | None = None
    tx_hash: str | None = None


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
    id: int
    source: str
    party: str
    event_id: str
    dcsa_version: str
    updated_at: float | None
    evidence: str
    reference: str | None
    code: str
    location: str | None
    transport_call: dict[str, Any] | None
    status: str
    reason: str | None
    target_event_id: str | None
    report_digest: str | None
    proposed_digest: str | None
    received_at: float


@dataclass(frozen=True)
class EventEntry:
    """A classified carrier event, ready to be recorded (``Store.record_carrier_event``)."""

    source: str
    party: str
    event_id: str
    dcsa_version: str
    versioned: bool  # DCSA 3.0.0: versions ordered by eventUpdatedDateTime (updates)
    updated_at: float | None
    evidence: str
    canonical: str
    code: str
    reference: str | None = None
    location: str | None = None
    transport_call: dict[str, Any] | None = None
    ignored_reason: str | None = None
    retracts: str | None = None  # the eventID this event retracts
    # an attested event: its report
    kind: str | None = None
    subject: str | None = None
    digest: str | None = None
    message: dict[str, Any] | None = None
    label: str = ""


@dataclass(frozen=True)
class IntentRecord:
    id: int
    kind: str  # retraction | update
    source: str
    party: str
    event_id: str
    original_event: int
    original_digest: str
    trigger_event: int
    replacement_digest: str | None
    reason_hash: str
    state: str
    detail: str | None
    attempts: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class IntakeResult:
    """What recording an event decided: ``accepted`` (a new attested event, its report created),
    ``duplicate``, ``ignored``, ``retraction``, ``update``, ``superseded``."""

    outcome: str
    record: CarrierEventRecord
    detail: str = ""
    intent: IntentRecord | None = None


@dataclass(frozen=True)
class PeerSignatureOutcome:
    new: bool
    conflicts: list[Conflict]


def _report(row: ReportRow, msg: MessageRow) -> Report:
    refusal = None if row.refusal_name is None else Refusal(
        row.refusal_name, json.loads(row.refusal_args or "{}"), row.refusal_sentence or "", bool(row.refusal_final),
        row.refusal_at, row.refusal_tx)
    return Report(row.kind, row.subject, row.digest, json.loads(msg.message), msg.label, row.reference,
                  State(row.state), row.own_signature, row.conflicted, row.created_at, row.signed_at, row.quorum_at,
                  row.submitted_at, row.finished_at, row.tx_hash, row.onchain_id, row.submissions, row.attempts,
                  row.next_attempt_at, row.last_error, row.confirmed_by, row.block_number, row.held_reason, refusal,
                  row.slot or row.subject, row.generation or 0, row.retracted_tx, row.retracted_block,
                  None if row.notified is None else tuple(json.loads(row.notified)), bool(row.keeper_done))


def _event(row: CarrierEventRow) -> CarrierEventRecord:
    return CarrierEventRecord(row.id, row.source, row.party, row.event_id, row.dcsa_version, row.updated_at,
                              row.evidence, row.reference, row.code, row.location,
                              json.loads(row.transport_call) if row.transport_call else None, row.status, row.reason,
                              row.target_event_id, row.report_digest, row.proposed_digest, row.received_at)


def _intent(row: IntentRow) -> IntentRecord:
    return IntentRecord(row.id, row.kind, row.source, row.party, row.event_id, row.original_event,
                        row.original_digest, row.trigger_event, row.replacement_digest, row.reason_hash, row.state,
                        row.detail, row.attempts, row.created_at, row.updated_at)


def _conflict(row: ConflictRow) -> Conflict:
    return Conflict(row.kind, row.subject, row.label, row.signer, row.held_digest, row.other_digest, row.origin,
                    row.detail, row.detected_at)


def _add_missing_columns(engine: Any) -> None:
    """Columns added since a database was created (each nullable or with a default): added in
    place; a report's ``slot`` starts as its subject (generation 0)."""
    existing = inspect(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                ddl = f"ALTER TABLE {table.name} ADD COLUMN {column.name} {column.type.compile(engine.dialect)}"
                default = column.default.arg if column.default is not None and column.default.is_scalar else None
                if default is not None:
                    ddl += f" DEFAULT {int(default) if isinstance(default, bool) else repr(default)}"
                conn.exec_driver_sql(ddl)
                if table.name == "reports" and column.name == "slot":
                    conn.exec_driver_sql("UPDATE reports SET slot = subject WHERE slot IS NULL")


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

        existing = inspect(self.engine)
        if existing.has_table("carrier_events") and \
                "party" not in {c["name"] for c in existing.get_columns("carrier_events")}:
            self.engine.dispose()
            raise ConfigError(f"database {self.path} was written by an older operator (before DCSA v3 identities "
                              f"and transshipment keys); start this operator on a new database file")
        Base.metadata.create_all(self.engine)
        _add_missing_columns(self.engine)
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

    def events_for(self, source: str, event_id: str) -> list[CarrierEventRecord]:
        """Every version this source posted under `event_id` (any originating party), and the
        retractions that name it, oldest first (``GET /events/{eventID}``)."""
        with self._tx() as s:
            rows = s.scalars(select(CarrierEventRow).where(
                CarrierEventRow.source == source,
                (CarrierEventRow.event_id == event_id) | (CarrierEventRow.target_event_id == event_id))
                .order_by(CarrierEventRow.id))
            return [_event(r) for r in rows]

    def record_carrier_event(self, e: EventEntry) -> IntakeResult:
        """Persist a carrier event (and, for a new attested one, its report in state `accepted`) in
        one transaction, deciding what it is: new, a replay, a retraction, a newer or an older
        version. Raises ContentConflict if it would bind a second content to an event id or to a
        report's subject."""
        with self._lock, self._tx() as s:
            versions = list(s.scalars(select(CarrierEventRow).where(
                CarrierEventRow.source == e.source, CarrierEventRow.party == e.party,
                CarrierEventRow.event_id == e.event_id).order_by(CarrierEventRow.id)))
            for row in versions:
                if row.evidence == e.evidence:
                    return IntakeResult("duplicate", _event(row), "this event was already received with the same "
                                                                  "content; it is not processed again")
            if e.retracts is not None:
                return self._retraction(s, e)
            retracted = None
            if versions:
                latest = max(versions, key=lambda r: (r.updated_at or 0.0, r.id))
                if not e.versioned:
                    raise ContentConflict(
                        f"eventID {e.event_id} was already received with different content (evidence "
                        f"{latest.evidence}, this post {e.evidence}); it will not be signed",
                        field="eventID", acceptedEvidence=latest.evidence, postedEvidence=e.evidence)
                if (e.updated_at or 0.0) < (latest.updated_at or 0.0):
                    row = self._add_event(s, e, "superseded", f"an event with this eventID and a later "
                                                              f"eventUpdatedDateTime was received before")
                    return IntakeResult("superseded", _event(row), row.reason or "")
                if (e.updated_at or 0.0) == (latest.updated_at or 0.0):
                    raise ContentConflict(
                        f"eventID {e.event_id} was already received with the same eventUpdatedDateTime and "
                        f"different content: a newer version needs a later eventUpdatedDateTime",
                        field="eventUpdatedDateTime", acceptedEvidence=latest.evidence, postedEvidence=e.evidence)
                original = self._attested_version(versions)
                if original is not None:
                    return self._update(s, e, original)
            else:
                retracted = s.scalar(select(CarrierEventRow).where(
                    CarrierEventRow.source == e.source, CarrierEventRow.party == e.party,
                    CarrierEventRow.status == "retraction", CarrierEventRow.target_event_id == e.event_id))
            if retracted is not None:
                row = self._add_event(s, e, "superseded", f"retracted by event {retracted.event_id} before it "
                                                          f"arrived")
                return IntakeResult("superseded", _event(row), row.reason or "")
            if e.ignored_reason is not None:
                row = self._add_event(s, e, "ignored", e.ignored_reason)
                return IntakeResult("ignored", _event(row), e.ignored_reason)
            assert e.kind and e.subject and e.digest and e.message is not None
            same = s.scalar(select(ReportRow).where(ReportRow.digest == e.digest))
            if same is None:
                live = self._live(s, e.kind, e.subject)
                if live is not None and not is_dead(live.state, live.refusal_name):
                    raise ContentConflict(
                        f"{e.label}: this operator already accepted a different {e.code} event for shipment "
                        f"{e.reference} at {e.location} (digest {live.digest}); a second content is never signed "
                        f"unless the first is retracted on chain", field="eventID", acceptedDigest=live.digest,
                        postedDigest=e.digest)
                self._new_report(s, e.kind, e.subject, e.digest, e.message, e.label, e.reference, live)
            row = self._add_event(s, e, "attested", None, report_digest=e.digest)
            return IntakeResult("accepted", _event(row))

    @staticmethod
    def _live(s: Session, kind: str, slot: str) -> ReportRow | None:
        """The latest report (highest generation) of a slot."""
        return s.scalar(select(ReportRow).where(ReportRow.kind == kind, ReportRow.slot == slot)
                        .order_by(ReportRow.generation.desc()).limit(1))

    def _new_report(self, s: Session, kind: str, slot: str, digest: str, message: dict[str, Any], label: str,
                    reference: str | None, previous: ReportRow | None) -> ReportRow:
        """A report in state accepted: generation 0 of its slot, or the next one after a dead report."""
        generation = 0 if previous is None else previous.generation + 1
        subject = slot if generation == 0 else f"{slot}#{generation}"
        self._ensure_message(s, kind, slot, digest, message, label)
        row = ReportRow(kind=kind, subject=subject, slot=slot, generation=generation, digest=digest,
                        reference=reference, state=State.ACCEPTED.value, created_at=time.time())
        s.add(row)
        s.flush()
        return row

    def _add_event(self, s: Session, e: EventEntry, status: str, reason: str | None, **extra: Any) -> CarrierEventRow:
        row = CarrierEventRow(source=e.source, party=e.party, event_id=e.event_id, dcsa_version=e.dcsa_version,
                              updated_at=e.updated_at, evidence=e.evidence, canonical=e.canonical,
                              reference=e.reference, code=e.code, location=e.location,
                              transport_call=json.dumps(e.transport_call) if e.transport_call else None,
                              status=status, reason=reason, received_at=time.time(), **extra)
        s.add(row)
        try:
            s.flush()
        except IntegrityError as exc:  # pragma: no cover - guarded by the lock; defensive
            raise ContentConflict(f"concurrent conflicting post: {exc.orig}", field="eventID") from None
        return row

    @staticmethod
    def _attested_version(versions: list[CarrierEventRow]) -> CarrierEventRow | None:
        """The version whose report stands for the event: the attested one, or the latest update
        whose replacement report was created (``Store.adopt_replacement``)."""
        attested = [r for r in versions if r.status == "attested" or (r.status == "update" and r.report_digest)]
        return max(attested, key=lambda r: (r.updated_at or 0.0, r.id)) if attested else None

    def _open_intent(self, s: Session, kind: str, e: EventEntry, original: CarrierEventRow, trigger: CarrierEventRow,
                     replacement: str | None) -> IntentRow:
        now = time.time()
        for older in s.scalars(select(IntentRow).where(IntentRow.source == e.source, IntentRow.party == e.party,
                                                       IntentRow.event_id == original.event_id,
                                                       IntentRow.state == "pending")):
            older.state, older.updated_at = "obsolete", now
            older.detail = f"superseded by a later {kind} of the same event (event row {trigger.id})"
        intent = IntentRow(kind=kind, source=e.source, party=e.party, event_id=original.event_id,
                           original_event=original.id, original_digest=original.report_digest,
                           trigger_event=trigger.id, replacement_digest=replacement, reason_hash=e.evidence, state="pending",
                           detail=None, created_at=now, updated_at=now)
        s.add(intent)
        report = s.scalar(select(ReportRow).where(ReportRow.digest == original.report_digest))
        if kind == "retraction" and report is not None and report.state not in [st.value for st in FINAL_STATES] \
                and report.held_reason is None:
            # an update does not hold the original: it is confirmed, then retracted and replaced (the
            # operators' signatures over it can only be voided on chain, see oracle.intents)
            report.held_reason = (f"the carrier retracted event {original.event_id} before it was confirmed: this "
                                  f"operator does not submit it (if another does, it is retracted on chain)")
        s.flush()
        return intent

    def _retraction(self, s: Session, e: EventEntry) -> IntakeResult:
        targets = list(s.scalars(select(CarrierEventRow).where(
            CarrierEventRow.source == e.source, CarrierEventRow.party == e.party,
            CarrierEventRow.event_id == e.retracts, CarrierEventRow.status != "retraction").order_by(CarrierEventRow.id)))
        if e.versioned and targets:
            newest = max(r.updated_at or 0.0 for r in targets)
            if newest > (e.updated_at or 0.0):
                row = self._add_event(s, e, "superseded", "a version of this event with a later "
                                                          "eventUpdatedDateTime was received before the retraction")
                return IntakeResult("superseded", _event(row), row.reason or "")
        original = self._attested_version(targets)
        if original is None:
            detail = (f"retraction of {e.retracts} recorded; this operator never attested that event"
                      + ("" if targets else " (never received): if it arrives later it is not signed"))
            row = self._add_event(s, e, "retraction", detail, target_event_id=e.retracts)
            return IntakeResult("retraction", _event(row), detail)
        row = self._add_event(s, e, "retraction", f"retracts the attested {original.code} at {original.location} "
                                                  f"(report {original.report_digest})", target_event_id=e.retracts)
        intent = self._open_intent(s, "retraction", e, original, row, None)
        return IntakeResult("retraction", _event(row), row.reason or "", _intent(intent))

    def _update(self, s: Session, e: EventEntry, original: CarrierEventRow) -> IntakeResult:
        detail = (f"a newer version of the attested {original.code} at {original.location} (report "
                  f"{original.report_digest}); it is not signed as a second content: the older one is to be "
                  f"retracted and the newer confirmed in its place")
        if e.ignored_reason is not None:
            detail = (f"a newer version of the attested {original.code} at {original.location}, which is no longer "
                      f"an attested event ({e.ignored_reason}): the older one is to be retracted")
        row = self._add_event(s, e, "update", detail, proposed_digest=e.digest,
                              proposed_message=json.dumps(e.message, sort_keys=True) if e.message else None,
                              proposed_label=e.label or None)
        intent = self._open_intent(s, "update", e, original, row, e.digest)
        return IntakeResult("update", _event(row), detail, _intent(intent))

    # ------------------------------------------------------------------------------- intents
    def intents(self, states: Iterable[str] | None = None) -> list[IntentRecord]:
        with self._tx() as s:
            q = select(IntentRow).order_by(IntentRow.id)
            if states is not None:
                q = q.where(IntentRow.state.in_(list(states)))
            return [_intent(r) for r in s.scalars(q)]

    def intents_for(self, event_rows: Iterable[int]) -> list[IntentRecord]:
        ids = list(event_rows)
        with self._tx() as s:
            q = select(IntentRow).where(IntentRow.original_event.in_(ids) | IntentRow.trigger_event.in_(ids))
            return [_intent(r) for r in s.scalars(q.order_by(IntentRow.id))]

    def proposed(self, event_row: int) -> tuple[str, dict[str, Any], str] | None:
        """An update's new content: (digest, struct message, label), for its re-confirmation."""
        with self._tx() as s:
            row = s.get(CarrierEventRow, event_row)
            if row is None or row.proposed_digest is None or row.proposed_message is None:
                return None
            return row.proposed_digest, json.loads(row.proposed_message), row.proposed_label or ""

    def event_reference(self, event_row: int) -> str | None:
        with self._tx() as s:
            row = s.get(CarrierEventRow, event_row)
            return None if row is None else row.reference

    def update_intent(self, intent_id: int, state: str, detail: str | None = None) -> None:
        if state not in ("pending", "done", "failed", "obsolete"):
            raise ValueError(state)
        with self._lock, self._tx() as s:
            row = s.get(IntentRow, intent_id)
            row.state, row.detail, row.updated_at = state, detail, time.time()
            row.attempts += 1

    def accept_struct(self, *, kind: str, subject: str, digest: str, message: dict[str, Any], label: str,
                      reference: str | None = None) -> bool:
        """Persist a report (FX feed) in state `accepted`; False if the same content is already
        there; ContentConflict if the subject is bound to another content."""
        with self._lock, self._tx() as s:
            existing = self._live(s, kind, subject)
            if existing is not None:
                if existing.digest != digest:
                    raise ContentConflict(
                        f"{subject}: already accepted with different content (digest {existing.digest}); "
                        f"a second content is never signed", field="rate",
                        extra={"acceptedDigest": existing.digest, "postedDigest": digest})
                return False
            self._new_report(s, kind, subject, digest, message, label, reference, None)
            return True

    def create_report(self, *, kind: str, slot: str, digest: str, message: dict[str, Any], label: str,
                      reference: str | None = None, event_row: int | None = None) -> Report:
        """A report of our own making (state accepted): a retraction proposal (any number per
        event), or a shipment content for a slot whose latest report is dead (an update's
        replacement; `event_row` is then the update's carrier event, which it comes to stand for).
        Returns the existing report if this digest has one; ContentConflict if the slot is live."""
        with self._lock, self._tx() as s:
            row = s.scalar(select(ReportRow).where(ReportRow.digest == digest))
            if row is None:
                if kind == "retraction":
                    self._ensure_message(s, kind, slot, digest, message, label)
                    row = ReportRow(kind=kind, subject=digest, slot=slot, generation=0, digest=digest,
                                    reference=reference, state=State.ACCEPTED.value, created_at=time.time())
                    s.add(row)
                    s.flush()
                else:
                    live = self._live(s, kind, slot)
                    if live is not None and not is_dead(live.state, live.refusal_name):
                        raise ContentConflict(f"{label}: the slot still holds report {live.digest} "
                                              f"({live.state}); a second content is never signed", field="slot",
                                              acceptedDigest=live.digest, postedDigest=digest)
                    row = self._new_report(s, kind, slot, digest, message, label, reference, live)
            if event_row is not None:
                event = s.get(CarrierEventRow, event_row)
                event.report_digest = digest
            return _report(row, s.get(MessageRow, digest))

    def reports_for_slot(self, kind: str, slot: str) -> list[Report]:
        """Every report of a slot (a retraction's: the eventId), oldest first."""
        with self._tx() as s:
            q = (select(ReportRow, MessageRow).join(MessageRow, MessageRow.digest == ReportRow.digest)
                 .where(ReportRow.kind == kind, ReportRow.slot == slot).order_by(ReportRow.id))
            return [_report(r, m) for r, m in s.execute(q)]

    def messages_for(self, kind: str, subject: str) -> dict[str, dict[str, Any]]:
        """Every struct of `kind` seen for `subject` (ours and peers'), by digest."""
        with self._tx() as s:
            return {m.digest: json.loads(m.message) for m in
                    s.scalars(select(MessageRow).where(MessageRow.kind == kind, MessageRow.subject == subject))}

    def reports_by_digest(self, digests: Iterable[str]) -> list[Report]:
        wanted = [d.lower() for d in digests]
        if not wanted:
            return []
        with self._tx() as s:
            q = (select(ReportRow, MessageRow).join(MessageRow, MessageRow.digest == ReportRow.digest)
                 .where(ReportRow.digest.in_(wanted)))
            return [_report(r, m) for r, m in s.execute(q)]

    def meta(self, key: str) -> str | None:
        with self._tx() as s:
            row = s.get(MetaRow, key)
            return None if row is None else row.value

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._tx() as s:
            row = s.get(MetaRow, key)
            if row is None:
                s.add(MetaRow(key=key, value=value))
            else:
                row.value = value

    # ------------------------------------------------------------------------------- signatures
    def _conflicts_for(self, s: Session, kind: str, subject: str, digest: str, signer: str, origin: str,
                       label: str) -> list[Conflict]:
        """Record a conflict for every other live digest seen for the slot `subject` (ours first).
        Not conflicts: retraction proposals (several may be signed, one can land), and contents
        the chain already settled (our report confirmed, retracted or refused for good: a new
        content for a slot whose event was retracted is the carrier's correction)."""
        if kind == "retraction":
            return []
        own = self._live(s, kind, subject)
        settled = {d for d, st in s.execute(select(ReportRow.digest, ReportRow.state).where(
            ReportRow.kind == kind, ReportRow.slot == subject)) if st in [f.value for f in FINAL_STATES]}
        if digest in settled:
            return []
        others = set(s.scalars(select(SignatureRow.digest).where(SignatureRow.kind == kind,
                                                                  SignatureRow.subject == subject,
                                                                  SignatureRow.digest != digest))) - settled
        if own is not None and own.digest in settled:
            own = None
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
            slot = report.slot or report.subject
            conflicts = self._conflicts_for(s, report.kind, slot, digest, signer, "self", msg.label)
            if s.scalar(select(SignatureRow).where(SignatureRow.digest == digest, SignatureRow.signer == signer)) is None:
                s.add(SignatureRow(kind=report.kind, subject=slot, digest=digest, signer=signer,
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

    def first_signature_at(self, digest: str) -> float | None:
        """When this operator first held a signature over `digest` (its own or a peer's)."""
        with self._tx() as s:
            return s.scalar(select(func.min(SignatureRow.received_at)).where(SignatureRow.digest == digest))

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

    def message(self, digest: str) -> dict[str, Any] | None:
        """A struct seen (ours or a peer's) by its digest."""
        with self._tx() as s:
            row = s.get(MessageRow, digest)
            return None if row is None else json.loads(row.message)

    def report_for_subject(self, kind: str, subject: str) -> Report | None:
        """The latest report of a slot (None if the operator never signed one)."""
        with self._tx() as s:
            row = self._live(s, kind, subject)
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

    def unfinished_keeper_passes(self, submitter: str) -> list[Report]:
        """Reports `submitter` confirmed on chain whose poke pass (``oracle.keeper``) is not done."""
        with self._tx() as s:
            q = (select(ReportRow, MessageRow).join(MessageRow, MessageRow.digest == ReportRow.digest)
                 .where(ReportRow.kind.in_(["shipment", "retraction"]), ReportRow.state == State.CONFIRMED.value,
                        ReportRow.confirmed_by == submitter, ReportRow.keeper_done.is_(False),
                        ReportRow.notified.is_not(None)).order_by(ReportRow.id))
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
                if key == "notified":
                    value = None if value is None else json.dumps(sorted(int(v) for v in value))
                setattr(row, key, value)

    def record_refusal(self, digest: str, refusal: Refusal) -> None:
        """The chain refused (or would refuse) this report: keep why, for the carrier's status."""
        with self._lock, self._tx() as s:
            row = s.scalar(select(ReportRow).where(ReportRow.digest == digest))
            row.refusal_name, row.refusal_sentence = refusal.name, refusal.sentence[:2000]
            row.refusal_args = json.dumps(refusal.arguments, sort_keys=True, default=str)
            row.refusal_final, row.refusal_at, row.refusal_tx = refusal.final, time.time(), refusal.tx_hash

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
            own = self._live(s, kind, subject)
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
            intents = {st: n for st, n in s.execute(select(IntentRow.state, func.count()).group_by(IntentRow.state))}
            return {"reports": by_state, "carrier_events": events, "submissions": int(submissions or 0),
                    "conflicts": int(conflicts or 0), "intents": intents}


    def metrics_snapshot(self) -> dict[str, Any]:
        """What ``oracle.metrics`` exports from the database at each scrape."""
        with self._tx() as s:
            reports = {(k, st): n for k, st, n in s.execute(select(ReportRow.kind, ReportRow.state, func.count())
                                                             .group_by(ReportRow.kind, ReportRow.state))}
            deliveries = {peer: n for peer, n in s.execute(
                select(DeliveryRow.peer, func.count()).where(DeliveryRow.delivered_at.is_(None))
                .group_by(DeliveryRow.peer))}
            intents = {(k, st): n for k, st, n in s.execute(select(IntentRow.kind, IntentRow.state, func.count())
                                                             .group_by(IntentRow.kind, IntentRow.state))}
        pending: dict[str, int] = {}
        for (kind, state), n in reports.items():
            if state in (State.QUORUM.value, State.SUBMITTED.value):
                pending[kind] = pending.get(kind, 0) + n
        return {"reports": reports, "pending": pending, "deliveries": deliveries, "intents": intents}


def other_short(digest: str) -> str:
    return digest[:10] + ".." + digest[-4:]
