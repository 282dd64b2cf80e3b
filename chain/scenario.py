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
