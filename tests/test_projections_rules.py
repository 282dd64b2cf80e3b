"""Read-model rows of two rules: a part withheld from a maturity payment because its holder is
sanctioned (``invoice_withholdings``), and a lender's capital base (``risk_lenders``), on SQLite and
PostgreSQL."""

from __future__ import annotations

from chain.indexer.projections import invoice_withholdings, risk_lenders
from chain.vocabulary import Role
from tests.support.indexer.readmodel import ReadModel, entity_key, index_network
from tests.support.products import admit, c, govern, invoice, mint, ref


def test_withheld_part_and_capital_base_are_projected(net, db):
    mint(net, "buyer", 100_000_00)
    tier2 = admit(net, "tier2-rm", Role.SELLER, "529900TIER2READMD018", "Dongguan Read-Model Parts Ltd.", "CN")
    root = invoice(net, 10_000_00)
    kept, sold = c(net, "seller").invoices.split(root, [6_000_00, 4_000_00])
    c(net, "seller").invoices.transfer(tier2.address, sold)
    govern(net, c(net).registry.call_set_sanctioned(tier2.address, True, "OFAC SDN list match"))
    c(net, "buyer").token("USD").approve(net.deployment.invoice_settlement, 6_000_00)
    receipt = c(net, "buyer").settlement.pay_parts(root, 6_000_00, ref("maturity"))
    c(net, "lender").risk.set_lender_policy("USD", 2_500, 0)
    c(net, "lender").risk.set_capital_base(1_000_000_00)

    rm = ReadModel(index_network(net, db))
    [row] = rm.rows(invoice_withholdings)
    assert {k: row[k] for k in ("root_id", "invoice_id", "holder", "open_amount", "tx_hash")} == {
        "root_id": root, "invoice_id": sold, "holder": tier2.address, "open_amount": 4_000_00,
        "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex()}
    assert kept != sold
    lenders = {r["lender"]: r for r in rm.rows(risk_lenders)}
    lender = lenders[entity_key(net.participants["lender"].lei)]
    assert (lender["currency"], lender["cap_bps"], lender["capital_base"]) == ("USD", 2_500, 1_000_000_00)
