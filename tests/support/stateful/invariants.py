"""The invariants of the contract system, checked after every step against chain state.

`Reads.take` reads everything the invariants need in one JSON-RPC batch and the logs of the
step's blocks; each invariant is a named function of (reads, model) that raises
`InvariantViolated`. `History` keeps what the chain's logs said across the steps of a sequence
(the oracle's confirmations, each milestone's last release)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from chain.clients import Deal
from chain.clients.pools import Asset, AssetStatus, merkle_root
from chain.vocabulary import DealState, InvoiceState, MilestoneStatus, Product, Role

from .model import Model
from .rpc import Batch, LogCursor, Transfer
from .world import CURRENCIES, World


class InvariantViolated(AssertionError):
    pass


def _topic(client, event: str) -> bytes:
    return bytes.fromhex(getattr(client.contract.events, event)().topic[2:])


@dataclass
class History:
    """What the logs said so far in a sequence."""

    slots: dict[tuple[bytes, bytes], set[bytes]] = field(default_factory=dict)  # (shipment, code) -> locations
    retracted_at: dict[tuple[bytes, bytes, bytes], int] = field(default_factory=dict)  # slot -> last block
    released_at: dict[tuple[int, int], int] = field(default_factory=dict)  # (deal, milestone) -> last block
    funded_at: dict[int, int] = field(default_factory=dict)  # deal -> block
    invoices_issued: set[int] = field(default_factory=set)
    financed: dict[int, int] = field(default_factory=dict)  # invoice -> the deal that financed it


@dataclass
class Reads:
    """Chain state after a step."""

    supply: dict[str, int]
    balances: dict[str, dict[str, int]]
    deals: list[Deal]
    escrow: dict[int, int]
    milestones: dict[int, list[Any]]
    invoices: dict[int, Any]
    paid: dict[int, int]
    by_document: dict[bytes, int]
    locations: dict[tuple[bytes, str], list[bytes]]
    members: dict[str, Any]
    pairs: dict[tuple[str, str], int]
    parties: dict[str, Any]
    pools: dict[int, Any]
    assets: dict[int, list[Asset]]
    tranche_balances: dict[tuple[str, str], int]
    defaults: dict[int, Any]  # deal -> the simulated declareDefault's outcome (None, or the error)
    transfers: list[Transfer]
    logs: list[dict[str, Any]]

    @classmethod
    def take(cls, w: World, m: Model, cursor: LogCursor) -> "Reads":
        c = w.c()
        b = Batch(w.chain)
        holders = holder_addresses(w)
        tokens = {ccy: c.token(ccy) for ccy in CURRENCIES}
        sup = {ccy: b.add(t, "totalSupply") for ccy, t in tokens.items()}
        bal = {ccy: {h: b.add(t, "balanceOf", h) for h in holders} for ccy, t in tokens.items()}
        ids = sorted(m.deals)
        deals_slot = b.add(c.lens, "deals", ids)
        esc = {i: b.add(c.lens, "escrowBalance", i) for i in ids}
        mss = {i: b.add(c.lens, "milestones", i) for i in ids}
        inv = {i: b.add(c.invoices, "invoice", i) for i in m.invoices}
        paid = {i: b.add(c.settlement, "paidOf", i) for i in m.invoices}
        docs = {doc: b.add(c.invoices, "invoiceByDocument", doc) for doc in m.documents}
        locs = {key: b.add(c.oracle, "confirmedLocations", key[0], key[1].encode()) for key in m.oracle.slots}
        members = {a: b.add(c.registry, "member", a) for a in m.registry.members}
        lenders = [w.addr(k) for k in ("lender", "lender_b")] + [w.d.abs_pools]
        obligors = [w.addr(k) for k in ("buyer", "buyer_b", "seller", "seller_b")]
        pairs = {(l, o): b.add(c.risk, "pair", l, o) for l in lenders for o in obligors}
        parties = {o: b.add(c.risk, "party", o) for o in obligors}
        pools = {p: b.add(c.pools, "pool", p) for p in m.pools}
        assets = {p: b.add(c.pools, "assets", p, 0, 500) for p in m.pools}
        tranche_holders = [w.d.abs_pools] + [w.addr(k) for k in ("investor", "investor_b", "outsider")]
        tb = {}
        for p in m.pools.values():
            for tranche in p.tranches:
                for h in tranche_holders:
                    tb[(tranche, h)] = b.add(c.token("USD").__class__(w.chain, tranche), "balanceOf", h)
        now = w.now()
        defaults = {}
        for d in m.deals.values():
            if (d.state == DealState.FUNDED and now > d.maturity + d.grace + 600
                    and not m.registry.sanctioned(d.lender)):
                defaults[d.id] = b.add(c.deals, "declareDefault", d.id, sender=d.lender)
        r = b.run()
        simulated = set(defaults.values())
        for i, v in enumerate(r):
            if i not in simulated and isinstance(v, Exception):
                raise v
        deals = [Deal.decode(i, d) for i, d in zip(ids, r[deals_slot])] if ids else []
        transfers, logs, _ = cursor.advance()
        return cls(
            supply={ccy: r[i] for ccy, i in sup.items()},
            balances={ccy: {h: r[i] for h, i in hs.items()} for ccy, hs in bal.items()},
            deals=deals, escrow={i: r[s] for i, s in esc.items()}, milestones={i: r[s] for i, s in mss.items()},
            invoices={i: r[s] for i, s in inv.items()}, paid={i: r[s] for i, s in paid.items()},
            by_document={d: r[s] for d, s in docs.items()},
            locations={k: [bytes(x) for x in r[s][0]] for k, s in locs.items()},
            members={a: r[s] for a, s in members.items()},
            pairs={k: r[s].exposure for k, s in pairs.items()}, parties={k: r[s] for k, s in parties.items()},
            pools={k: r[s] for k, s in pools.items()},
            assets={k: [Asset(k, i, a.dealId, a.invoiceId, a.faceValue, a.expected, a.dueDate, AssetStatus(a.status),
                              bytes(a.currency).decode(), bytes(a.obligorLei).decode(), bytes(a.documentHash),
                              a.price, a.recovered) for i, a in enumerate(r[s])] for k, s in assets.items()},
            tranche_balances={k: r[s] for k, s in tb.items()},
            defaults={k: (r[s] if isinstance(r[s], Exception) else None) for k, s in defaults.items()},
            transfers=transfers, logs=logs)


def holder_addresses(w: World) -> list[str]:
    """Every address that may hold settlement tokens: participants (and an outsider), every
    deployed contract, the token contracts themselves (redemption custody)."""
    d = w.d
    contracts = [d.deal_engine, d.deal_lens, *d.product_modules.values(), d.invoice_settlement, d.abs_pools,
                 d.pool_lens, d.registry, d.invoice_token, d.purchase_orders, d.warehouse_receipt,
                 d.logistics_oracle, d.fx_rate_store, d.risk_rules, d.currency_factory, *d.settlement_tokens.values()]
    return sorted({a.address for a in w.keys.values()} | set(contracts))


class Checker:
    """Runs the named invariants; counts checks and assertions."""

    def __init__(self, w: World, m: Model, history: History, stats):
        self.w, self.m, self.h, self.stats = w, m, history, stats

    def ensure(self, cond: bool, what: Callable[[], str] | str) -> None:
        self.stats.invariant_assertions += 1
        if not cond:
            raise InvariantViolated(what() if callable(what) else what)

    def run(self, r: Reads) -> None:
        for inv in INVARIANTS:
            inv(self, r)
            self.stats.invariant_checks += 1


# ------------------------------------------------------------------------------- the invariants


def supply_conserved(c: Checker, r: Reads) -> None:
    """Each token's balances over every holder sum to its total supply, which moved only by
    TREASURY mint and burn (the model's supply); each balance is the model's."""
    for ccy in CURRENCIES:
        total = sum(r.balances[ccy].values())
        c.ensure(total == r.supply[ccy], lambda: f"{ccy}: holders hold {total}, total supply {r.supply[ccy]}")
        c.ensure(r.supply[ccy] == c.m.supply[ccy],
                 lambda: f"{ccy}: supply {r.supply[ccy]}, minted less burned {c.m.supply[ccy]}")
        for h, v in r.balances[ccy].items():
            c.ensure(v == c.m.balance(ccy, h), lambda: f"{ccy} balance of {c.w.key_of.get(h, h)}: chain {v}, "
                                                       f"model {c.m.balance(ccy, h)}")


def engine_backed(c: Checker, r: Reads) -> None:
    """The engine holds of each token exactly the sum of its deals' escrow balances (unreleased
    escrow of funded deals + credits not withdrawn), per the lens and per the model."""
    for ccy in CURRENCIES:
        token = c.w.token_address[ccy]
        owed = sum(r.escrow[d.deal_id] for d in r.deals if d.token == token)
        held = r.balances[ccy][c.w.d.deal_engine]
        c.ensure(held == owed, lambda: f"{ccy}: the engine holds {held}, its deals' escrow balances sum to {owed}")
    for d in r.deals:
        md = c.m.deals[d.deal_id]
        c.ensure(r.escrow[d.deal_id] == md.escrow_balance,
                 lambda: f"deal {d.deal_id}: escrow balance {r.escrow[d.deal_id]}, model {md.escrow_balance}")


def tokenised_once(c: Checker, r: Reads) -> None:
    """No invoice fingerprint or document hash is tokenised twice: every InvoiceIssued names a
    new id, only invoices the model minted exist, and each document hash names its one invoice."""
    topic = _topic(c.w.c().invoices, "InvoiceIssued")
    for log in r.logs:
        if log["address"] == c.w.d.invoice_token and bytes(log["topics"][0]) == topic:
            iid = int.from_bytes(bytes(log["topics"][1]), "big")
            c.ensure(iid not in c.h.invoices_issued, f"invoice {iid:#x} issued twice")
            c.h.invoices_issued.add(iid)
    roots = {i for i, inv in c.m.invoices.items() if not inv.parent}
    c.ensure(c.h.invoices_issued == roots, "the invoices issued on chain are not the model's")
    for doc, iid in c.m.documents.items():
        c.ensure(r.by_document[doc] == iid, lambda: f"document {doc.hex()} -> {r.by_document[doc]:#x}, not {iid:#x}")


def financed_once(c: Checker, r: Reads) -> None:
    """No invoice (or part of one, or its parent) is in two funded deals; no warehouse receipt is
    pledged to two running deals."""
    for d in r.deals:
        md = c.m.deals[d.deal_id]
        if d.funded_at == 0:
            continue
        invoice = d.collateral_id if d.product == Product.RECEIVABLE or md.rolled_invoice else 0
        if invoice:
            seen = c.h.financed.setdefault(invoice, d.deal_id)
            c.ensure(seen == d.deal_id, f"invoice {invoice:#x} financed by deals {seen} and {d.deal_id}")
    for invoice, deal in c.h.financed.items():
        for parent in c.m.ancestors(invoice):
            c.ensure(parent not in c.h.financed, f"invoice {invoice:#x} and its parent {parent:#x} both financed")
    pledged = [d.collateral_id for d in r.deals  # pledged from acceptance until the deal ends
               if d.product == Product.RECEIPT_PLEDGE and d.state in (DealState.ACCEPTED, DealState.FUNDED)]
    c.ensure(len(pledged) == len(set(pledged)), f"a receipt pledged to two running deals: {pledged}")


def releases_have_quorum(c: Checker, r: Reads) -> None:
    """No milestone is released without a quorum-confirmed oracle event for its slot (in the log
    order of the chain), and a milestone still Released in a funded deal is confirmed now or its
    event was retracted after the release (a pull-synced deal not poked yet)."""
    o = c.w.c().oracle
    e = c.w.c().deals
    t_conf, t_retr = _topic(o, "EventConfirmed"), _topic(o, "EventRetracted")
    t_rel, t_fund = _topic(e, "MilestoneReleased"), _topic(e, "DealFunded")
    specs = {d.deal_id: r.milestones[d.deal_id] for d in r.deals}
    shipments = {d.deal_id: d.shipment_id for d in r.deals}
    for log in r.logs:
        topic0 = bytes(log["topics"][0]) if log["topics"] else b""
        if log["address"] == o.address and topic0 in (t_conf, t_retr):
            ship, code = bytes(log["topics"][2]), bytes(log["topics"][3])[:4]
            ev = (o.contract.events.EventConfirmed() if topic0 == t_conf else o.contract.events.EventRetracted())
            loc = bytes(ev.process_log(log)["args"]["location"])
            calls = c.h.slots.setdefault((ship, code), set())
            if topic0 == t_conf:
                calls.add(loc)
            else:
                calls.discard(loc)
                c.h.retracted_at[(ship, code, loc)] = log["blockNumber"]
        elif log["address"] == e.address and topic0 == t_fund:
            c.h.funded_at[int.from_bytes(bytes(log["topics"][1]), "big")] = log["blockNumber"]
        elif log["address"] == e.address and topic0 == t_rel:
            deal = int.from_bytes(bytes(log["topics"][1]), "big")
            index = e.contract.events.MilestoneReleased().process_log(log)["args"]["milestone"]
            m = specs[deal][index]
            code, loc = bytes(m.eventCode), bytes(m.location)
            if code == bytes(4):
                c.ensure(c.h.funded_at.get(deal) == log["blockNumber"], f"deal {deal}: advance released unfunded")
            else:
                calls = c.h.slots.get((shipments[deal], code), set())
                met = bool(calls) if loc == bytes(5) else loc in calls
                c.ensure(met, f"deal {deal} milestone {index} released without a confirmed event")
            c.h.released_at[(deal, index)] = log["blockNumber"]
    for d in r.deals:
        if d.state != DealState.FUNDED:
            continue
        for i, m in enumerate(r.milestones[d.deal_id]):
            code, loc = bytes(m.eventCode), bytes(m.location)
            if code == bytes(4) or MilestoneStatus(m.status) not in (MilestoneStatus.RELEASED, MilestoneStatus.PAID_OUT):
                continue
            calls = c.h.slots.get((d.shipment_id, code), set())
            if (bool(calls) if loc == bytes(5) else loc in calls):
                continue
            released = c.h.released_at.get((d.deal_id, i), -1)
            retracted = [b for (s, k, _), b in c.h.retracted_at.items() if s == d.shipment_id and k == code]
            c.ensure(any(b >= released for b in retracted),
                     f"deal {d.deal_id} milestone {i} is released but its event is not confirmed")


def transfers_follow_rule(c: Checker, r: Reads) -> None:
    """No transfer (settlement tokens, invoices, orders, receipts, notes) ever lands with a
    non-member or a sanctioned member, nor moves member-to-member with a suspended one."""
    reg = c.m.registry
    d = c.w.d
    tokens = set(d.settlement_tokens.values())
    tranches = {t for p in c.m.pools.values() for t in p.tranches}
    for t in r.transfers:
        zero = "0x" + "00" * 20
        if t.receiver.lower() == zero:
            continue
        name = c.w.key_of.get(t.receiver, t.receiver)
        if t.sender.lower() == zero:
            c.ensure(reg.require_can_receive(t.receiver) is None, f"{t.token}: minted to {name}, who may not receive")
            continue
        if t.token in tokens and t.sender == t.token:
            # a rejected redemption: the holder's own tokens back from custody, frozen if it was
            # sanctioned meanwhile (intended: test_settlement_token.py), never anyone else's
            c.ensure(t.receiver in reg.members, f"{t.token}: a redemption returned to {name}, not a member")
            continue
        if t.token in tokens and t.receiver == t.token:
            c.ensure(reg.require_can_receive(t.sender) is None, f"a redemption requested by {t.sender}")
            continue
        roles = Role.INVESTOR if t.token in tranches else 0
        err = reg.require_transfer(t.sender, t.receiver, roles)
        c.ensure(err is None, lambda: f"{t.token}: a transfer {c.w.key_of.get(t.sender, t.sender)} -> {name} "
                                      f"landed against the transfer rule ({err})")


def pool_tapes(c: Checker, r: Reads) -> None:
    """Each pool's tape recomputed from its asset records (Merkle root of their leaves) is its
    published root, its running hash is the pool's tapeHash, and the records are the model's."""
    from eth_abi import encode as abi_encode
    from eth_utils import keccak

    for pid, p in c.m.pools.items():
        chain = r.pools[pid]
        assets = r.assets[pid]
        leaves = [a.leaf for a in assets]
        c.ensure(leaves == [a["leaf"] for a in p.assets], f"pool {pid}: the tape's leaves are not the model's")
        running = bytes(32)
        for leaf in leaves:
            running = keccak(abi_encode(["bytes32", "bytes32"], [running, leaf]))
        c.ensure(running == bytes(chain.tapeHash), f"pool {pid}: tapeHash is not the running hash of its leaves")
        if bytes(chain.tapeRoot) != bytes(32):
            c.ensure(merkle_root(leaves) == bytes(chain.tapeRoot), f"pool {pid}: the published root is not the tape's")
        c.ensure(bytes(chain.tapeRoot) == p.tape_root, f"pool {pid}: root is not the model's")
        for a, ma in zip(assets, p.assets):
            c.ensure(a.status.label == ma["status"] and a.recovered == ma["recovered"],
                     lambda: f"pool {pid} asset {a.index}: {a.status.label}/{a.recovered}, model {ma}")
        figures = (chain.collected, chain.undistributed, chain.seniorInterestPaid, chain.seniorPrincipalPaid,
                   chain.juniorPaid, chain.paidOut, chain.openAssets, PoolStateLabel(chain.state))
        model = (p.collected, p.undistributed, p.interest_paid, p.principal_paid, p.junior_paid, p.paid_out,
                 p.open_assets, p.state)
        c.ensure(figures == model, lambda: f"pool {pid}: chain {figures}, model {model}")
        for (tranche, h), v in r.tranche_balances.items():
            if tranche in p.tranches:
                mv = p.tranches[tranche]["balances"].get(h, 0)
                c.ensure(v == mv, lambda: f"pool {pid} notes of {c.w.key_of.get(h, h)}: {v}, model {mv}")


def defaults_never_blocked(c: Checker, r: Reads) -> None:
    """A funded deal past maturity + grace can always be declared in default by its lender (not
    sanctioned): the lender's remedy, the unreleased escrow coming back, is never blocked."""
    for deal, err in r.defaults.items():
        c.ensure(err is None, f"deal {deal} ({c.m.deals[deal].product.name}) is past maturity + grace and its "
                              f"lender cannot declare the default: {err}")


def PoolStateLabel(state: int) -> str:
    return ("None", "Building", "Issued", "Amortising", "Closed")[state]


def model_agrees(c: Checker, r: Reads) -> None:
    """Everything else the model states, as the chain reads it: deals (state, parties, credits,
    releases), milestones, invoices (state, holder, direct payments), oracle slots, standing,
    risk exposures, overdue runs and freezes."""
    m, reg = c.m, c.m.registry
    for d in r.deals:
        md = m.deals[d.deal_id]
        got = (d.state, d.lender, d.obligor, d.obligation, d.released, d.borrower_withdrawn, d.lender_credit,
               d.borrower_bonus, d.overdue_flagged, d.overdue_counted, d.collateral_id)
        want = (md.state, md.lender, md.obligor, md.obligation, md.released, md.withdrawn, md.lender_credit,
                md.bonus, md.overdue_flagged, md.overdue_counted, md.collateral)
        c.ensure(got == want, lambda: f"deal {d.deal_id}: chain {got}, model {want}")
        statuses = [MilestoneStatus(x.status) for x in r.milestones[d.deal_id]]
        c.ensure(statuses == [x.status for x in md.milestones],
                 lambda: f"deal {d.deal_id} milestones: chain {statuses}, model {[x.status for x in md.milestones]}")
    for iid, v in r.invoices.items():
        mi = m.invoices[iid]
        holder = None if int(v.holder, 16) == 0 else v.holder
        got = (InvoiceState(v.state), holder, r.paid[iid])
        c.ensure(got == (mi.state, mi.holder, mi.paid), lambda: f"invoice {iid:#x}: chain {got}, "
                                                                f"model {(mi.state, mi.holder, mi.paid)}")
    for key, locs in r.locations.items():
        want = sorted(x.encode() for x in m.oracle.slots[key])
        c.ensure(sorted(locs) == want, lambda: f"oracle slots {key}: chain {locs}, model {want}")
    for a, v in r.members.items():
        mm = reg.members[a]
        c.ensure((v.suspended, v.sanctioned) == (mm.suspended, mm.sanctioned), f"standing of {mm.key}")
    for (l, o), v in r.pairs.items():
        want = m.risk.pair.get((reg.entity(l), reg.entity(o)), 0)
        c.ensure(v == want, lambda: f"exposure {c.w.key_of.get(l, l)} -> {c.w.key_of.get(o)}: chain {v}, model {want}")
    for o, v in r.parties.items():
        e = reg.entity(o)
        want = (e in m.risk.frozen, m.risk.run.get(e, 0), m.risk.network.get(e, 0))
        got = (v.frozen, v.overdueRun, v.networkExposure)
        c.ensure(got == want, lambda: f"risk party {c.w.key_of.get(o)}: chain {got}, model {want}")


INVARIANTS = (supply_conserved, engine_backed, tokenised_once, financed_once, releases_have_quorum,
              transfers_follow_rule, pool_tapes, defaults_never_blocked, model_agrees)
