"""The tradenet read model after a real multi-product flow (``tests/support/indexer/flow.py``) on
the session network, on SQLite and PostgreSQL (``db``): every table equals what the contracts
hold (their views) and what only their events carry (history feeds); rebuilding, replaying and
indexing afresh give the same read model as following block by block; a reorg in the middle of
the flow is rolled back exactly, also for the settlement token a currency factory announced.

Rows are compared whole, keyed by primary key (``updated_block`` aside: it is covered by the
equality of incremental, rebuilt and reorged read models). Block numbers and values only an
event carries come from the raw layer (``ReadModel.find``)."""
from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from chain.anvil import Anvil
from chain.client import Chain
from chain.clients import ZERO_ADDRESS
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.indexer.projections import (
    TRADENET_TABLES,
    currency_tokens,
    deal_assignments,
    deal_credits,
    deal_fx_locks,
    deal_milestones,
    deal_products,
    deal_terms_revocations,
    deals,
    documentary_credits,
    documentary_documents,
    erc20_balances,
    fiat_movements,
    fx_rates,
    invoice_payments,
    invoices,
    listener_failures,
    network_contracts,
    network_settings,
    oracle_events,
    oracle_quorums,
    order_rollovers,
    participants,
    payment_references,
    proposals,
    purchase_orders,
    receipt_pledges,
    receipts,
    redemptions,
    risk_bookings,
    risk_funding_approvals,
    risk_lenders,
    risk_overdue,
    risk_pairs,
    risk_parties,
    risk_warnings,
    settlement_tokens,
)
from chain.indexer.projections.deal_engine import milestone_amounts
from chain.vocabulary import ContractKind, MilestoneStatus
from tests.conftest import Net
from tests.support.indexer.flow import LENDER_OPS, NEW_CURRENCY, ORACLE_SIGNERS, TradeFlow, doc_hash, ref
from tests.support.mining import revert_to
from tests.support.indexer.readmodel import (
    ReadModel,
    by_key,
    dump_read_model,
    entity_key,
    index_network,
    indexer,
)


@pytest.fixture(scope="module")
def flow(net):
    """The whole flow, once for the module (reverted at its end)."""
    snap = net.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield TradeFlow(net).run()
    finally:
        revert_to(net.w3, snap)
        net.chain.nonces.resync()


@pytest.fixture
def own_flow():
    """The whole flow on a network of its own: rewinding a chain (``anvil_rollback``) cannot be
    undone by ``evm_revert`` (the state is restored, not the blocks), so the session chain is not
    used for reorgs."""
    with Anvil() as node:
        chain = Chain.connect(node.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, seed="tradenet-tests")
        net = Net(chain, bootstrap(chain, "test", keys), keys, {p.key: p for p in DEMO_PARTICIPANTS}, node.url)
        yield TradeFlow(net).run()


@pytest.fixture
def rm(flow, db):
    model = ReadModel(index_network(flow.net, db))
    yield model
    model.close()


def ent(flow, key: str) -> str:
    return entity_key(flow.net.participants[key].lei)


def opt(value: Any) -> Any:
    """A client's "none" (empty string, zero, zero hash) as the read model's NULL."""
    return None if value in ("", 0, None, bytes(32), ZERO_ADDRESS) else value


def hx(value: bytes | None) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


# ----------------------------------------------------------------------------------- coverage


def test_every_event_of_every_followed_contract_is_projected_or_deliberately_ignored(net):
    from chain.indexer.network import contract_specs
    from chain.indexer.projections.handlers import kind_of
    from chain.indexer.projections.tradenet import TradenetProjection

    handled = set(TradenetProjection()._handlers)
    ignored = {"Approval", "ApprovalForAll", "EIP712DomainChanged"}  # allowances, approvals, domain
    missing = set()
    for spec in contract_specs(net.deployment, net.chain.artifacts):
        for item in spec.abi:
            if item["type"] == "event" and item["name"] not in ignored:
                key = (kind_of(spec.name), item["name"])
                if key not in handled and key != ("SettlementToken", "Transfer"):  # the ERC-20 projection's
                    missing.add(key)
    assert missing == set()
    assert {k for k, _ in handled} >= {"CurrencyFactory", "DealEngine", "OrderFinancing", "DocumentaryCredit",
                                       "InvoiceSettlement", "RiskRules", "SettlementToken"}


# ----------------------------------------------------------------------------------- registry


def test_registry_tables_equal_the_registry_and_its_events(flow, rm):
    net, reg = flow.net, flow.net.registry()
    accounts = [net.addr(k) for k in net.participants] + [LENDER_OPS.address]
    expected = {}
    for a in accounts:
        m, added = reg.member(a), rm.one("ParticipantRegistry", "MemberAdded", account=a)
        expected[a] = {
            "account": a, "lei": m.lei, "entity_key": entity_key(m.lei), "legal_name": reg.legal_name(a),
            "roles": int(m.roles), "country": m.country, "kyc_expiry": m.kyc_expiry, "suspended": m.suspended,
            "suspension_reason": opt(reg.suspension_reason(a)), "sanctioned": m.sanctioned,
            "sanctions_reason": "false positive" if a == net.addr("auditor") else None,
            "joined_block": added.block, "joined_at": added.timestamp}
    assert by_key(rm.rows(participants), "account") == expected
    assert expected[net.addr("investor")]["legal_name"] == "Meridian Asset Management S.A."

    count = reg._call("proposalCount")
    expected = {}
    for pid in range(1, count + 1):
        proposer, targets, calls, deadline, state, approvers = reg._call("proposal", pid)
        created = rm.one("ParticipantRegistry", "ProposalCreated", id=pid)
        closed = (rm.find("ParticipantRegistry", "ProposalExecuted", id=pid)
                  or rm.find("ParticipantRegistry", "ProposalCancelled", id=pid))
        expected[pid] = {
            "id": pid, "proposer": proposer, "targets": list(targets), "calls": [hx(c) for c in calls],
            "deadline": deadline, "description": created.args["description"],
            "state": ("None", "Pending", "Executed", "Expired", "Cancelled")[state], "approvers": list(approvers),
            "approvals": len(approvers),
            "closed_by": closed[0].args.get("executor", closed[0].args.get("proposer")) if closed else None,
            "created_block": created.block, "created_at": created.timestamp}
    got = by_key(rm.rows(proposals), "id")
    assert got == expected
    assert (got[flow.ids["proposal.cancelled"]]["state"], got[flow.ids["proposal.lapsing"]]["state"]) == (
        "Cancelled", "Expired")
    assert got[flow.ids["proposal.lapsing"]]["approvers"] == [net.addr("admin_a")]  # admin_b revoked

    d = net.deployment
    assets = [*d.settlement_tokens.values(), flow.gbp, d.invoice_token, d.warehouse_receipt, d.purchase_orders]
    escrows = [d.deal_engine, *d.product_modules.values(), d.invoice_settlement, d.abs_pools]
    assert {a: reg.contract_kind(a) for a in assets + escrows} == {
        **{a: ContractKind.ASSET for a in assets}, **{a: ContractKind.ESCROW for a in escrows}}
    assert by_key(rm.rows(network_contracts), "account") == {
        a: {"account": a, "kind": reg.contract_kind(a).label} for a in assets + escrows}

    currencies = [*d.settlement_tokens, NEW_CURRENCY[0]]
    assert by_key(rm.rows(settlement_tokens), "currency") == {
        c: {"currency": c, "token": reg.settlement_token(c)} for c in currencies}
    expected = {}
    for c in currencies:
        token = reg.settlement_token(c)
        created = rm.one("CurrencyFactory", "CurrencyTokenCreated", token=token)
        client = flow.gbp_token("treasury") if c == NEW_CURRENCY[0] else net.token(c)
        expected[token] = {"token": token, "currency": client.currency(),
                           "name": client.contract.functions.name().call(), "decimals": client.decimals(),
                           "created_block": created.block}
    assert by_key(rm.rows(currency_tokens), "token") == expected

    risk, inv = net.clients().risk, net.clients().invoices
    assert by_key(rm.rows(network_settings), "name") == {
        "governance.approval_threshold": {"name": "governance.approval_threshold", "value": reg.approval_threshold()},
        "invoice_token.settlement": {"name": "invoice_token.settlement", "value": inv._call("settlement")},
        "purchase_orders.invoices": {"name": "purchase_orders.invoices", "value": net.clients().orders.invoices()},
        "risk_rules.engine": {"name": "risk_rules.engine", "value": risk._call("engine")},
        "risk_rules.network_review_threshold": {"name": "risk_rules.network_review_threshold",
                                                "value": str(risk.network_review_threshold())},
    }


# ----------------------------------------------------------------------------------- documents


def test_invoice_order_and_receipt_tables_equal_the_tokens(flow, rm):
    net, d = flow.net, flow.net.deployment
    tokens, ids = net.clients().invoices, flow.ids
    issued = {e.args["id"]: e for e in rm.find("InvoiceToken", "InvoiceIssued")}
    split_parent = {c: (int(e.args["parentId"]), i, e)
                    for e in rm.find("InvoiceToken", "InvoiceSplit") for i, c in enumerate(e.args["childIds"])}
    financier = {ids["invoice.d1"]: d.receivable_financing, ids["invoice.d2"]: d.order_financing,
                 ids["invoice.d5"]: d.receivable_financing}
    settled_by = {ids["invoice.d1"]: d.receivable_financing, ids["invoice.d2"]: d.order_financing,
                  **{ids[k]: d.invoice_settlement for k in ("invoice.tt", "part.0", "part.1.0", "part.1.1")}}
    expected = {}
    for name, iid in flow.invoice_ids().items():
        chain_inv = tokens.invoice(iid)
        root = issued[str(chain_inv.root_id)]
        made = issued.get(str(iid)) or split_parent[str(iid)][2]
        t = root.args["terms"]
        expected[iid] = {
            "id": iid, "seller": root.args["seller"], "buyer": chain_inv.buyer, "holder": chain_inv.holder,
            "state": chain_inv.state.label, "invoice_number": t["invoiceNumber"], "currency": chain_inv.currency,
            "face_value": chain_inv.face_value, "issue_date": int(t["issueDate"]), "due_date": chain_inv.due_date,
            "document_hash": hx(doc_hash(t["invoiceNumber"])), "document_cid": f"bafy-{t['invoiceNumber'].lower()}",
            "shipment_id": hx(chain_inv.shipment_id), "order_id": opt(chain_inv.order_id),
            "parent_id": opt(chain_inv.parent_id), "root_id": chain_inv.root_id,
            "part_index": split_parent[str(iid)][1] if str(iid) in split_parent else None,
            "financier": financier.get(iid), "settled_by": settled_by.get(iid),
            "cancelled_by": net.addr("buyer") if name == "invoice.disputed" else None,
            "cancel_reason": "goods not ordered" if name == "invoice.disputed" else None,
            "paid_total": net.clients().settlement.paid_of(iid), "issued_block": made.block,
            "issued_at": made.timestamp}
    got = by_key(rm.rows(invoices), "id")
    assert got == expected
    assert {r["state"] for r in got.values()} == {"Confirmed", "Financed", "Paid", "Cancelled", "Split"}
    # a deal cancelled before funding never anchored its shipment: the invoice is free again
    assert got[ids["invoice.cancelled_deal"]]["shipment_id"] is None
    # live parts of the root: what InvoiceSettlement pays
    root = ids["invoice.split"]
    live = {i for i, r in got.items() if r["root_id"] == root and r["parent_id"] and r["state"] != "Split"}
    assert live == set(tokens.parts_of(root)) == {ids["part.0"], ids["part.1.0"], ids["part.1.1"]}

    buyer, seller, lender_b = net.addr("buyer"), net.addr("seller"), net.addr("lender_b")
    payments = [(ids["invoice.tt"], seller, 4_000_00, 4_000_00, "tt:1"),
                (ids["invoice.tt"], seller, 6_000_00, 10_000_00, "tt:2")]
    for n in (1, 2):
        payments += [(ids["part.0"], lender_b, 5_000_00, n * 5_000_00, f"parts:{n}"),
                     (ids["part.1.0"], seller, 2_500_00, n * 2_500_00, f"parts:{n}"),
                     (ids["part.1.1"], seller, 7_500_00, n * 7_500_00, f"parts:{n}")]
    rows = rm.rows(invoice_payments)
    logged = rm.find("InvoiceSettlement", "InvoicePayment")
    assert rows == [{"block_number": e.block, "log_index": e.log_index, "invoice_id": iid, "payer": buyer,
                     "holder": holder, "amount": amount, "paid_total": total, "payment_ref": hx(ref(label)),
                     "tx_hash": e.tx_hash, "timestamp": e.timestamp}
                    for e, (iid, holder, amount, total, label) in zip(logged, payments, strict=True)]

    orders = net.clients().orders
    expected = {}
    for name, (number, goods, quantity, reason) in {"order.d2": ("PO-7781", "LED panels", 1_000, None),
                                                    "order.cancelled": ("PO-7782", "LED drivers", 200,
                                                                        "supplier declined the order")}.items():
        o, e = orders.order(ids[name]), rm.one("PurchaseOrder", "OrderIssued", id=ids[name])
        expected[ids[name]] = {
            "id": ids[name], "buyer": o.buyer, "supplier": o.supplier, "holder": o.holder, "state": o.state.label,
            "order_number": number, "goods": goods, "quantity": quantity, "unit": "PCE", "amount": o.amount,
            "currency": o.currency, "delivery_date": o.delivery_date, "shipment_id": hx(o.shipment_id),
            "document_hash": hx(o.document_hash), "document_cid": f"bafy-{number.lower()}",
            "fingerprint": e.args["fingerprint"], "escrow": d.order_financing if name == "order.d2" else None,
            "invoice_id": ids["invoice.d2"] if name == "order.d2" else None, "cancel_reason": reason,
            "issued_block": e.block, "issued_at": e.timestamp}
    assert by_key(rm.rows(purchase_orders), "id") == expected
    assert (expected[ids["order.d2"]]["state"], expected[ids["order.d2"]]["holder"]) == ("Closed", d.order_financing)

    wr = net.clients().receipts
    expected = {}
    for name, depositor in flow.depositors.items():
        r, e = wr.receipt(ids[name]), rm.one("WarehouseReceipt", "ReceiptIssued", id=ids[name])
        expected[ids[name]] = {
            "id": ids[name], "warehouse": r.warehouse, "depositor": net.addr(depositor), "holder": r.holder,
            "pledgee": r.pledgee, "pledge_enforceable_after": r.pledge_enforceable_after if r.pledgee else None,
            "pledge_count": len(rm.find("WarehouseReceipt", "ReceiptPledgedTo", id=ids[name])),
            "commodity": r.commodity, "quantity": r.quantity,
            "unit": r.unit, "grade": r.grade, "location": r.location, "insured_value": r.insured_value,
            "currency": r.currency, "expiry": r.expiry, "redemption_requested": r.redemption_requested,
            "redeemed": r.holder is None, "document_hash": hx(r.document_hash), "document_cid": r.document_cid,
            "issued_block": e.block, "issued_at": r.issued_at}
    assert by_key(rm.rows(receipts), "id") == expected
    assert expected[ids["receipt.pledged"]]["holder"] == net.addr("lender")  # enforced on default
    assert expected[ids["receipt.pledged"]]["pledge_count"] == 2
    direct, escrow = rm.find("WarehouseReceipt", "ReceiptPledgedTo", id=ids["receipt.pledged"])
    running = [(n, rm.one("WarehouseReceipt", "ReceiptPledgedTo", id=ids[f"receipt.carrier{n}"])) for n in (1, 2, 3)]
    assert rm.rows(receipt_pledges) == [
        {"receipt_id": ids["receipt.pledged"], "seq": 1, "holder": net.addr("seller"), "pledgee": lender_b,
         "enforceable_after": int(direct.args["enforceableAfter"]), "status": "Released", "enforced_to": None,
         "pledged_block": direct.block, "ended_block": rm.one("WarehouseReceipt", "PledgeReleased").block},
        {"receipt_id": ids["receipt.pledged"], "seq": 2, "holder": net.addr("seller"),
         "pledgee": d.receipt_pledge_financing, "enforceable_after": 0, "status": "Enforced",
         "enforced_to": net.addr("lender"), "pledged_block": escrow.block,
         "ended_block": rm.one("WarehouseReceipt", "PledgeEnforced").block},
    ] + [{"receipt_id": ids[f"receipt.carrier{n}"], "seq": 1, "holder": net.addr("carrier"),
          "pledgee": d.receipt_pledge_financing, "enforceable_after": 0, "status": "Active", "enforced_to": None,
          "pledged_block": e.block, "ended_block": None} for n, e in running]
    assert int(direct.args["enforceableAfter"]) > 0


# ----------------------------------------------------------------------------------- money


def test_settlement_token_tables_equal_the_tokens(flow, rm):
    net, ids = flow.net, flow.ids
    d = net.deployment
    tokens = {**{net.token(c).address: net.token(c) for c in d.settlement_tokens}, flow.gbp: flow.gbp_token("treasury")}
    holders = [net.addr(k) for k in net.participants] + [LENDER_OPS.address, d.deal_engine, d.invoice_settlement,
                                                          *d.product_modules.values(), *tokens]
    expected = {(t, a): {"token": t, "account": a, "amount": c.balance_of(a)}
                for t, c in tokens.items() for a in holders if c.balance_of(a)}
    assert by_key(rm.rows(erc20_balances), "token", "account") == expected
    for t, c in tokens.items():  # every unit is held by someone the read model lists
        assert sum(v["amount"] for (tok, _), v in expected.items() if tok == t) == c.total_supply()

    usd, treasury = d.settlement_tokens["USD"], net.addr("treasury")
    movements = [(usd, "Deposit", net.addr(k), 500_000_00, f"deposit:{k}") for k in ("lender", "lender_b", "buyer")]
    movements += [(usd, "Redemption", None, 1_000_00, "bank:1"), (flow.gbp, "Deposit", net.addr("lender"), 5_000_00,
                                                                  "deposit:gbp")]
    logged = rm.find("SettlementToken:*", "FiatDeposited")[:3] + rm.find("SettlementToken:*", "FiatRedeemed") + \
        rm.find("SettlementToken:*", "FiatDeposited")[3:]
    assert rm.rows(fiat_movements) == [
        {"block_number": e.block, "log_index": e.log_index, "token": token, "kind": kind, "treasury": treasury,
         "account": account, "amount": amount, "reference": hx(ref(label)), "tx_hash": e.tx_hash,
         "timestamp": e.timestamp}
        for e, (token, kind, account, amount, label) in zip(logged, movements, strict=True)]
    (e,) = rm.find("SettlementToken:USD", "PaymentReference")
    assert rm.rows(payment_references) == [
        {"block_number": e.block, "log_index": e.log_index, "token": usd, "from_address": net.addr("buyer"),
         "to_address": net.addr("seller"), "amount": 1_234_00, "payment_ref": hx(ref("tt:prepayment")),
         "tx_hash": e.tx_hash, "timestamp": e.timestamp}]
    client = net.token("USD")
    expected = {}
    closings = (("redemption.completed", "RedemptionCompleted", hx(ref("bank:1")), None),
                ("redemption.rejected", "RedemptionRejected", None, "payout account closed"))
    for name, closing, bank_ref, reason in closings:
        r = client.redemption(ids[name])
        expected[(usd, r.id)] = {
            "token": usd, "id": r.id, "holder": r.holder, "amount": r.amount, "payout_ref": hx(r.payout_ref),
            "state": r.state.label, "treasury": treasury, "bank_ref": bank_ref, "reject_reason": reason,
            "requested_block": rm.one("SettlementToken:USD", "RedemptionRequested", id=r.id).block,
            "closed_block": rm.one("SettlementToken:USD", closing, id=r.id).block}
    assert by_key(rm.rows(redemptions), "token", "id") == expected


# ----------------------------------------------------------------------------------- oracles


def test_oracle_tables_equal_the_oracles(flow, rm):
    net = flow.net
    oracle, signers = net.clients().oracle, [net.addr(k) for k in ORACLE_SIGNERS]
    expected = {}
    for name, ev in flow.shipments.items():
        event_id = hx(flow.events[name])
        confirmed = rm.one("LogisticsOracle", "EventConfirmed", eventId=flow.events[name])
        retracted = oracle.is_retracted(flow.events[name])
        expected[event_id] = {
            "event_id": event_id, "shipment_id": hx(ev.shipment_id), "event_code": ev.event_code,
            "location": ev.location, "event_time": ev.event_time, "evidence_hash": hx(ev.evidence_hash),
            "submitter": net.addr("carrier"), "signers": signers,
            "status": oracle.event_status(ev).label, "confirmed_block": confirmed.block,
            "confirmed_at": confirmed.timestamp, "tx_hash": confirmed.tx_hash,
            "retracted_block": rm.one("LogisticsOracle", "EventRetracted").block if retracted else None,
            "retracted_at": flow.retracted_at.get(name),
            "retraction_submitter": net.addr("carrier") if retracted else None,
            "retraction_reason": hx(keccak(text="carrier corrected the arrival")) if retracted else None,
            "retraction_signers": signers if retracted else None}
    got = by_key(rm.rows(oracle_events), "event_id")
    assert got == expected
    assert [r["status"] for r in got.values()].count("Retracted") == 1 and len(got) == 6

    (failed,) = rm.find("LogisticsOracle", "ListenerFailed")
    assert rm.rows(listener_failures) == [
        {"block_number": failed.block, "log_index": failed.log_index, "event_id": hx(flow.events["d1.depa"]),
         "listener": net.addr("seller"), "ref": 7, "tx_hash": failed.tx_hash}]

    expected = {}
    for name, client in (("LogisticsOracle", oracle), ("FxRateStore", net.clients().fx)):
        expected[client.address] = {
            "address": client.address, "contract": name, "operators": client.operators(),
            "threshold": client.threshold(), "version": client._call("operatorSetVersion"),
            "staleness_window": client.staleness_window()}
    assert by_key(rm.rows(oracle_quorums), "address") == expected

    rate, (e,) = flow.fx_rate, rm.find("FxRateStore", "RateUpdated")
    assert rm.rows(fx_rates) == [
        {"base_currency": "EUR", "quote_currency": "USD", "observed_at": rate.observed_at, "rate": rate.rate,
         "digest": hx(net.clients().fx.rate_digest(rate)), "submitter": net.addr("carrier"), "signers": signers,
         "block_number": e.block}]


# ----------------------------------------------------------------------------------- deals


def test_deal_tables_equal_the_deal_lens_and_engine(flow, rm):
    net, ids = flow.net, flow.ids
    d, lens, engine = net.deployment, net.clients().lens, net.clients().deals
    assert by_key(rm.rows(deal_products), "module") == {
        m: {"module": m, "product_id": int(c.id), "product": c.id.label, "enabled": c.enabled,
            "gates_release": c.gates_release, "self_liquidating": c.self_liquidating,
            "borrower_roles": int(c.borrower_roles), "lender_roles": int(c.lender_roles)}
        for m, c in ((m, engine.product_config(m)) for m in d.product_modules.values())}

    A = net.addr
    settlement = {  # payer, amount due, to lender, to borrower, unreleased returned
        "deal.d1": (A("buyer"), 100_000_00, 82_000_00, 18_000_00, 0),
        "deal.d2": (A("buyer"), 50_000_00, 30_500_00, 19_500_00, 0),
        "deal.d3": (None, None, None, None, 0),
    }
    expected = {}
    for name, deal_id in flow.deal_ids().items():
        t, x = flow.deal_terms[name], lens.deal(deal_id)
        accepted = rm.one("DealEngine", "DealAccepted", dealId=deal_id)
        closed = rm.find("DealEngine", "DealClosed", dealId=deal_id)
        funded = rm.find("DealEngine", "DealFunded", dealId=deal_id)
        settled = [e for ev in ("DealCancelled", "DealRepaid", "DealDefaulted", "DealSettled")
                   for e in rm.find("DealEngine", ev, dealId=deal_id)]
        payer, due, to_lender, to_borrower, returned = settlement.get(name, (None,) * 5)
        expected[deal_id] = {
            "deal_id": deal_id, "product_id": int(x.product), "product": x.product.label, "product_module": t.product,
            "collateral_id": x.collateral_id, "borrower": x.borrower, "lender": x.lender, "obligor": x.obligor,
            "obligation": x.obligation, "obligation_currency": opt(x.obligation_currency) if x.obligation else None,
            "token": x.token, "currency": "USD", "principal": x.principal, "fee": x.fee, "maturity": x.maturity,
            "grace_period": x.grace_period, "accept_by": t.accept_by, "fx_valid_until": x.fx_valid_until,
            "shipment_id": hx(x.shipment_id), "agreement_hash": hx(t.agreement_hash), "nonce": hx(t.nonce),
            "extra": hx(t.extra), "terms_digest": hx(engine.terms_digest(t)), "submitter": t.borrower,
            "state": x.state.label, "released": x.released, "payer": payer, "amount_due": due,
            "to_lender": to_lender, "to_borrower": to_borrower, "unreleased_returned": returned,
            "overdue_flagged": x.overdue_flagged, "overdue_owed": x.principal + x.fee if x.overdue_flagged else None,
            "overdue_counted": x.overdue_counted,
            "assignment_approved_to": opt(engine._call("assignmentApproval", deal_id)),
            "accepted_block": accepted.block, "accepted_at": x.accepted_at,
            "funded_block": funded[0].block if funded else None, "funded_at": opt(x.funded_at),
            "settled_block": settled[0].block if settled else None, "settled_at": opt(x.settled_at),
            "closed_block": closed[0].block if closed else None}
    got = by_key(rm.rows(deals), "deal_id")
    assert got == expected
    assert {r["state"] for r in got.values()} == {"Cancelled", "Closed", "Repaid", "Funded"}
    assert {r["product"] for r in got.values()} == {"Receivable", "Order", "ReceiptPledge", "Documentary"}
    assert got[ids["deal.d2"]]["collateral_id"] == ids["invoice.d2"]  # rolled over
    assert got[ids["deal.d5"]]["obligation_currency"] == "EUR" and got[ids["deal.d5"]]["lender"] == A("lender_b")

    released_by = {("deal.d1", 0): "d1.depa", ("deal.d1", 1): "d1.arri_nlrtm_2", ("deal.d2", 1): "d2.depa"}
    expected = {}
    for name, deal_id in flow.deal_ids().items():
        ms = lens.milestones(deal_id)
        assert [m.amount for m in ms] == milestone_amounts(flow.deal_terms[name].principal, [m.share_bps for m in ms])
        for i, m in enumerate(ms):
            released = m.status in (MilestoneStatus.RELEASED, MilestoneStatus.PAID_OUT)
            event = released_by.get((name, i))
            expected[(deal_id, i)] = {
                "deal_id": deal_id, "idx": i, "event_code": m.event_code, "location": m.location,
                "share_bps": m.share_bps, "amount": m.amount, "status": m.status.label,
                "event_id": hx(flow.events[event]) if event else None,
                "released_block": rm.last("DealEngine", "MilestoneReleased", dealId=deal_id, milestone=i).block
                if released else None, "contested_event_id": None, "contested_block": None}
    got = by_key(rm.rows(deal_milestones), "deal_id", "idx")
    assert got == expected
    assert rm.find("DealEngine", "MilestoneReversed", dealId=ids["deal.d1"], milestone=1)  # the retraction

    credits = {  # credited, withdrawn
        ("deal.d1", "seller"): (98_000_00, 98_000_00), ("deal.d1", "lender"): (82_000_00, 82_000_00),
        ("deal.d2", "seller"): (49_500_00, 49_500_00), ("deal.d2", "lender_b"): (30_500_00, 0),
        ("deal.d3", "seller"): (20_000_00, 20_000_00), ("deal.d4", "seller"): (40_000_00, 40_000_00),
        **{(f"deal.carrier{n}", "carrier"): (1_000_00, 0) for n in (1, 2, 3)},
    }
    expected = {}
    for (name, key), (credited, withdrawn) in credits.items():
        deal_id, account = ids[name], A(key)
        assert engine.claimable(deal_id, account) == credited - withdrawn
        expected[(deal_id, account)] = {"deal_id": deal_id, "account": account, "credited": credited,
                                        "withdrawn": withdrawn, "claimable": credited - withdrawn}
    assert by_key(rm.rows(deal_credits), "deal_id", "account") == expected
    for deal_id in flow.deal_ids().values():  # the engine's balance invariant, per deal
        x = lens.deal(deal_id)
        unreleased = x.principal - x.released if x.state.label == "Funded" else 0
        assert lens.escrow_balance(deal_id) == unreleased + sum(
            r["claimable"] for (i, _), r in expected.items() if i == deal_id)

    rate, lock = flow.fx_rate, rm.one("DealEngine", "FxRateLocked")
    assert rm.rows(deal_fx_locks) == [
        {"deal_id": ids["deal.d5"], "base_currency": "EUR", "quote_currency": "USD", "rate": rate.rate,
         "observed_at": rate.observed_at, "valid_until": flow.deal_terms["deal.d5"].fx_valid_until,
         "block_number": lock.block}]
    assert rm.rows(deal_terms_revocations) == [
        {"terms_digest": hx(flow.ids["revoked_digest"]), "revoked_by": A("lender_b"),
         "block_number": rm.one("DealEngine", "TermsRevoked").block}]
    assigned = rm.one("DealEngine", "LenderAssigned")
    assert rm.rows(deal_assignments) == [
        {"block_number": assigned.block, "log_index": assigned.log_index, "deal_id": ids["deal.d5"],
         "previous_lender": A("lender"), "new_lender": A("lender_b")}]


def test_product_tables_equal_the_product_modules(flow, rm):
    net, ids = flow.net, flow.ids
    of = net.clients().order_financing
    assert of.order_of_deal(ids["deal.d2"]) == ids["order.d2"]
    assert of.invoice_of_deal(ids["deal.d2"]) == ids["invoice.d2"]
    assert rm.rows(order_rollovers) == [
        {"deal_id": ids["deal.d2"], "order_id": ids["order.d2"], "invoice_id": ids["invoice.d2"],
         "rolled_by": net.addr("seller"), "block_number": rm.one("OrderFinancing", "RolledToInvoice").block}]

    deal_id, credit = ids["deal.d4"], net.clients().credits.credit(ids["deal.d4"])
    assert (credit.complying, credit.required, credit.waived) == (1, 2, True)
    assert rm.rows(documentary_credits) == [
        {"deal_id": deal_id, "applicant": credit.applicant, "presenter": credit.presenter,
         "latest_shipment": credit.latest_shipment, "required": credit.required, "complying": credit.complying,
         "waived": credit.waived, "waived_block": rm.one("DocumentaryCredit", "DiscrepanciesWaived").block,
         "opened_block": rm.one("DocumentaryCredit", "CreditOpened").block}]
    expected = {}
    for i, doc in enumerate(credit.documents):
        presented = rm.find("DocumentaryCredit", "DocumentPresented", dealId=deal_id, docType=doc.doc_type.encode())
        expected[(deal_id, doc.doc_type)] = {
            "deal_id": deal_id, "doc_type": doc.doc_type, "idx": i,
            "expected_hash": hx(doc.expected_hash) if any(doc.expected_hash) else None,
            "document_hash": hx(doc.document_hash),
            "document_date": doc.document_date, "presented_at": doc.presented_at,
            "presented_block": presented[-1].block, "complying": doc.complying, "presentations": len(presented)}
    assert by_key(rm.rows(documentary_documents), "deal_id", "doc_type") == expected
    assert [expected[(deal_id, t)]["presentations"] for t in ("BLAD", "CINV")] == [1, 3]


# ----------------------------------------------------------------------------------- risk


def test_risk_tables_equal_the_risk_rules(flow, rm):
    net, ids = flow.net, flow.ids
    risk, A = net.clients().risk, net.addr
    lender, lender_b, buyer, seller = (ent(flow, k) for k in ("lender", "lender_b", "buyer", "seller"))
    expected = {}
    for key, by in (("lender", A("lender")), ("lender_b", None)):
        b = risk.lender_book(A(key))
        expected[ent(flow, key)] = {"lender": ent(flow, key), "currency": opt(b.currency), "cap_bps": b.cap_bps,
                                    "review_threshold": b.review_threshold, "exposure": b.exposure, "policy_set_by": by,
                                    "capital_base": risk.capital_base(A(key))}
    assert by_key(rm.rows(risk_lenders), "lender") == expected
    assert (expected[lender_b]["exposure"], expected[lender_b]["currency"]) == (40_000_00, "USD")  # network currency

    expected = {}
    for lk, ok in (("lender", "buyer"), ("lender", "seller"), ("lender", "carrier"), ("lender_b", "seller"),
                   ("lender_b", "buyer")):
        p = risk.pair(A(lk), A(ok))
        expected[(ent(flow, lk), ent(flow, ok))] = {
            "lender": ent(flow, lk), "obligor": ent(flow, ok), "limited": p.limited, "limit_amount": p.limit,
            "exposure": p.exposure, "limit_set_by": A("lender") if (lk, ok) == ("lender", "buyer") else None}
    assert by_key(rm.rows(risk_pairs), "lender", "obligor") == expected
    assert expected[(lender, buyer)]["limit_amount"] == 100_000_00

    expected = {}
    for key in ("buyer", "seller", "carrier"):
        p = risk.party(A(key))
        expected[ent(flow, key)] = {"party": ent(flow, key), "network_limited": p.network_limited,
                                    "network_limit": p.network_limit, "overdue_run": p.overdue_run,
                                    "frozen": p.frozen, "frozen_block": None}
    assert by_key(rm.rows(risk_parties), "party") == expected
    assert risk.party(A("buyer")).network_exposure == 40_000_00  # (not in the rules' events: see risk.py)

    carrier = ent(flow, "carrier")
    bookings = [("deal.d1", lender, buyer, 80_000_00, 80_000_00, 80_000_00),
                ("deal.d1", lender, buyer, -80_000_00, 0, 0),
                ("deal.d2", lender_b, seller, 30_000_00, 30_000_00, 30_000_00),
                # rolled into its invoice: the exposure moves from the supplier to the buyer
                ("deal.d2", lender_b, seller, -30_000_00, 0, 0),
                ("deal.d2", lender_b, buyer, 30_000_00, 30_000_00, 30_000_00),
                ("deal.d3", lender, seller, 20_000_00, 20_000_00, 20_000_00),
                *((f"deal.carrier{n}", lender, carrier, 1_000_00, n * 1_000_00, 20_000_00 + n * 1_000_00)
                  for n in (1, 2, 3)),
                ("deal.d3", lender, seller, -20_000_00, 0, 3_000_00),
                # the rolled-over order financing is released from the buyer
                ("deal.d2", lender_b, buyer, -30_000_00, 0, 0),
                ("deal.d5", lender, buyer, 40_000_00, 40_000_00, 43_000_00),
                ("deal.d5", lender, buyer, -40_000_00, 0, 3_000_00),
                ("deal.d5", lender_b, buyer, 40_000_00, 40_000_00, 40_000_00)]
    logged = rm.find("RiskRules", "ExposureBooked")
    assert rm.rows(risk_bookings) == [
        {"block_number": e.block, "log_index": e.log_index, "deal_id": ids[deal], "lender": lk, "obligor": ok,
         "pair_change": change, "pair_exposure": pair, "book": book, "tx_hash": e.tx_hash}
        for e, (deal, lk, ok, change, pair, book) in zip(logged, bookings, strict=True)]

    (w,) = rm.find("RiskRules", "RiskWarning")
    assert rm.rows(risk_warnings) == [
        {"block_number": w.block, "log_index": w.log_index, "kind": 1, "kind_label": "PairLimit", "lender": lender,
         "obligor": buyer, "used": 80_000_00, "limit_amount": 100_000_00, "deal_id": ids["deal.d1"],
         "tx_hash": w.tx_hash, "timestamp": w.timestamp}]
    counted = [("deal.d3", seller, 1), *((f"deal.carrier{n}", carrier, n) for n in (1, 2, 3))]
    assert rm.rows(risk_overdue) == [
        {"deal_id": ids[deal], "party": party, "run": run,
         "block_number": rm.one("RiskRules", "OverdueCounted", dealId=ids[deal]).block} for deal, party, run in counted]
    assert rm.one("RiskRules", "Frozen").block == flow.marks["frozen"] and rm.find("RiskRules", "Unfrozen")
    assert rm.find("RiskRules", "OverdueRunReset", party=bytes.fromhex(seller[2:]))  # D2 repaid on time
    assert risk.funding_approver(ids["deal.d1"]) == LENDER_OPS.address
    assert rm.rows(risk_funding_approvals) == [
        {"deal_id": ids["deal.d1"], "approver": LENDER_OPS.address, "lender": lender,
         "block_number": rm.one("RiskRules", "FundingApproved").block}]


def test_frozen_party_is_frozen_in_the_read_model_until_unfrozen(flow, db):
    net = flow.net
    url = db.new()
    carrier = {"party": ent(flow, "carrier")}
    frozen_at = flow.marks["frozen"]
    ix = indexer(net, url, confirmations=net.w3.eth.block_number - frozen_at)  # up to the freeze
    ix.sync()
    assert ix.checkpoint().block_number == frozen_at
    (row,) = [r for r in ReadModel(url).rows(risk_parties) if r["party"] == carrier["party"]]
    assert row == {**carrier, "network_limited": False, "network_limit": 0, "overdue_run": 3, "frozen": True,
                   "frozen_block": frozen_at}
    ix.engine.dispose()
    indexer(net, url).sync()
    (row,) = [r for r in ReadModel(url).rows(risk_parties) if r["party"] == carrier["party"]]
    assert (row["frozen"], row["frozen_block"], row["overdue_run"]) == (False, None, 0)
    assert not net.clients().risk.is_frozen(net.addr("carrier"))


# ----------------------------------------------------------------------------------- pools


POOL_TABLES = ("abs_pools", "pool_bids", "pool_assets", "pool_collections", "pool_distributions", "pool_note_sales",
               "pool_claims", "tranche_holdings")


@pytest.fixture
def pool_flow(net):
    """The ABS pool phase on its own, reverted after the test (the whole flow's tests never see it)."""
    snap = net.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield TradeFlow(net).run("pools")
    finally:
        revert_to(net.w3, snap)
        net.chain.nonces.resync()


def test_pool_tables_equal_the_pool_contract(pool_flow, db):
    from chain.indexer.projections import (abs_pools, pool_assets, pool_bids, pool_claims, pool_collections,
                                           pool_distributions, pool_note_sales, tranche_holdings)

    flow = pool_flow
    url = index_network(flow.net, db)
    rm = ReadModel(url)
    net, pid = flow.net, flow.ids["pool"]
    c = net.clients()
    chain_pool = c.pools.pool(pid)
    (row,) = rm.rows(abs_pools)
    assert (row["pool_id"], row["manager"], row["state"], row["currency"]) == (
        pid, net.addr("lender_b"), chain_pool.state.label, "USD")
    for col, value in (("asset_count", chain_pool.asset_count), ("open_assets", chain_pool.open_assets),
                       ("expected", chain_pool.expected), ("purchase_price", chain_pool.purchase_price),
                       ("collected", chain_pool.collected), ("losses", chain_pool.losses),
                       ("undistributed", chain_pool.undistributed),
                       ("senior_interest_paid", chain_pool.senior_interest_paid),
                       ("senior_principal_paid", chain_pool.senior_principal_paid),
                       ("junior_paid", chain_pool.junior_paid), ("paid_out", chain_pool.paid_out)):
        assert row[col] == value, col
    assert row["tape_hash"] == hx(chain_pool.tape_hash) and row["tape_root"] == hx(chain_pool.tape_root)
    chain_assets = c.pools.assets(pid)
    assets = by_key(rm.rows(pool_assets), "idx")
    assert len(assets) == len(chain_assets) == 2
    for a in chain_assets:
        r = assets[a.index]
        assert (r["deal_id"], r["invoice_id"], r["face_value"], r["expected"], r["due_date"], r["currency"],
                r["obligor_lei"], r["document_hash"], r["status"], r["recovered"], r["price"], r["leaf"]) == (
            a.deal_id, a.invoice_id, a.face_value, a.expected, a.due_date, a.currency, a.obligor_lei,
            hx(a.document_hash), a.status.label, a.recovered, a.price, hx(a.leaf))
    assert {b["status"] for b in rm.rows(pool_bids)} == {"Pooled"}
    assert [x["status"] for x in rm.rows(pool_collections)] == ["Repaid", "Active"]
    assert len(rm.rows(pool_distributions)) == 1 and len(rm.rows(pool_claims)) == 1
    assert {(x["tranche"], x["amount"]) for x in rm.rows(pool_note_sales)} == {
        ("Senior", chain_pool.senior_size), ("Junior", chain_pool.junior_size)}
    holdings = {(h["seniority"], h["holder"]): h["balance"] for h in rm.rows(tranche_holdings)}
    assert holdings == {("Senior", net.addr("investor")): chain_pool.senior_size,
                        ("Junior", net.addr("investor")): chain_pool.junior_size,
                        ("Senior", c.pools.address): 0, ("Junior", c.pools.address): 0}
    rm.close()
    # rebuilt, and followed block by block (the tranche tokens discovered from the pool's
    # creation), the pool tables are the same
    whole = dump_read_model(url)
    assert all(whole[t] for t in POOL_TABLES)
    ix = indexer(net, url)
    ix.rebuild()
    assert dump_read_model(url) == whole
    ix.engine.dispose()
    assert dump_read_model(index_network(net, db, batch_size=1)) == whole


# ----------------------------------------------------------------------------------- rebuild


def test_rebuild_replay_and_fresh_index_equal_incremental(flow, db):
    net = flow.net
    url = db.new()
    ix = indexer(net, url, batch_size=1)
    while ix.sync(max_batches=17):  # follow in small steps
        pass
    incremental = dump_read_model(url)
    # every table holds rows but those the flow leaves empty, each compared with its contract by its
    # own test (pools: test_pool_tables_equal_the_pool_contract; withholdings: test_projections_rules)
    assert all(incremental[t.name] for t in TRADENET_TABLES if t.name not in (*POOL_TABLES, "invoice_withholdings"))
    ix.rebuild()
    assert dump_read_model(url) == incremental
    assert ix.replay_projections() == sum(1 for e in incremental["events"] if e["event"] is not None)
    assert dump_read_model(url) == incremental
    ix.engine.dispose()
    assert dump_read_model(index_network(net, db, batch_size=1_000)) == incremental


def test_new_currency_token_followed_from_creation_across_restart_and_crash(flow, db):
    """The token announced by the factory is followed in the batch that announces it (its mint in
    the same batch is indexed), derived again from the stored events by a restarted indexer, and
    forgotten when the batch that announced it fails before commit."""
    net, gbp = flow.net, flow.gbp
    created = flow.marks["currency"]
    url = db.new()
    crashing = indexer(net, url, batch_size=1_000)

    def crash(conn, first, last):
        raise RuntimeError("crash before commit")

    crashing.sync(max_batches=0)
    crashing.before_commit = crash
    with pytest.raises(RuntimeError):
        crashing.sync()
    assert crashing.checkpoint() is None and gbp not in crashing.followed()
    crashing.before_commit = lambda *a: None
    crashing.sync()
    assert crashing.followed()[gbp] == "SettlementToken:GBP"
    crashing.engine.dispose()
    restarted = indexer(net, url)
    assert restarted.followed()[gbp] == "SettlementToken:GBP"
    balances = by_key(ReadModel(url).rows(erc20_balances), "token", "account")
    assert balances[(gbp, net.addr("lender"))]["amount"] == 4_000_00
    assert balances[(gbp, net.addr("lender_b"))]["amount"] == 1_000_00
    assert created < min(e["block_number"] for e in dump_read_model(url)["events"] if e["address"] == gbp)
    restarted.engine.dispose()


# ----------------------------------------------------------------------------------- reorg


@pytest.mark.parametrize("retention", [1024, 1], ids=["undo-log", "replay-fallback"])
def test_reorg_mid_flow_rolls_the_read_model_back(own_flow, db, retention):
    """The chain is rewound to before the documentary payment (orphaning it, the FX deal, the
    payments and the new currency) and grows another way: the payments first, then more blocks.
    The read model then equals a fresh index of the new chain; the orphaned currency token is no
    longer followed until it is created again on the new chain."""
    flow = own_flow
    net = flow.net
    url = db.new()
    ix = indexer(net, url, undo_retention=retention)
    ix.sync()
    before = dump_read_model(url)
    head = net.w3.eth.block_number
    fork = flow.marks["documentary"]
    net.w3.provider.make_request("anvil_rollback", [head - fork])
    net.chain.nonces.resync()
    flow.run("payments")
    net.w3.provider.make_request("anvil_mine", [max(head - net.w3.eth.block_number + 2, 1)])
    ix.sync()
    assert ix.metrics.reorgs_detected == 1 and ix.metrics.last_reorg["fork_block"] == fork
    assert ix.metrics.replays == (1 if retention == 1 else 0)
    after = dump_read_model(url)
    assert after == dump_read_model(index_network(net, db, batch_size=1_000))
    assert flow.gbp not in ix.followed()
    assert {r["currency"] for r in after["currency_tokens"]} == {"USD", "EUR", "CNY"}
    assert not [r for r in after["erc20_balances"] if r["token"] == flow.gbp]
    assert {r["deal_id"] for r in after["deals"]} == {r["deal_id"] for r in before["deals"]} - {
        flow.ids["deal.d4"], flow.ids["deal.d5"]}
    assert not after["deal_fx_locks"] and not after["deal_assignments"] and not after["documentary_credits"]
    lender_b_buyer = [r for r in after["risk_pairs"] if r["lender"] == ent(flow, "lender_b")
                      and r["obligor"] == ent(flow, "buyer")]
    assert [r["exposure"] for r in lender_b_buyer] == [0]  # the orphaned assignment's booking is gone
    assert len(after["invoice_payments"]) == len(before["invoice_payments"])  # paid again on the new chain
    assert after["invoice_payments"] != before["invoice_payments"]  # ... in other blocks

    flow.run("currency")  # the same CREATE2 address on the new chain
    ix.sync()
    assert ix.followed()[flow.gbp] == "SettlementToken:GBP"
    assert dump_read_model(url) == dump_read_model(index_network(net, db, batch_size=1_000))
    ix.engine.dispose()
