"""The local network's demo trade, narrated in trade-finance terms.

Runs against a bootstrapped deployment (see `chain.consortium.bootstrap`): the settlement bank
issues tokenised deposits, an exporter tokenises an invoice, the importer confirms it (確權), a
bonded warehouse issues a receipt for the goods and the exporter pledges it to its bank.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping

from eth_account.signers.local import LocalAccount

from .client import Chain
from .consortium import DEMO_PARTICIPANTS, Participant
from .contracts import InvoiceTerms, ReceiptTerms
from .deploy import Deployment
from .money import fmt

log = logging.getLogger(__name__)

DAY = 86_400


@dataclass
class ScenarioResult:
    invoice_id: int = 0
    receipt_id: int = 0
    gas: dict[str, int] = field(default_factory=dict)


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
    """Legal names end in a period ("B.V."); don't print a second one at the sentence end."""
    return text[:-1] if text.endswith("..") else text.replace("..,", ".,").replace(".. ", ". ")


def document_hash(content: bytes) -> bytes:
    """sha-256 of the (encrypted) document, as anchored on chain."""
    return hashlib.sha256(content).digest()


def run_core_trade(
    chain: Chain,
    deployment: Deployment,
    keys: Mapping[str, LocalAccount],
    say: Narrator | None = None,
    participants: Mapping[str, Participant] | None = None,
) -> ScenarioResult:
    say = say or Narrator()
    people = participants or {p.key: p for p in DEMO_PARTICIPANTS}
    name = lambda k: people[k].name  # noqa: E731
    addr = lambda k: keys[k].address  # noqa: E731
    result = ScenarioResult()
    registry = deployment.registry_client(chain)

    say(f"Consortium governance: {registry.active_admin_count()} administrators, every membership change "
        f"needs {registry.approval_threshold()} approvals.")
    for p in people.values():
        m = registry.member(addr(p.key))
        say.note(f"{p.name:<52} {'/'.join(m.roles.names()):<10} LEI {m.lei}  {m.country}")

    usd = deployment.token(chain, "USD", keys["treasury"])
    r = usd.mint(addr("lender"), 5_000_000_00, b"DEP-LENDER-0001".ljust(32, b"\0"))
    result.gas["SettlementToken.mint"] = r["gasUsed"]
    usd.mint(addr("buyer"), 2_000_000_00, b"DEP-BUYER-0001".ljust(32, b"\0"))
    say(f"{name('treasury')} issued tokenised deposits: {fmt(5_000_000_00, 'USD')} to {name('lender')}, "
        f"{fmt(2_000_000_00, 'USD')} to {name('buyer')}.")

    now = chain.w3.eth.get_block("latest")["timestamp"]
    invoice_doc = b"Commercial invoice INV-2026-0042: 12,000 LED panels, FOB Shenzhen"
    terms = InvoiceTerms(
        buyer=addr("buyer"), invoice_number="INV-2026-0042", face_value=1_250_000_00, currency="USD",
        issue_date=now, due_date=now + 90 * DAY, document_hash=document_hash(invoice_doc),
        document_cid="bafkreidemoinvoice2026x0042",
    )
    seller_invoices = deployment.invoices(chain, keys["seller"])
    result.invoice_id = seller_invoices.mint(terms)
    result.gas["InvoiceToken.mint"] = seller_invoices.last_receipt["gasUsed"]
    say(f"{name('seller')} tokenised invoice {terms.invoice_number} to {name('buyer')} for "
        f"{fmt(terms.face_value, 'USD')}, due in 90 days (invoice token #{result.invoice_id}).")

    from . import errors

    try:
        deployment.invoices(chain, keys["seller_ops"]).mint(terms)
        raise AssertionError("duplicate invoice was accepted")
    except errors.DuplicateInvoice as exc:
        say(f"A second account of the same exporter tried to tokenise the same invoice again: refused "
            f"(duplicate fingerprint, already invoice #{exc['existingId']}) - no double financing.")

    r = deployment.invoices(chain, keys["buyer"]).confirm(result.invoice_id)
    result.gas["InvoiceToken.confirm"] = r["gasUsed"]
    inv = seller_invoices.invoice(result.invoice_id)
    say(f"{name('buyer')} confirmed the debt (確權): invoice #{inv.id} is now {inv.state.name.lower()} and can be financed.")

    wr_doc = b"Warehouse receipt: 400 t copper cathodes, LME grade A, bay 7"
    rterms = ReceiptTerms(
        depositor=addr("seller"), commodity="Copper cathodes", quantity=400_000, unit="kg", grade="LME Grade A",
        location="NLRTM", insured_value=3_600_000_00, currency="USD", expiry=now + 180 * DAY,
        document_hash=document_hash(wr_doc), document_cid="bafkreidemoreceiptnlrtm0007",
    )
    wh = deployment.receipts(chain, keys["warehouse"])
    result.receipt_id = wh.issue(rterms)
    result.gas["WarehouseReceipt.issue"] = wh.last_receipt["gasUsed"]
    say(f"{name('warehouse')} issued warehouse receipt #{result.receipt_id} to {name('seller')}: "
        f"400,000 kg copper cathodes (LME Grade A) at NLRTM, insured for {fmt(rterms.insured_value, 'USD')}.")

    r = deployment.receipts(chain, keys["seller"]).pledge(result.receipt_id, addr("lender"))
    result.gas["WarehouseReceipt.pledge"] = r["gasUsed"]
    say(f"{name('seller')} pledged receipt #{result.receipt_id} to {name('lender')}: it is locked "
        f"(no transfer, no redemption) until the bank releases it.")
    try:
        deployment.receipts(chain, keys["seller"]).transfer(addr("buyer"), result.receipt_id)
        raise AssertionError("pledged receipt moved")
    except errors.ReceiptPledged:
        say.note("An attempt to sell the pledged receipt on was refused by the contract.")

    say(f"Balances: {name('lender')} {fmt(usd.balance_of(addr('lender')), 'USD')}, "
        f"{name('buyer')} {fmt(usd.balance_of(addr('buyer')), 'USD')}; "
        f"USD deposits in issue {fmt(usd.total_supply(), 'USD')}.")
    return result


@dataclass
class ShipmentResult:
    deal_id: int = 0
    releases: list[dict] = field(default_factory=list)  # per milestone: code, amount, block, latency_ms
    gas: dict[str, int] = field(default_factory=dict)


def run_shipment_finance(
    chain: Chain,
    deployment: Deployment,
    keys: Mapping[str, LocalAccount],
    invoice_id: int,
    post_carrier_event: Callable[[dict], None],
    say: Narrator | None = None,
    participants: Mapping[str, Participant] | None = None,
    transport_document: str = "OOLU-BL-2026-0042",
    release_timeout: float = 60.0,
) -> ShipmentResult:
    """Receivable financing of `invoice_id` released by the logistics oracle quorum.

    `post_carrier_event(event)` delivers a DCSA Track & Trace event to the oracle operators the
    way the carrier does (HMAC-signed HTTP); releases then happen on chain with no other step."""
    import time

    from oracle.samples import transport_event

    from .deal_client import DealTerms, Milestone
    from .oracle_client import shipment_id

    say = say or Narrator()
    people = participants or {p.key: p for p in DEMO_PARTICIPANTS}
    name = lambda k: people[k].name  # noqa: E731
    addr = lambda k: keys[k].address  # noqa: E731
    result = ShipmentResult()
    seller_fin = deployment.financing(chain, keys["seller"])
    lender_fin = deployment.financing(chain, keys["lender"])
    buyer_fin = deployment.financing(chain, keys["buyer"])
    invoices = deployment.invoices(chain)
    usd = deployment.token(chain, "USD")
    inv = invoices.invoice(invoice_id)
    supply_before = usd.total_supply()

    principal, fee = 1_000_000_00, 18_750_00  # 80% advance; 7.5% p.a. for 90 days on the advance
    ship = shipment_id(transport_document)
    now = chain.w3.eth.get_block("latest")["timestamp"]
    terms = DealTerms(
        deal_id=int(now) * 1000 + invoice_id, invoice_id=invoice_id, borrower=addr("seller"), lender=addr("lender"),
        settlement_token=deployment.settlement_tokens["USD"], principal=principal, fee=fee, maturity=inv.due_date,
        grace_period=15 * DAY, accept_by=now + DAY,
        milestones=(Milestone(ship, "DEPA", 4_000), Milestone(ship, "ARRI", 6_000)),
    )
    result.deal_id = terms.deal_id
    seller_fin.approve_invoice(deployment.invoices(chain, keys["seller"]), invoice_id)
    seller_fin.accept(terms, seller_fin.sign_terms(keys["seller"], terms), lender_fin.sign_terms(keys["lender"], terms))
    result.gas["ReceivableFinancing.accept"] = seller_fin.last_receipt["gasUsed"]
    say(f"{name('seller')} and {name('lender')} signed the financing terms (EIP-712) for invoice #{invoice_id}: "
        f"advance {fmt(principal, 'USD')} against {fmt(inv.face_value, 'USD')}, fee {fmt(fee, 'USD')}, maturity "
        f"with the invoice; released 40% on vessel departure and 60% on arrival of B/L {transport_document}. "
        f"The invoice token moved into the deal escrow.")
    lender_fin.approve_payment(deployment.token(chain, "USD", keys["lender"]), principal)
    lender_fin.fund(terms.deal_id)
    result.gas["ReceivableFinancing.fund"] = lender_fin.last_receipt["gasUsed"]
    say(f"{name('lender')} funded the escrow with {fmt(principal, 'USD')}; invoice #{invoice_id} is now "
        f"{invoices.invoice(invoice_id).state.name.lower()}. Funds wait for the logistics oracles.")

    for code, place, label in (("DEPA", "CNSZX", "departed Shenzhen (CNSZX)"), ("ARRI", "NLRTM", "arrived in Rotterdam (NLRTM)")):
        released_before = seller_fin.deal(terms.deal_id).released
        block_before = chain.w3.eth.block_number
        event = transport_event(transport_document, code, place, when=time.time() - 60)
        t0 = time.monotonic()
        post_carrier_event(event)
        deadline = t0 + release_timeout
        while seller_fin.deal(terms.deal_id).released == released_before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no release {release_timeout}s after the carrier's {code} event")
            time.sleep(0.05)
        latency_ms = int((time.monotonic() - t0) * 1000)
        released = seller_fin.deal(terms.deal_id).released - released_before
        rel_block = _release_block(chain, deployment, terms.deal_id, block_before)
        result.releases.append({"code": code, "amount": released, "block": rel_block, "latency_ms": latency_ms})
        say(f"Carrier {name('carrier')} reported: vessel {label}. Two of three oracle operators signed it and "
            f"one report confirmed it on chain; in that same transaction (block {rel_block}) the deal released "
            f"{fmt(released, 'USD')} to {name('seller')} ({latency_ms} ms after the carrier's message).")
        got = seller_fin.withdraw(terms.deal_id)
        say.note(f"{name('seller')} withdrew {fmt(got, 'USD')}; balance {fmt(usd.balance_of(addr('seller')), 'USD')}.")

    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [max(inv.due_date, chain.w3.eth.get_block("latest")["timestamp"] + 1)])
    buyer_fin.approve_payment(deployment.token(chain, "USD", keys["buyer"]), inv.face_value)
    buyer_fin.repay(terms.deal_id)
    result.gas["ReceivableFinancing.repay"] = buyer_fin.last_receipt["gasUsed"]
    lender_claim = seller_fin.claimable(terms.deal_id, addr("lender"))
    seller_claim = seller_fin.claimable(terms.deal_id, addr("seller"))
    say(f"At maturity {name('buyer')} paid the invoice's face value {fmt(inv.face_value, 'USD')} into the deal. "
        f"Waterfall: {name('lender')} {fmt(lender_claim, 'USD')} (principal + fee), {name('seller')} "
        f"{fmt(seller_claim, 'USD')} (the remainder). Invoice #{invoice_id} is "
        f"{invoices.invoice(invoice_id).state.name.lower()}.")
    lender_fin.withdraw(terms.deal_id)
    seller_fin.withdraw(terms.deal_id)
    state = seller_fin.state(terms.deal_id)
    say(f"Both withdrew; the deal is {state.name.lower()}. {name('lender')} earned {fmt(fee, 'USD')}; "
        f"{name('seller')} received {fmt(inv.face_value - fee, 'USD')} in total "
        f"({fmt(principal, 'USD')} early, against shipment milestones). USD in issue is unchanged at "
        f"{fmt(usd.total_supply(), 'USD')}" + (" - no money created or lost." if usd.total_supply() == supply_before
                                               else " - MISMATCH!"))
    return result


def _release_block(chain: Chain, deployment: Deployment, deal_id: int, from_block: int) -> int:
    fin = deployment.financing(chain)
    ev = fin.contract.events.MilestoneReleased()
    logs = chain.w3.eth.get_logs({"address": fin.address, "fromBlock": from_block, "topics": [ev.topic,
                                  "0x" + deal_id.to_bytes(32, "big").hex()]})
    return logs[-1]["blockNumber"] if logs else -1
