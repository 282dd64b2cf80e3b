"""`tradenet <area> <action>`: every product's operations from the command line, one per node API
operation, as the signed-in participant.

The command line is a thin skin over the node API (the node checks roles, standing and input and
answers in trade terms): ``tradenet deals fund 12 --as lender`` is ``POST /deals/12/fund`` with
the lender's session. Path parameters are positional, in the order of the path; a request body is
``--json '{...}'`` or ``--json @file.json``; query parameters ``--query key=value``. The answer is
printed as JSON; a refusal is one line with the node's sentence (exit code 1).
"""

from __future__ import annotations

import argparse
import json
import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .node_client import NodeClient, Session


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    help: str

    @property
    def params(self) -> list[str]:
        return [name for _, name, _, _ in string.Formatter().parse(self.path) if name]

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT")


def _ops(**ops: tuple[str, str, str]) -> dict[str, Operation]:
    return {name.replace("_", "-"): Operation(*spec) for name, spec in ops.items()}


#: area -> action -> the node API operation (tests check every one exists in the node's OpenAPI)
COMMANDS: dict[str, dict[str, Operation]] = {
    "invoices": _ops(
        list=("GET", "/invoices", "invoices you hold, owe, finance or audit"),
        show=("GET", "/invoices/{invoice_id}", "one invoice"),
        tokenise=("POST", "/invoices", "seller: tokenise an invoice"),
        confirm=("POST", "/invoices/{invoice_id}/confirm", "buyer: confirm the debt"),
        dispute=("POST", "/invoices/{invoice_id}/dispute", "buyer: dispute an unconfirmed invoice"),
        cancel=("POST", "/invoices/{invoice_id}/cancel", "holder: withdraw an unfinanced invoice"),
        split=("POST", "/invoices/{invoice_id}/split", "holder: split a confirmed invoice"),
        transfer=("POST", "/invoices/{invoice_id}/transfer", "holder: transfer"),
        payments=("GET", "/invoices/{invoice_id}/payments", "direct payments of an invoice"),
        pay=("POST", "/invoices/{invoice_id}/payments", "buyer: pay a confirmed invoice directly (T/T)"),
        parts=("GET", "/invoices/{invoice_id}/parts", "the parts of a split invoice"),
        pay_parts=("POST", "/invoices/{invoice_id}/parts/payments", "buyer: pay a split invoice's parts pro rata"),
    ),
    "orders": _ops(
        list=("GET", "/orders", "purchase orders you issued, hold or finance"),
        show=("GET", "/orders/{order_id}", "one purchase order"),
        issue=("POST", "/orders", "buyer: issue a purchase order to a supplier"),
        cancel=("POST", "/orders/{order_id}/cancel", "buyer: cancel an order"),
    ),
    "receipts": _ops(
        list=("GET", "/receipts", "warehouse receipts you issued, hold or hold as pledgee"),
        show=("GET", "/receipts/{receipt_id}", "one warehouse receipt"),
        pledges=("GET", "/receipts/{receipt_id}/pledges", "the receipt's pledge history"),
        issue=("POST", "/receipts", "warehouse: issue a receipt to a depositor"),
        pledge=("POST", "/receipts/{receipt_id}/pledge", "holder: pledge to a lender"),
        release=("POST", "/receipts/{receipt_id}/release", "pledgee: release the pledge"),
        enforce=("POST", "/receipts/{receipt_id}/enforce", "pledgee: enforce after maturity and grace"),
        request_redemption=("POST", "/receipts/{receipt_id}/redemption-request", "holder: ask to take the goods out"),
        redeem=("POST", "/receipts/{receipt_id}/redeem", "warehouse: hand the goods out"),
    ),
    "offers": _ops(
        list=("GET", "/offers", "offers you made or received"),
        show=("GET", "/offers/{offer_id}", "one offer"),
        make=("POST", "/offers", "lender: offer terms to a borrower"),
        accept=("POST", "/offers/{offer_id}/accept", "borrower: accept an offer (a deal is opened)"),
        revoke=("POST", "/offers/{offer_id}/revoke", "lender: withdraw an offer"),
    ),
    "deals": _ops(
        list=("GET", "/deals", "deals you are party to (all for an auditor)"),
        show=("GET", "/deals/{deal_id}", "one deal: terms, milestones, releases, payouts"),
        agreement=("GET", "/deals/{deal_id}/agreement", "the deal's signed agreement"),
        preview=("POST", "/deals/terms/preview", "terms as the parties would sign them"),
        sign=("POST", "/deals/terms/signature", "sign terms with your custodial key"),
        revoke_terms=("POST", "/deals/terms/revoke", "revoke terms you signed"),
        accept=("POST", "/deals", "open a deal from terms signed by both parties"),
        fund=("POST", "/deals/{deal_id}/fund", "lender: fund an accepted deal"),
        cancel=("POST", "/deals/{deal_id}/cancel", "borrower or lender: cancel before funding (collateral back)"),
        poke=("POST", "/deals/{deal_id}/poke", "bring the deal in line with the oracle (releases, retractions)"),
        settle=("POST", "/deals/{deal_id}/settle", "settle a fully released documentary payment"),
        flag_overdue=("POST", "/deals/{deal_id}/flag-overdue", "flag a funded deal past maturity"),
        approve_funding=("POST", "/deals/{deal_id}/funding-approval", "lender's second officer: four-eyes approval"),
        repay=("POST", "/deals/{deal_id}/repay", "obligor or borrower: repay"),
        withdraw=("POST", "/deals/{deal_id}/withdraw", "take out what the deal credited you"),
        default=("POST", "/deals/{deal_id}/default", "lender: declare default after maturity and grace"),
        rollover=("POST", "/deals/{deal_id}/rollover", "supplier: roll an order financing into its invoice"),
        present=("POST", "/deals/{deal_id}/documents", "presenter: present a required document by its hash"),
        waive=("POST", "/deals/{deal_id}/waive", "applicant: accept a presentation with its discrepancies"),
    ),
    "pools": _ops(
        list=("GET", "/pools", "ABS pools"),
        show=("GET", "/pools/{pool_id}", "one pool: tranches, assets, waterfall"),
        assets=("GET", "/pools/{pool_id}/assets", "the pool's asset tape"),
        report=("GET", "/pools/{pool_id}/report", "the investor report"),
        verify=("GET", "/pools/{pool_id}/verification", "verify the tape against the chain"),
        create=("POST", "/pools", "manager: create a pool"),
        bid=("POST", "/pools/{pool_id}/bids", "manager: bid a price for a funded receivable deal"),
        sell=("POST", "/pools/{pool_id}/sales", "lender: sell its side of a deal to the pool at the bid"),
        issue=("POST", "/pools/{pool_id}/issue", "manager: freeze the tape and issue the notes"),
        buy_notes=("POST", "/pools/{pool_id}/notes", "investor: buy notes of a tranche at par"),
        amortise=("POST", "/pools/{pool_id}/amortisation", "manager: start amortisation"),
        collect=("POST", "/pools/{pool_id}/collections", "collect what the deals credited the pool"),
        distribute=("POST", "/pools/{pool_id}/distributions", "run the waterfall"),
        claim=("POST", "/pools/{pool_id}/claims", "note holder: take its distributions of a tranche"),
    ),
    "treasury": _ops(
        currencies=("GET", "/currencies", "settlement currencies and their supply"),
        deposit=("POST", "/treasury/{currency}/deposits", "treasury: mint tokenised deposits against a fiat deposit reference"),
        request_redemption=("POST", "/currencies/{currency}/redemptions", "holder: redeem tokens for fiat"),
        redemptions=("GET", "/treasury/redemptions", "redemption requests"),
        complete=("POST", "/treasury/{currency}/redemptions/{redemption_id}/complete", "treasury: pay out"),
        reject=("POST", "/treasury/{currency}/redemptions/{redemption_id}/reject", "treasury: refuse"),
        movements=("GET", "/treasury/movements", "mints, burns and transfers"),
    ),
    "risk": _ops(
        policy=("GET", "/risk/policy", "your lending policy"),
        set_policy=("PUT", "/risk/policy", "lender: book currency, concentration cap, four-eyes threshold"),
        set_capital_base=("PUT", "/risk/capital-base", "lender: the capital base caps are measured against"),
        set_limit=("PUT", "/risk/limits/{obligor}", "lender: limit on an obligor"),
        portfolio=("GET", "/portfolio", "lender: exposure against limits, concentration, overdue"),
        warnings=("GET", "/risk/warnings", "early warnings"),
        heatmap=("GET", "/risk/heatmap", "auditor: obligor x lender utilisation"),
        profile=("GET", "/participants/{address}/credit-profile", "a participant's repayment record"),
    ),
    "reports": _ops(
        exposure=("GET", "/reports/exposure", "exposure by obligor and lender"),
        overdue=("GET", "/reports/overdue", "overdue deals"),
        reconciliation=("GET", "/reports/reconciliation", "a day's balances and movements (--query day=...)"),
    ),
    "shipments": _ops(
        show=("GET", "/shipments/{transport_document}", "a B/L's confirmed events and the deals on it"),
        events=("GET", "/oracle/events", "confirmed and retracted shipment events"),
        fx_rates=("GET", "/fx-rates", "published FX rates"),
    ),
}


def add_parsers(sub: argparse._SubParsersAction, default_node: str, run: Any) -> None:
    """One sub-command per area, one action each (`tradenet deals fund ID --as KEY`)."""
    for area, actions in COMMANDS.items():
        p = sub.add_parser(area, help=f"{area}: " + ", ".join(actions))
        acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
        for action, op in actions.items():
            a = acts.add_parser(action, help=f"{op.help} ({op.method} {op.path})",
                                description=f"{op.help}: {op.method} {op.path}"
                                + (" (the request body's fields: the node's /docs)" if op.takes_body else ""))
            for name in op.params:
                a.add_argument(name)
            who = a.add_mutually_exclusive_group(required=True)
            who.add_argument("--as", dest="who", help="keystore name of the participant, e.g. lender")
            who.add_argument("--token", help="a session token (from `tradenet login`)")
            a.add_argument("--node", default=default_node, help=f"node API URL (default {default_node})")
            a.add_argument("--home", help="state directory of the keystore (default .tradenet/local)")
            if op.takes_body:
                a.add_argument("--json", dest="body", help="request body: JSON text, or @file.json")
            a.add_argument("--query", action="append", default=[], metavar="KEY=VALUE", help="query parameter")
            a.set_defaults(func=run, operation=op)


def body_of(arg: str | None) -> Any:
    """The request body of ``--json``: JSON text or ``@file``; ValueError names what is wrong."""
    if arg is None:
        return None
    text = Path(arg[1:]).read_text() if arg.startswith("@") else arg
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--json is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def query_of(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"--query {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def call(session: Session, op: Operation, args: argparse.Namespace) -> Any:
    """The operation for the parsed `args`, as `session`'s participant."""
    path = op.path.format(**{name: getattr(args, name) for name in op.params})
    kw: dict[str, Any] = {"params": query_of(args.query)}
    if op.takes_body:
        body = body_of(args.body)
        kw["json"] = body if body is not None else {}
    return session.node.call(op.method, path, session.token, **kw)


def session_for(node: NodeClient, token: str) -> Session:
    return Session(node, token, "", {})


def print_answer(answer: Any) -> None:
    json.dump(answer, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
