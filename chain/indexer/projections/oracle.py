"""Read model of the quorum-signed oracles: confirmed and retracted shipment events, failed
listener notifications, operator sets, FX rates.

Tables (migration ``0003_tradenet_v2``):

* ``oracle_events``: one row per confirmed shipment event (per transport call: shipment, code,
  location), ``status`` Confirmed or Retracted, with the retraction's time (``retracted_at``, as
  the operators signed it), reason hash, submitter and signers;
* ``listener_failures``: every escrow a report named that was not called or reverted
  (``ref``: the reference the submitter named, a deal id for the deal engine);
* ``oracle_quorums``: operator set, k, operator-set version and staleness window of each oracle
  contract (LogisticsOracle, FxRateStore);
* ``fx_rates``: every stored FX observation (rate with 8 decimals).
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table

from ...vocabulary import EventStatus
from ..projection import IndexedEvent, ProjectionContext
from ..types import JSONType, Uint256
from .handlers import Handlers, log_columns, log_key, merge
from .values import code, hex_bytes

metadata = MetaData()

oracle_events = Table(
    "oracle_events", metadata,
    Column("event_id", String(66), primary_key=True),
    Column("shipment_id", String(66), nullable=False),
    Column("event_code", String(4), nullable=False),
    Column("location", String(5), nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("evidence_hash", String(66), nullable=False),
    Column("submitter", String(42), nullable=False),
    Column("signers", JSONType, nullable=False),
    Column("status", String(10), nullable=False),
    Column("confirmed_block", BigInteger, nullable=False),
    Column("confirmed_at", BigInteger, nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("retracted_block", BigInteger),
    Column("retracted_at", BigInteger),
    Column("retraction_reason", String(66)),
    Column("retraction_submitter", String(42)),
    Column("retraction_signers", JSONType),
    Index("ix_oracle_events_shipment", "shipment_id"),
    Index("ix_oracle_events_confirmed_block", "confirmed_block"),
)

listener_failures = Table(
    "listener_failures", metadata,
    *log_columns(),
    Column("event_id", String(66), nullable=False),
    Column("listener", String(42), nullable=False),
    Column("ref", Uint256(), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Index("ix_listener_failures_event_id", "event_id"),
    Index("ix_listener_failures_listener", "listener"),
)

oracle_quorums = Table(
    "oracle_quorums", metadata,
    Column("address", String(42), primary_key=True),
    Column("contract", String(128), nullable=False),
    Column("operators", JSONType, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("staleness_window", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

fx_rates = Table(
    "fx_rates", metadata,
    Column("base_currency", String(3), primary_key=True),
    Column("quote_currency", String(3), primary_key=True),
    Column("observed_at", BigInteger, primary_key=True, autoincrement=False),
    Column("rate", Uint256(), nullable=False),  # fixed point, 8 decimals
    Column("digest", String(66), nullable=False),
    Column("submitter", String(42), nullable=False),
    Column("signers", JSONType, nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

TABLES = (oracle_events, listener_failures, oracle_quorums, fx_rates)

handlers = Handlers()
ORACLE, FX = "LogisticsOracle", "FxRateStore"


@handlers.on(ORACLE, "EventConfirmed")
def event_confirmed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(oracle_events, {
        "event_id": hex_bytes(a["eventId"]), "shipment_id": hex_bytes(a["shipmentId"]),
        "event_code": code(a["eventCode"]), "location": code(a["location"]), "event_time": a["eventTime"],
        "evidence_hash": hex_bytes(a["evidenceHash"]), "submitter": a["submitter"], "signers": list(a["signers"]),
        "status": EventStatus.CONFIRMED.label, "confirmed_block": ev.block_number,
        "confirmed_at": ev.block_timestamp, "tx_hash": ev.tx_hash, "retracted_block": None, "retracted_at": None,
        "retraction_reason": None, "retraction_submitter": None, "retraction_signers": None})


@handlers.on(ORACLE, "EventRetracted")
def event_retracted(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.update(oracle_events, {"event_id": hex_bytes(a["eventId"])}, {
        "status": EventStatus.RETRACTED.label, "retracted_block": ev.block_number, "retracted_at": a["retractedAt"],
        "retraction_reason": hex_bytes(a["reasonHash"]), "retraction_submitter": a["submitter"],
        "retraction_signers": list(a["signers"])})


@handlers.on(ORACLE, "ListenerFailed")
def listener_failed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(listener_failures, {**log_key(ev), "event_id": hex_bytes(a["eventId"]), "listener": a["listener"],
                                   "ref": a["ref"], "tx_hash": ev.tx_hash})


def _quorum(ctx: ProjectionContext, ev: IndexedEvent, **changes) -> None:
    merge(ctx, oracle_quorums, {"address": ev.address},
          {"contract": ev.contract, "operators": [], "threshold": 0, "version": 0, "staleness_window": 0},
          {**changes, "updated_block": ev.block_number})


@handlers.on(ORACLE, "OperatorsChanged")
@handlers.on(FX, "OperatorsChanged")
def operators_changed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    _quorum(ctx, ev, operators=list(a["operators"]), threshold=a["threshold"], version=a["version"])


@handlers.on(ORACLE, "StalenessWindowChanged")
@handlers.on(FX, "StalenessWindowChanged")
def staleness_window_changed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _quorum(ctx, ev, staleness_window=ev.args["current"])


@handlers.on(FX, "RateUpdated")
def rate_updated(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(fx_rates, {
        "base_currency": code(a["baseCurrency"]), "quote_currency": code(a["quoteCurrency"]),
        "observed_at": a["observedAt"], "rate": a["rate"], "digest": hex_bytes(a["digest"]),
        "submitter": a["submitter"], "signers": list(a["signers"]), "block_number": ev.block_number})


__all__ = ["TABLES", "handlers", *(t.name for t in TABLES)]
