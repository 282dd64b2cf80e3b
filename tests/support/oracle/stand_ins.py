"""Stand-ins for unit tests of the engine: the chain side of an operator
(``oracle.chain_port.ChainPort``: LogisticsOracle v2's slots (shipmentId, eventCode, location)
holding one event each, retractions, the reverts a submission may meet), peers that are down, and
a peer operator's signature payload, and one operator (service, HTTP client, engine) wired to them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote

from fastapi.testclient import TestClient

from chain import errors as chain_errors
from chain.clients import Notify
from chain.clients.oracle import event_tag
from chain.clients.deals import MilestoneState
from chain.vocabulary import DealState, EventStatus, MilestoneStatus
from oracle import typed_data as td
from oracle.api import create_app
from oracle.chain_port import Confirmation, OnChainShipment, OperatorSet, RetractionLog, Submission
from oracle.engine import Engine
from oracle.errors import ChainUnavailable
from oracle.hmac_auth import sign_headers, sign_request_headers
from oracle.normalize import canonical_json
from oracle.peers import DeliveryResult
from oracle.service import OperatorService
from oracle.store import Report

from . import builders as b

OPS = tuple(b.key(n).address for n in ("op1", "op2", "op3"))


class NoPeers:
    def deliver(self, peer: str, payload: dict) -> DeliveryResult:
        return DeliveryResult(False, None, None, "peer down")


def peer_payload(struct: Any, signer_name: str, *, sign_as: str | None = None,
                 domain: td.Domain | None = None) -> dict[str, Any]:
    """What operator `signer_name` posts to ``/signatures`` for `struct` (signed by `sign_as`)."""
    domain = domain or b.domains()[td.CONTRACT_OF[struct.kind]]
    sig = td.sign(b.key(sign_as or signer_name), struct, domain)
    return {"kind": struct.kind, "message": struct.to_json(), "digest": "0x" + td.digest(struct, domain).hex(),
            "signer": b.key(signer_name).address, "signature": "0x" + sig.hex(), "from": signer_name}


def slot(ev: td.ShipmentEvent) -> tuple[bytes, str, str]:
    return ev.shipment_id, ev.event_code, ev.location


@dataclass
class FakeChain:
    operators: tuple[str, ...] = OPS
    threshold: int = 2
    staleness_window: int = 3 * 86_400
    error: str | None = None  # every submission reverts with this error (and `args`), nothing changes
    args: dict = field(default_factory=dict)
    race_error: str | None = None  # the submission is taken on chain, then reverts (someone else won)
    now: int = field(default_factory=lambda: int(time.time()))
    slots: dict[tuple[bytes, str, str], bytes] = field(default_factory=dict)  # slot -> eventId
    retracted: dict[bytes, RetractionLog] = field(default_factory=dict)
    confirmations: dict[bytes, Confirmation] = field(default_factory=dict)  # eventId -> its EventConfirmed log
    submissions: list[tuple[str, int]] = field(default_factory=list)  # (subject, signatures)
    notified: list[list[Notify]] = field(default_factory=list)
    failing: set[int] = field(default_factory=set)  # refs whose callback fails (ListenerFailed)
    block: int = 1000
    lost_by: str | None = None  # a submission mines (sent by this address) but its outcome never comes back

    def operator_set(self, kind: str) -> OperatorSet:
        return OperatorSet(self.operators, self.threshold, "chain", self.staleness_window)

    def chain_time(self) -> int:
        return self.now

    # -- reads
    def confirm(self, ev: td.ShipmentEvent, event_id: bytes | None = None, tx_hash: str | None = None,
                submitter: str | None = None) -> bytes:
        """Fill the event's slot (as another operator's submission would; with `tx_hash`, its
        EventConfirmed log, sent by `submitter`, can be found)."""
        event_id = event_id or td.digest(ev, b.domains()["shipment"])
        self.slots[slot(ev)] = event_id
        if tx_hash is not None:
            self.block += 1
            self.confirmations[event_id] = Confirmation(tx_hash, self.block, submitter)
        return event_id

    def shipment_status(self, ev: td.ShipmentEvent) -> OnChainShipment:
        event_id = td.digest(ev, b.domains()["shipment"])
        held = self.slots.get(slot(ev))
        if event_id in self.retracted:
            return OnChainShipment(EventStatus.RETRACTED, None if held is None else event_tag(held))
        if held == event_id:
            return OnChainShipment(EventStatus.CONFIRMED, event_tag(held))
        return OnChainShipment(EventStatus.NONE, None if held is None else event_tag(held))

    def is_retracted(self, event_id: bytes) -> bool:
        return event_id in self.retracted

    def find_confirmation(self, event_id: bytes) -> Confirmation | None:
        return self.confirmations.get(event_id)

    def find_retraction(self, event_id: bytes) -> RetractionLog | None:
        return self.retracted.get(event_id)

    def retractions_since(self, from_block: int) -> tuple[list[RetractionLog], int]:
        return sorted((r for r in self.retracted.values() if r.block_number >= from_block),
                      key=lambda r: r.block_number), self.block + 1

    def head(self) -> tuple[int, int]:
        return self.block, self.now

    def retract(self, ev: td.ShipmentEvent, reason_hash: bytes = b"\x01" * 32) -> RetractionLog:
        """Retract a confirmed event (as another operator's retraction report would)."""
        return self._retract(ev, td.Retraction(td.digest(ev, b.domains()["shipment"]), reason_hash, self.now))

    def _retract(self, ev: td.ShipmentEvent, retraction: td.Retraction, submitter: str | None = None
                 ) -> RetractionLog:
        event_id = td.digest(ev, b.domains()["shipment"])
        if self.slots.get(slot(ev)) != event_id:
            raise chain_errors.error_class("EventNotConfirmed")({"eventId": event_id}, tx_hash=None)
        del self.slots[slot(ev)]
        self.block += 1
        log = RetractionLog("0x" + event_id.hex(), "0x" + retraction.reason_hash.hex(), retraction.retracted_at,
                            "0x" + f"{self.block:064x}", self.block, submitter)
        self.retracted[event_id] = log
        return log

    def latest_rate(self, base: str, quote: str):
        return None

    # -- writes
    def _revert(self) -> None:
        if self.error:
            raise chain_errors.error_class(self.error)(self.args, tx_hash=None)

    def submit_shipment(self, ev: td.ShipmentEvent, sigs: list[bytes], notify: Sequence[Notify] = ()) -> Submission:
        self.submissions.append((ev.subject, len(sigs)))
        self._revert()
        if self.lost_by is not None:  # mined; the sender stops (or the receipt times out) before it hears
            self.confirm(ev, tx_hash="0x" + "1d" * 32, submitter=self.lost_by)
            raise ChainUnavailable("no receipt for 0x" + "1d" * 32)
        event_id = self.confirm(ev)
        if self.race_error:  # someone else won the race
            raise chain_errors.error_class(self.race_error)({}, tx_hash=None)
        self.notified.append(list(notify))
        self.block += 1
        return Submission("0x" + "ab" * 32, "0x" + event_id.hex(), "me", self.block,
                          tuple(n.ref for n in notify if n.ref in self.failing))

    def submit_retraction(self, ev: td.ShipmentEvent, retraction: td.Retraction, sigs: list[bytes],
                          notify: Sequence[Notify] = ()) -> Submission:
        self.submissions.append((retraction.subject, len(sigs)))
        self._revert()
        log = self._retract(ev, retraction, self.lost_by)
        if self.lost_by is not None:
            raise ChainUnavailable("no receipt for " + log.tx_hash)
        self.notified.append(list(notify))
        return Submission(log.tx_hash, log.event_id, "me", log.block_number)

    def submit_rate(self, rate, sigs):  # pragma: no cover - not used by these tests
        raise NotImplementedError


# ---------------------------------------------------------------------------------------- one operator
def operator_on(tmp: Path, chain: Any, name: str = "op1", keeper: Any = None,
                **overrides: Any) -> tuple[OperatorService, TestClient, Engine]:
    """Operator `name` on `chain` (no live peers), submitting at once when it holds a quorum."""
    settings = {"leader_timeout_seconds": 0.0001, "confirm_poll_seconds": 0.0001, **overrides}
    svc = b.service_for(tmp, name, **settings)
    client = TestClient(create_app(svc), client=("127.0.0.1", 40000))
    engine = Engine(svc, svc.store, NoPeers(), chain, keeper=keeper)
    engine.refresh_operator_sets(force=True)
    return svc, client, engine


def post_event(client: TestClient, event: Any, expect: int | None = 202, path: str = "/carrier-events") -> dict:
    """The carrier posts `event` (signed with its credential); the answer (status checked)."""
    body = canonical_json(event)
    resp = client.post(path, content=body, headers=sign_headers(b.CARRIER, b.CARRIER_SECRET, body))
    if expect is not None:
        assert resp.status_code == expect, resp.text
    return resp.json()


def add_signature(svc: OperatorService, client: TestClient, digest: str, peer: str = "op2") -> None:
    """Peer `peer` signs the report `digest` of `svc` (delivered to ``/signatures``)."""
    report = svc.store.report(digest)
    struct = td.struct_from_json(report.kind, report.message)
    assert client.post("/signatures", json=peer_payload(struct, peer)).status_code == 200


def carrier_status(client: TestClient, event_id: str, source: str = b.CARRIER, secret: str = b.CARRIER_SECRET,
                   sign_path: str | None = None) -> Any:
    """``GET /events/{eventID}`` signed by the carrier (over `sign_path` if given)."""
    path = "/events/" + quote(event_id, safe="")
    return client.get(path, headers=sign_request_headers(source, secret, "GET", sign_path or path))


def run_until(engine: Engine, svc: OperatorService, digest: str, until: Callable[[Report], bool],
              rounds: int = 20) -> Report:
    """Engine ticks until the report `digest` satisfies `until` (its last state either way)."""
    for _ in range(rounds):
        engine.tick()
        if until(svc.store.report(digest)):
            break
        time.sleep(0.01)
    return svc.store.report(digest)


# ---------------------------------------------------------------------------------------- deals
@dataclass(frozen=True)
class DealStub:
    """The two fields of ``chain.clients.deals.Deal`` the keeper reads."""

    deal_id: int
    state: DealState


@dataclass
class FakeDeals:
    """The deal engine as the keeper sees it (``oracle.chain_port.DealsPort``): deals on shipments,
    their milestones, what the oracle (`chain`) confirms, and the pokes sent."""

    chain: FakeChain
    engine_address: str = "0x" + "e1" * 20
    shipments: dict[bytes, list[int]] = field(default_factory=dict)
    states: dict[int, DealState] = field(default_factory=dict)
    schedule: dict[int, list[MilestoneState]] = field(default_factory=dict)
    poked: list[int] = field(default_factory=list)
    down: bool = False  # pokes fail with ChainUnavailable

    def add(self, shipment: bytes, deal_id: int, *milestones: tuple, state: DealState = DealState.FUNDED) -> None:
        """A deal with milestones (code, location, status)."""
        self.shipments.setdefault(shipment, []).append(deal_id)
        self.states[deal_id] = state
        self.schedule[deal_id] = [MilestoneState(c, loc, 10_000 // len(milestones), st, 100) for c, loc, st in milestones]

    def funded_deals(self, shipment: bytes) -> list[int]:
        return sorted(self.shipments.get(shipment, []))

    def deals(self, deal_ids: Sequence[int]) -> list[DealStub]:
        return [DealStub(i, self.states[i]) for i in deal_ids]

    def milestones(self, deal_id: int) -> list[MilestoneState]:
        return list(self.schedule[deal_id])

    def slot_met(self, shipment: bytes, event_code: str, location: str) -> bool:
        return any(s == shipment and c == event_code and location in ("", loc) for s, c, loc in self.chain.slots)

    def releasable(self, deal_id: int) -> list[int]:
        shipment = next(s for s, ids in self.shipments.items() if deal_id in ids)
        return [i for i, m in enumerate(self.schedule[deal_id])
                if m.status == MilestoneStatus.PENDING and self.slot_met(shipment, m.event_code, m.location)]

    def poke(self, deal_id: int) -> Submission | None:
        if self.down:
            raise ChainUnavailable("node down (test)")
        self.poked.append(deal_id)
        return Submission("0x" + f"{deal_id:064x}", None, "me", self.chain.block)
