"""The financing agreement people sign (电子合同, issue 9 item 10), rendered from the same data as
the EIP-712 deal terms.

:func:`agreement_of` turns checked terms (``node_api.terms.Prepared``) and the parties' registry
records (legal names, LEIs, countries: read from the chain) into an :class:`Agreement`: sections
of paragraphs and tables. :func:`render_html` writes it as one HTML document (Jinja2, autoescaped,
no external resources) whose UTF-8 bytes are **the agreement**: their sha-256 is the terms'
``agreementHash``, so each party's EIP-712 signature over the terms signs this text.
:func:`render_pdf` prints the same sections as a PDF (fpdf2) for people who file PDFs; the PDF
states the HTML's hash. Rendering is deterministic: the same terms on any node give the same
bytes (nothing in it depends on the clock or on the node).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from chain.vocabulary import Product

from ..readable import bps_text, display, document_type, event_name, iso, place
from .words import amount_words

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)


@dataclass(frozen=True)
class PartyFacts:
    role: str
    account: str
    legal_name: str
    lei: str
    country: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    table: Table | None = None


@dataclass(frozen=True)
class Agreement:
    title: str
    preamble: str
    sections: tuple[Section, ...]
    meta: dict[str, str] = field(default_factory=dict)


BORROWER_ROLE = {Product.RECEIVABLE: "Seller (borrower)", Product.ORDER: "Supplier (borrower)",
                 Product.RECEIPT_PLEDGE: "Depositor (borrower)", Product.DOCUMENTARY: "Beneficiary (seller)"}
LENDER_ROLE = {Product.RECEIVABLE: "Financier (lender)", Product.ORDER: "Financier (lender)",
               Product.RECEIPT_PLEDGE: "Financier (lender)", Product.DOCUMENTARY: "Issuing side (escrows the price)"}

COMMON_RULES = (
    "The deal comes into being on the tradenet network when the terms, signed by both parties with EIP-712 "
    "(domain \"tradenet DealEngine\" version 1), are accepted by the deal engine before the offer expires. Signed "
    "terms can be used once; either party may revoke them before they are accepted.",
    "The lender pays the principal into the deal engine's escrow. A milestone without an event code is an advance "
    "and is released at funding. Every other milestone's share is released to the borrower when the network's "
    "logistics oracle (a quorum of at least two independent operators, a majority of them) confirms its shipment "
    "event for the shipment named above, at the place named (or at any transport call).",
    "Shares are the principal times the milestone's share, rounded down to the minor unit; the last milestone "
    "takes the remainder, so the releases add up exactly to the principal.",
    "Payments out of the deal are credited to their beneficiary and leave the escrow only when the beneficiary "
    "withdraws them.",
    "If the oracle retracts an event after it released a milestone, the release is undone while the borrower has "
    "not withdrawn it; otherwise the milestone is recorded as contested and the parties settle it between "
    "themselves.",
    "Either party may cancel the deal before it is funded; the collateral then returns to the borrower.",
    "After maturity plus the grace period, if the deal is unpaid, the lender may declare it in default. Milestones "
    "whose events are confirmed are released first, so a default never takes back what the borrower had earned; "
    "the unreleased principal returns to the lender.",
    "Every deal passes the network's risk rules at acceptance and at funding: the lender's exposure limit per "
    "obligor and concentration cap, the network's obligor limit, the four-eyes review threshold, the freeze of a "
    "party after three overdue deals in a row, and sanctions. A deal that passes maturity unpaid is flagged "
    "overdue; past maturity plus grace it counts as overdue for its borrower and obligor.",
)

PRODUCT_RULES: dict[Product, tuple[str, ...]] = {
    Product.RECEIVABLE: (
        "At acceptance the invoice, confirmed by its buyer, moves into the custody of the receivable financing "
        "module; at funding its shipment is bound to the deal and it is marked Financed.",
        "At maturity the buyer (the obligor) pays what is open on the invoice into the deal. The lender is "
        "credited principal plus fee (the unreleased principal back, the rest out of the payment); the borrower "
        "is credited the remainder. The invoice is then marked Paid.",
        "On default the invoice, marked Defaulted, goes to the lender; what was released stays with the borrower "
        "(non-recourse).",
    ),
    Product.ORDER: (
        "The purchase order, issued and thereby confirmed by its buyer, moves into the custody of the order "
        "financing module at acceptance. Every release is credited to the order's named supplier and to nobody "
        "else.",
        "Before rollover the supplier repays what was released plus the fee. Once the supplier tokenised the "
        "invoice issued against the order and the buyer confirmed it, either party may roll the deal into that "
        "invoice: the buyer then pays what is open on the invoice at maturity, and the waterfall of a receivable "
        "applies.",
        "On default the collateral (the order, or the invoice after rollover) goes to the lender.",
    ),
    Product.RECEIPT_PLEDGE: (
        "The warehouse receipt is pledged to the deal when it is funded: it cannot be transferred, redeemed or "
        "pledged again while the pledge lasts. Maturity plus grace ends before the receipt expires.",
        "The borrower (the depositor) repays what was released plus the fee; the pledge is then released.",
        "Only a default of the deal enforces the pledge: the receipt then goes to the lender.",
    ),
    Product.DOCUMENTARY: (
        "The lender escrows the price for the beneficiary. There is no fee, no grace period and no repayment: "
        "the credit settles itself once fully released.",
        "A milestone is released only once the presentation complies: every required document presented by the "
        "presenter before expiry, with the expected hash where one is named, and the bill of lading dated no "
        "later than the latest shipment date; or once the applicant waives the discrepancies.",
        "Documents may be presented again before expiry to cure a discrepancy. At expiry the unreleased price "
        "returns to the lender.",
    ),
}

FX_RULE = ("The collateral is in {base}, the deal in {quote}. The FX feed's fresh rate is locked when the terms are "
           "accepted and stays valid until {until}; the amount due converts at it, rounded up to the next minor "
           "unit (the obligor bears the fraction, no creditor loses a unit). After that date repayment is refused.")


def agreement_of(prepared: Any, parties: dict[str, PartyFacts], chain_id: int, engine: str,
                 decimals: dict[str, int] | None = None) -> Agreement:
    """The agreement of checked terms (``node_api.terms.Prepared``); `parties` maps "borrower",
    "lender" and, where there is one, "obligor", "applicant", "presenter" to their facts."""
    t, p, col = prepared.terms, prepared.product, prepared.collateral
    currency = prepared.request.currency
    dec = decimals or {}

    def figures(minor: int, cur: str = currency) -> str:
        return f"{display(minor, cur, dec.get(cur))} ({amount_words(minor, cur, dec.get(cur))})"

    sections: list[Section] = []
    rows = tuple((f.role, f.legal_name, f.lei, f.country, f.account) for f in parties.values())
    sections.append(Section("1. Parties", ("The parties are members of the tradenet network, identified by the "
                                           "legal names and LEIs the network's registry holds for their accounts.",),
                            Table(("Role", "Legal name", "LEI", "Country", "Account"), rows)))
    sections.append(Section("2. Collateral", _collateral_paragraphs(col, figures, parties)))
    amounts = [f"Principal: {figures(t.principal)}.", f"Fee: {figures(t.fee)}.",
               f"Due to the lender at repayment: {figures(t.principal + t.fee)}."]
    if col.kind == "invoice" and col.currency == currency:
        amounts.append(f"Paid by the obligor at maturity: what is open on the invoice, now "
                       f"{figures(col.details['open'])}; the borrower receives what exceeds the releases and the fee.")
    if p is Product.DOCUMENTARY:
        amounts = [f"Price escrowed: {figures(t.principal)}.", "Fee: none."]
    sections.append(Section("3. Amounts", tuple(amounts)))
    dates = [f"Maturity{' (expiry of the credit)' if p is Product.DOCUMENTARY else ''}: {iso(t.maturity)}.",
             f"Grace period: {t.grace_period // 86_400} days ({t.grace_period:,} seconds); the deal can be declared "
             f"in default after {iso(t.maturity + t.grace_period)}.",
             f"This offer may be accepted until {iso(t.accept_by)}."]
    sections.append(Section("4. Dates", tuple(dates)))
    schedule = []
    amounts_each = t.milestone_amounts()
    for i, (m, amount) in enumerate(zip(t.milestones, amounts_each), start=1):
        schedule.append((str(i), f"{m.event_code or '-'} {event_name(m.event_code)}", place(m.location) or "",
                         bps_text(m.share_bps), display(amount, currency, dec.get(currency))))
    bl = prepared.transport_document
    sections.append(Section("5. Release schedule", (
        f"Shipment: bill of lading {bl} (shipment id 0x{t.shipment_id.hex()})." if bl else
        "No shipment: every milestone is an advance released at funding.",),
        Table(("#", "Event (DCSA)", "Place (UN/LOCODE)", "Share", "Amount"), tuple(schedule))))
    if t.fx_valid_until:
        sections.append(Section("6. Foreign exchange", (FX_RULE.format(base=col.currency, quote=currency,
                                                                        until=iso(t.fx_valid_until)),)))
    rules = PRODUCT_RULES[p] + COMMON_RULES
    sections.append(Section(f"{len(sections) + 1}. Governing rules",
                            tuple(f"{chr(ord('a') + i)}) {r}" for i, r in enumerate(rules))))
    sections.append(Section(f"{len(sections) + 1}. Signature", (
        "Each party signs this agreement by signing, with the key of its account named above, the EIP-712 deal "
        "terms whose agreementHash is the SHA-256 of this document. The terms and this document state the same "
        "facts; the rules above are enforced by the network's contracts.",)))
    meta = {"chain_id": str(chain_id), "deal_engine": engine, "product_module": t.product,
            "nonce": "0x" + t.nonce.hex(), "product": p.label}
    title = f"{p.title[:1].upper()}{p.title[1:]} agreement"
    preamble = (f"Agreement between {parties['borrower'].legal_name} and {parties['lender'].legal_name} on the tradenet "
                f"network (chain {chain_id}, deal engine {engine}, product module {t.product}, terms nonce "
                f"0x{t.nonce.hex()}).")
    return Agreement(title, preamble, tuple(sections), meta)


def _collateral_paragraphs(col: Any, figures: Any, parties: dict[str, PartyFacts]) -> tuple[str, ...]:
    d = col.details
    if col.kind == "invoice":
        number = d.get("number") or f"0x{col.ident:x}"
        obligor = parties.get("obligor")
        return (f"Invoice {number} (token id 0x{col.ident:064x}, its fingerprint) of face value "
                f"{figures(col.amount, col.currency)}, issued {iso(d.get('issue_date')) or 'as recorded on chain'}, "
                f"due {iso(d.get('due_date'))}, owed by {obligor.legal_name if obligor else 'its buyer'} "
                f"(the obligor).",)
    if col.kind == "purchase order":
        return (f"Purchase order {d.get('number') or col.ident} (order #{col.ident}) for {d.get('quantity')} "
                f"{d.get('unit') or ''} {d.get('goods') or ''}, amount {figures(col.amount, col.currency)}, delivery by "
                f"{iso(d.get('delivery_date'))}.",)
    if col.kind == "warehouse receipt":
        return (f"Warehouse receipt #{col.ident}: {d['quantity']:,} {d['unit']} {d['commodity']} ({d['grade']}) held at "
                f"{place(d['location'])}, insured for {figures(col.amount, col.currency)}, expiring "
                f"{iso(d['expiry'])}.",)
    docs = "; ".join(f"{document_type(code)} ({code})" + (f" with sha-256 {h}" if h else "")
                     for code, h in d["documents"])
    return (f"No collateral: a documentary payment. Required documents: {docs}. The bill of lading must be dated "
            f"no later than {iso(d['latest_shipment'])}.",)


def render_html(a: Agreement) -> bytes:
    """The agreement document (its sha-256 is the agreementHash)."""
    return _env.get_template("agreement.html.j2").render(a=a).encode("utf-8")


def agreement_hash(html: bytes) -> bytes:
    return hashlib.sha256(html).digest()


def render_pdf(a: Agreement, html_sha256: bytes) -> bytes:
    """The same sections as a PDF (A4), stating the hash of the HTML agreement."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(_EPOCH)
    pdf.set_title(a.title)
    family = _font(pdf)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font(family, "B", 15)
    pdf.multi_cell(0, 8, _pdf_text(a.title, family), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    pdf.multi_cell(0, 5, _pdf_text(a.preamble, family), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, _pdf_text(f"SHA-256 of the agreement document (HTML): 0x{html_sha256.hex()}", family),
                   new_x="LMARGIN", new_y="NEXT")
    for s in a.sections:
        pdf.ln(2)
        pdf.set_font(family, "B", 11)
        pdf.multi_cell(0, 6, _pdf_text(s.heading, family), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)
        for p in s.paragraphs:
            pdf.multi_cell(0, 5, _pdf_text(p, family), new_x="LMARGIN", new_y="NEXT")
        if s.table:
            with pdf.table(text_align="LEFT", line_height=5) as table:
                header = table.row()
                for h in s.table.header:
                    header.cell(_pdf_text(h, family))
                for r in s.table.rows:
                    row = table.row()
                    for v in r:
                        row.cell(_pdf_text(v, family))
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()


import datetime as _dt  # noqa: E402  (a fixed creation date keeps the PDF deterministic)

_EPOCH = _dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc)


def _font(pdf: Any) -> str:
    for d in FONT_DIRS:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu"
    return "Helvetica"


def _pdf_text(text: str, family: str) -> str:
    """Core fonts hold Latin-1 only: without a Unicode font other characters print as '?'."""
    return text if family != "Helvetica" else text.encode("latin-1", "replace").decode("latin-1")


__all__ = ["Agreement", "PartyFacts", "Section", "Table", "agreement_hash", "agreement_of", "render_html",
           "render_pdf"]
