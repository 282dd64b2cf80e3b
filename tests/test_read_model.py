"""The tradenet projections: the read model equals the contracts' state after the demo trade."""

from sqlalchemy import create_engine, select

from chain.indexer import upgrade
from chain.indexer.network import build_indexer
from chain.indexer.projections.erc20 import erc20_balances
from chain.indexer.projections.tradenet import invoices, participants, proposals, receipts
from chain.scenario import Narrator, run_core_trade


def test_read_model_matches_chain_after_core_trade(net, tmp_path):
    result = run_core_trade(net.chain, net.deployment, net.keys, Narrator(lambda _: None))
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    upgrade(url)
    ix = build_indexer(net.w3, url, net.deployment, net.chain.artifacts)
    ix.sync()
    db = create_engine(url)
    with db.connect() as c:
        people = {r.account: r for r in c.execute(select(participants))}
        assert len(people) == len(net.participants)
        for key, p in net.participants.items():
            row = people[net.addr(key)]
            assert row.lei == p.lei and row.roles == int(p.roles) and not row.suspended
        inv = c.execute(select(invoices).where(invoices.c.id == result.invoice_id)).one()
        onchain = net.invoices().invoice(result.invoice_id)
        assert (inv.state, inv.face_value, inv.currency, inv.holder, inv.buyer) == (
            "Confirmed", onchain.face_value, "USD", onchain.holder, onchain.buyer)
        assert inv.fingerprint == "0x" + onchain.fingerprint.hex()
        rec = c.execute(select(receipts).where(receipts.c.id == result.receipt_id)).one()
        assert rec.pledgee == net.addr("lender") and rec.holder == net.addr("seller") and rec.location == "NLRTM"
        executed = c.execute(select(proposals)).all()
        assert executed and all(p.state == "Executed" and len(p.approvers) == 2 for p in executed)
        usd = net.deployment.settlement_tokens["USD"]
        bal = {r.account: r.amount for r in c.execute(select(erc20_balances).where(erc20_balances.c.token == usd))}
        assert bal[net.addr("lender")] == net.token("USD").balance_of(net.addr("lender")) == 5_000_000_00


def test_split_and_transfer_projection(net, tmp_path):
    from chain.contracts import ContractKind, InvoiceTerms

    reg = net.registry()
    escrow = net.keys["lender_b"]
    reg.govern(net.admins, [reg.call_set_network_contract(escrow.address, ContractKind.ESCROW)], "escrow")
    now = net.now()
    inv = net.invoices("seller")
    iid = inv.mint(InvoiceTerms(net.addr("buyer"), "RM-1", 900, "USD", now, now + 86_400 * 30, b"\1" * 32, "cid"))
    net.invoices("buyer").confirm(iid)
    inv.transfer(escrow.address, iid)
    e = net.invoices("lender_b")
    e.mark_financed(iid)
    children = e.split(iid, [400, 500])
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    upgrade(url)
    build_indexer(net.w3, url, net.deployment, net.chain.artifacts).sync()
    with create_engine(url).connect() as c:
        rows = {r.id: r for r in c.execute(select(invoices))}
    assert rows[iid].state == "Split" and rows[iid].holder is None and rows[iid].financier == escrow.address
    for cid_, face in zip(children, (400, 500)):
        onchain = net.invoices().invoice(cid_)
        assert rows[cid_].holder == escrow.address == onchain.holder
        assert rows[cid_].face_value == face and rows[cid_].parent_id == iid
        assert rows[cid_].fingerprint == "0x" + onchain.fingerprint.hex()


def test_deal_lifecycle_projection(net, tmp_path):
    from chain.indexer.projections.deals import deal_milestones, deals, oracle_events
    from tests.deal_support import confirm, ensure_money, event, open_deal, repay

    ensure_money(net)
    setup = open_deal(net, face_value=10_000_000, principal=8_000_000, fee=120_000)
    ev = event(net, setup.reference, "DEPA")
    event_id = confirm(net, ev)
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    upgrade(url)
    ix = build_indexer(net.w3, url, net.deployment, net.chain.artifacts)
    ix.sync()
    db = create_engine(url)
    with db.connect() as c:
        d = c.execute(select(deals).where(deals.c.deal_id == setup.deal_id)).one()
        ms = c.execute(select(deal_milestones).where(deal_milestones.c.deal_id == setup.deal_id)
                       .order_by(deal_milestones.c.idx)).all()
        oe = c.execute(select(oracle_events)).all()
    assert (d.state, d.principal, d.fee, d.released, d.currency, d.buyer) == (
        "Funded", 8_000_000, 120_000, setup.amounts[0], "USD", net.addr("buyer"))
    assert [m.status for m in ms] == ["Released", "Pending"] and ms[0].amount == setup.amounts[0]
    assert ms[0].released_by == "0x" + event_id.hex() and [o.event_code for o in oe] == ["DEPA"]
    assert len(oe[0].signers) == 2
    repay(net, setup)
    ix.sync()
    with db.connect() as c:
        d = c.execute(select(deals).where(deals.c.deal_id == setup.deal_id)).one()
    assert d.state == "Repaid" and d.to_lender == 8_000_000 + 120_000
    assert d.to_borrower == 10_000_000 - setup.amounts[0] - 120_000


def test_cli_rebuild_equals_incremental_read_model(net, tmp_path):
    """`tradenet indexer --rebuild` gives the same domain tables as following block by block."""
    from chain.cli import main
    from chain.indexer.projections.deals import deals, oracle_events
    from tests.deal_support import confirm, ensure_money, event, open_deal

    ensure_money(net)
    incremental = f"sqlite:///{tmp_path / 'inc.db'}"
    upgrade(incremental)
    ix = build_indexer(net.w3, incremental, net.deployment, net.chain.artifacts, batch_size=3)
    run_core_trade(net.chain, net.deployment, net.keys, Narrator(lambda _: None))
    ix.sync()
    setup = open_deal(net, reference="OOLU-BL-REBUILD")
    confirm(net, event(net, "OOLU-BL-REBUILD", "DEPA"))
    ix.sync()
    deployment_file = net.deployment.save(tmp_path)
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    assert main(["indexer", "--rpc-url", net.anvil_url, "--deployment", str(deployment_file), "--db-url", rebuilt,
                 "--rebuild"]) == 0

    def dump(url):
        with create_engine(url).connect() as c:
            return {t.name: sorted(tuple(r) for r in c.execute(select(t)))
                    for t in (participants, proposals, invoices, receipts, erc20_balances, deals, oracle_events)}

    a, b = dump(incremental), dump(rebuilt)
    assert a == b and a["deals"] and a["oracle_events"] and a["invoices"]
    assert any(r[0] == setup.deal_id for r in b["deals"])
