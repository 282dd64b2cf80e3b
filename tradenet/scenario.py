"""The local network's main demo trade, played through the node API over HTTP as the
participants would, narrated in trade-finance terms.

Every participant signs in to the node with its own key (SIWE) and makes its own calls: the
settlement bank issues tokenised deposits, the exporter uploads and tokenises an invoice, the
importer confirms it (確權), a bonded warehouse issues a receipt that the exporter pledges to its
bank, the bank offers financing and the exporter accepts, the bank funds, the carrier's DCSA
events go to the oracle operators and the quorum's reports release the milestones, and the
importer pays early. Nothing moves the chain's clock: every date is chain time, which follows
the wall clock, so the network stays live for new trades afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.consortium import DEMO_PARTICIPANTS, Participant
from chain.deployment import Clients, Deployment
from chain.money import fmt

from .node_client import ApiError, NodeClient, Session

log = logging.getLogger(__name__)

DAY = 86_400


class Narrator:
    """Prints numbered steps (the demo's output); tests pass a collecting function."""

    def __init__(self, out: Callable[[str], None] = print):
        self.out = out
        self.step = 0

    def __call__(self, text: str) -> None:
        self.step += 1
        self.out(f"{self.step:>2}. {_tidy(text)}")

    def note(self, text: str) -> None:
        self.out(f"    {_tidy(text)}")


def _tidy(text: str) -> str:
    """Legal names end in a period ("B.V."); don't print a second one after it (an ellipsis
    "..." stays as it is)."""
    return re.sub(r"(?<!\.)\.\.(?!\.)", ".", text)


def iso_day(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


def iso_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Cast:
    """Who plays in the demo: their names, addresses, and every contract as each of them."""

    chain: Chain
    deployment: Deployment
    keys: Mapping[str, LocalAccount]
    people: Mapping[str, Participant]

    def name(self, key: str) -> str:
        return self.people[key].name

    def addr(self, key: str) -> str:
        return self.keys[key].address

    def who(self, key: str) -> str:
        """A name next to its address, for the narration."""
        return f"{self.name(key)} ({self.addr(key)[:10]}...)"

    def as_(self, key: str) -> Clients:
        return self.deployment.clients(self.chain, self.keys[key])


def demo_cast(chain: Chain, deployment: Deployment, keys: Mapping[str, LocalAccount]) -> Cast:
    return Cast(chain, deployment, keys, {p.key: p for p in DEMO_PARTICIPANTS if p.key in keys})


def document_hash(content: bytes) -> bytes:
    """sha-256 of the (encrypted) document, as anchored on chain."""
    return hashlib.sha256(content).digest()


class Players:
    """Every participant's session on the node (each signs in with its own key, once)."""

    def __init__(self, node: NodeClient, cast: Cast):
        self.node = node
        self.cast = cast
        self._sessions: dict[str, Session] = {}

    def __call__(self, key: str) -> Session:
        if key not in self._sessions:
            self._sessions[key] = self.node.login(self.cast.keys[key])
        return self._sessions[key]

    def sign_in(self, keys: Any) -> None:
        for k in keys:
            self(k)

    def chain_time(self) -> int:
        return int(self.node.health()["chain_time"])

    def balance(self, key: str, currency: str = "USD") -> dict[str, Any]:
        out = self(key).get(f"/accounts/{self.cast.addr(key)}/balances")
        for m in out["balances"]:
            if m["currency"] == currency:
                return m
        return {"currency": currency, "minor": "0", "display": fmt(0, currency)}

    def supply(self, currency: str = "USD") -> dict[str, Any]:
        for c in self("auditor").get("/currencies")["items"]:
            if c["currency"] == currency:
                return c["total_supply"]
        raise KeyError(currency)


def money(minor: int, currency: str = "USD") -> dict[str, Any]:
    return {"currency": currency, "minor": str(minor)}


def upload(p: Session, content: bytes, readers: list[str]) -> dict[str, Any]:
    """An encrypted document on the node's store for its uploader and `readers` (sha-256, CID)."""
    return p.post("/documents", content=content, params={"readers": ",".join(readers)},
                  headers={"Content-Type": "application/octet-stream"})


@dataclass
class ScenarioResult:
    invoice_id: int = 0
    receipt_id: int = 0


INVOICE_NUMBER = "INV-2026-0042"
FACE_VALUE = 1_250_000_00


def run_core_trade(players: Players, say: Narrator | None = None) -> ScenarioResult:
    """Deposits, a tokenised and confirmed invoice (a duplicate refused), a pledged warehouse receipt."""
    say = say or Narrator()
    cast = players.cast
    name, addr, who = cast.name, cast.addr, cast.who
    result = ScenarioResult()
    players.sign_in(cast.people)  # the demo participants (keys may hold others)
    members = players("auditor").get("/participants", params={"limit": 100})["items"]
    reg = cast.deployment.clients(cast.chain).registry
    say(f"Consortium: {len(members)} members; governance by {reg.active_admin_count()} administrators, every "
        f"membership change needs {reg.approval_threshold()} approvals. Each participant signed in to the node "
        f"with its own key (Sign-In with Ethereum).")
    for m in members:
        say.note(f"{m['legal_name'] or '?':<44} {m['account'][:10]}...  {'/'.join(m['roles']):<10} LEI {m['lei']}  "
                 f"{m['country']}")

    treasury = players("treasury")
    treasury.write("/treasury/USD/deposits", {"to": addr("lender"), "amount": 5_000_000_00,
                                              "deposit_reference": "DEP-LENDER-0001"})
    treasury.write("/treasury/USD/deposits", {"to": addr("buyer"), "amount": 2_000_000_00,
                                              "deposit_reference": "DEP-BUYER-0001"})
    say(f"{name('treasury')} issued tokenised deposits against fiat received: {fmt(5_000_000_00, 'USD')} to "
        f"{who('lender')}, {fmt(2_000_000_00, 'USD')} to {who('buyer')} (POST /treasury/USD/deposits).")

    now = players.chain_time()
    seller = players("seller")
    doc = upload(seller, b"Commercial invoice INV-2026-0042: 12,000 LED panels, FOB Shenzhen",
                 [addr("buyer"), addr("lender"), addr("lender_b")])
    body = {"buyer": addr("buyer"), "invoice_number": INVOICE_NUMBER, "face_value": money(FACE_VALUE),
            "issue_date": now, "due_date": now + 90 * DAY, "document_hash": doc["sha256"],
            "document_cid": doc["cid"], "transport_document": "OOLU-BL-2026-0042"}
    minted = seller.write("/invoices", body)
    result.invoice_id = int(minted["invoice_id"])
    say(f"{who('seller')} uploaded its commercial invoice (encrypted for the buyer and the banks, CID "
        f"{doc['cid'][:16]}...) and tokenised invoice {INVOICE_NUMBER} to {name('buyer')} for "
        f"{fmt(FACE_VALUE, 'USD')}, issued {iso_day(now)}, due {iso_day(now + 90 * DAY)} (chain time; invoice "
        f"token {minted['invoice_id_hex'][:18]}...: its id is its fingerprint).")

    # a minute apart on the same UTC day (the fingerprint counts the issue day): near midnight, a minute earlier
    retry = {**body, "invoice_number": "inv 2026/0042", "issue_date": now + 60 if now % DAY < DAY - 60 else now - 60,
             "document_hash": "0x" + document_hash(b"copy of INV-2026-0042").hex(), "document_cid": "bafkreicopy0042"}
    try:
        players("seller_ops").post("/invoices", retry)
        raise AssertionError("duplicate invoice was accepted")
    except ApiError as exc:
        assert exc.error == "DuplicateInvoice", exc
        say(f"A second account of the same exporter tried to tokenise the same invoice again as "
            f"'{retry['invoice_number']}' a minute later: refused ({exc.status} {exc.error}: \"{exc.body['detail']}\") "
            f"- the fingerprint compares the number without case and separators, the date by day and the seller "
            f"by LEI.")

    buyer = players("buyer")
    buyer.write(f"/invoices/{result.invoice_id}/confirm")
    inv = seller.get(f"/invoices/{result.invoice_id}")
    say(f"{who('buyer')} confirmed the debt (確權): invoice {INVOICE_NUMBER} is now {inv['state'].lower()} and can be "
        f"financed.")

    warehouse = players("warehouse")
    wr = upload(warehouse, b"Warehouse receipt: 400 t copper cathodes, LME grade A, bay 7",
                [addr("seller"), addr("lender")])
    issued = warehouse.write("/receipts", {
        "depositor": addr("seller"), "commodity": "Copper cathodes", "quantity": 400_000, "unit": "kg",
        "grade": "LME Grade A", "location": "NLRTM", "insured_value": money(3_600_000_00), "expiry": now + 180 * DAY,
        "document_hash": wr["sha256"], "document_cid": wr["cid"]})
    result.receipt_id = int(issued["receipt_id"])
    say(f"{who('warehouse')} issued warehouse receipt #{result.receipt_id} to {name('seller')}: 400,000 kg copper "
        f"cathodes (LME Grade A) at NLRTM, insured for {fmt(3_600_000_00, 'USD')}, valid until "
        f"{iso_day(now + 180 * DAY)}.")
    seller.write(f"/receipts/{result.receipt_id}/pledge", {"lender": addr("lender"), "maturity": now + 60 * DAY,
                                                           "grace_period": 10 * DAY})
    say(f"{name('seller')} pledged receipt #{result.receipt_id} directly to {name('lender')} for a loan maturing "
        f"{iso_day(now + 60 * DAY)}: it is locked (no transfer, no redemption) until the bank releases it, and the "
        f"bank could take it only after maturity plus a 10-day grace period.")
    try:
        seller.post(f"/receipts/{result.receipt_id}/redemption-request")
        raise AssertionError("pledged receipt redeemed")
    except ApiError as exc:
        assert exc.error == "ReceiptPledged", exc
        say.note(f"Taking the goods out while the receipt is pledged was refused: {exc.error} (\"{exc.body['detail']}\").")

    t = players.chain_time()
    say(f"Balances at chain time {iso_time(t)}: {name('lender')} {players.balance('lender')['display']}, "
        f"{name('buyer')} {players.balance('buyer')['display']}; USD deposits in issue "
        f"{players.supply('USD')['display']}.")
    return result


@dataclass
class ShipmentResult:
    deal_id: int = 0
    releases: list[dict] = field(default_factory=list)  # per milestone: code, amount, block, latency_ms


PostEvent = Callable[[dict], None]


def wait_released(p: Session, deal_id: int, before: int, timeout: float) -> dict[str, Any]:
    """Polls the deal on the node until more than `before` has been released."""
    deadline = time.monotonic() + timeout
    while True:
        deal = p.get(f"/deals/{deal_id}")
        if int(deal["released"]["minor"]) > before:
            return deal
        if time.monotonic() > deadline:
            raise TimeoutError(f"deal #{deal_id}: no release within {timeout:.0f}s of the carrier's event")
        p.node.wait_indexed(0)  # in-process nodes index here; a running node indexes by itself
        time.sleep(0.1)


def run_shipment_finance(players: Players, invoice_id: int, carrier_event: Callable[[str, str, str], dict],
                         post_event: PostEvent, say: Narrator | None = None,
                         transport_document: str = "OOLU-BL-2026-0042", release_timeout: float = 60.0) -> ShipmentResult:
    """Receivable financing of `invoice_id` through the API, released by the oracle quorum.

    `carrier_event(reference, code, locode)` builds the carrier's DCSA event, `post_event`
    delivers it to the oracle operators (HMAC-signed HTTP, as the carrier does); the releases
    then happen on chain with no other step."""
    say = say or Narrator()
    cast = players.cast
    name, addr, who = cast.name, cast.addr, cast.who
    result = ShipmentResult()
    seller, lender, buyer = players("seller"), players("lender"), players("buyer")
    supply_before = players.supply("USD")["minor"]
    inv = seller.get(f"/invoices/{invoice_id}")
    principal, fee = 1_000_000_00, 18_750_00  # 80% advance; 7.5% p.a. for 90 days on the advance
    now = players.chain_time()
    terms = {"product": "Receivable", "collateral_id": str(invoice_id), "borrower": addr("seller"),
             "lender": addr("lender"), "currency": "USD", "principal": principal, "fee": fee,
             "maturity": int(inv["due_date"]), "grace_period": 15 * DAY, "accept_by": now + DAY,
             "transport_document": transport_document,
             "milestones": [{"event_code": "DEPA", "location": "CNSZX", "share_bps": 4000},
                            {"event_code": "ARRI", "location": "NLRTM", "share_bps": 6000}]}
    offer = lender.post("/offers", {"terms": terms, "note": "80% advance, 7.5% p.a."})
    seen = seller.get("/offers")["items"]
    say(f"{who('lender')} offered to finance invoice {inv['invoice_number']}: advance {fmt(principal, 'USD')} against "
        f"{inv['face_value']['display']}, fee {fmt(fee, 'USD')}, maturity {iso_day(terms['maturity'])} with the "
        f"invoice (chain time); released 40% when the vessel leaves Shenzhen and 60% when it arrives in Rotterdam "
        f"under B/L {transport_document}. Its node signed the terms (EIP-712); {name('seller')} sees "
        f"{len(seen)} offer(s) for its invoices.")
    accepted = seller.write(f"/offers/{offer['id']}/accept")
    result.deal_id = int(accepted["deal_id"])
    say(f"{name('seller')} accepted the offer: deal #{result.deal_id} (block {accepted['block_number']}); the invoice "
        f"moved into the deal's custody.")
    lender.write(f"/deals/{result.deal_id}/fund")
    state = seller.get(f"/invoices/{invoice_id}")["state"]
    say(f"{name('lender')} funded the escrow with {fmt(principal, 'USD')}; the invoice is now {state.lower()}. Funds "
        f"wait for the logistics oracles.")

    released = 0
    for code, place, label in (("DEPA", "CNSZX", "departed Shenzhen (CNSZX)"),
                               ("ARRI", "NLRTM", "arrived in Rotterdam (NLRTM)")):
        event = carrier_event(transport_document, code, place)
        t0 = time.monotonic()
        post_event(event)
        deal = wait_released(seller, result.deal_id, released, release_timeout)
        latency_ms = int((time.monotonic() - t0) * 1000)
        amount = int(deal["released"]["minor"]) - released
        released = int(deal["released"]["minor"])
        ms = next(m for m in deal["milestones"] if m["event_code"] == code)
        result.releases.append({"code": code, "amount": amount, "block": ms["released_block"], "latency_ms": latency_ms})
        say(f"Carrier {who('carrier')} reported: vessel {label} at {event['eventDateTime']}. Two of three oracle "
            f"operators signed it and one report confirmed it on chain; in that same transaction (block "
            f"{ms['released_block']}) the deal released {fmt(amount, 'USD')} to {name('seller')} ({latency_ms} ms "
            f"after the carrier's message).")
        got = seller.write(f"/deals/{result.deal_id}/withdraw")
        say.note(f"{name('seller')} withdrew {got['withdrawn']['display']}; balance "
                 f"{players.balance('seller')['display']}.")

    paid = buyer.write(f"/deals/{result.deal_id}/repay")
    deal = lender.get(f"/deals/{result.deal_id}")
    say(f"Once the goods arrived, {who('buyer')} paid the invoice's face value {inv['face_value']['display']} into the "
        f"deal on {iso_day(players.chain_time())}, ahead of the due date {iso_day(terms['maturity'])} (chain time; "
        f"block {paid['block_number']}). Waterfall: {name('lender')} {deal['to_lender']['display']} (principal + fee), "
        f"{name('seller')} {deal['to_borrower']['display']} (the remainder). The invoice is "
        f"{seller.get(f'/invoices/{invoice_id}')['state'].lower()}.")
    lender.write(f"/deals/{result.deal_id}/withdraw")
    seller.write(f"/deals/{result.deal_id}/withdraw")
    deal = seller.get(f"/deals/{result.deal_id}")
    supply = players.supply("USD")
    say(f"Both withdrew; the deal is {deal['state'].lower()}. {name('lender')} earned {fmt(fee, 'USD')}; "
        f"{name('seller')} received {fmt(FACE_VALUE - fee, 'USD')} in total ({fmt(principal, 'USD')} early, against "
        f"shipment milestones). USD in issue is unchanged at {supply['display']}"
        + (" - no money created or lost." if supply["minor"] == supply_before else " - MISMATCH!"))
    return result
