"""Gas used by each step of a receivable-financing deal and by the oracles, on a fresh local anvil.

Covers: contract deployment, oracle quorum governance, the deal lifecycle (accept, fund, releases
inside 2-of-3 and 3-of-5 oracle reports, withdrawals, repayment waterfall), retraction, poke,
default, cancellation, FX rates, and the oracle's fan-out (one report releasing 8 deals).

Run: .venv/bin/python bench/gas_financing.py   (prints a table; the chain's block gas limit beside it)
"""

from __future__ import annotations

import itertools
from typing import Any

from eth_account import Account
from eth_utils import keccak

from chain.anvil import Anvil
from chain.client import Chain
from chain.clients import DealTerms, FxRate, InvoiceTerms, Milestone, ShipmentEvent
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.vocabulary import Role

DAY = 86_400


def measure() -> tuple[list[tuple[str, int]], int]:
    rows: list[tuple[str, int]] = []
    with Anvil() as node:
        chain = Chain.connect(node.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, "bench-financing")
        a = lambda k: keys[k].address  # noqa: E731
        d = bootstrap(chain, "bench", keys)
        w3 = chain.w3
        gas_limit = w3.eth.get_block("latest")["gasLimit"]
        admins = [keys["admin_a"], keys["admin_b"], keys["admin_c"]]
        reg = d.clients(chain).registry
        now = lambda: w3.eth.get_block("latest")["timestamp"]  # noqa: E731
        ids = itertools.count(1)

        def g(label: str, receipt: dict[str, Any]) -> None:
            rows.append((label, receipt["gasUsed"]))

        def advance(seconds: int) -> None:
            w3.provider.make_request("evm_increaseTime", [seconds])
            w3.provider.make_request("evm_mine", [])

        # -- deployment
        for name, args in (("LogisticsOracle", (d.registry, 3 * DAY)), ("FxRateStore", (d.registry, 3600)),
                           ("ReceivableFinancing", (d.registry, d.invoice_token, d.logistics_oracle))):
            addr, receipt = chain.deploy(name, keys["admin_a"], *args)
            g(f"deploy {name} (runtime {len(w3.eth.get_code(addr)):,} bytes)", receipt)

        oracle = d.clients(chain, keys["carrier"]).oracle
        fx = d.clients(chain, keys["carrier"]).fx
        ops3 = [a(k) for k in ("oracle_1", "oracle_2", "oracle_3")]
        pid = reg.using(admins[0]).propose([oracle.call_set_operators(ops3, 2)], "re-set 2 of 3")
        reg.using(admins[1]).approve(pid)
        g("governance: execute oracle setOperators (3 operators, k=2)", reg.using(admins[1]).execute(pid))

        usd = d.clients(chain, keys["treasury"]).token("USD")
        for k in ("lender", "buyer"):
            usd.mint(a(k), 10**12, keccak(text=f"deposit {k}"))

        def sign_event(ev: ShipmentEvent, signers) -> list[bytes]:
            return [oracle.sign_event(s, ev) for s in signers]

        o3 = [keys["oracle_1"], keys["oracle_2"], keys["oracle_3"]]

        def new_deal(reference: str, shares, face=10_000_000, principal=8_000_000, fee=120_000,
                     maturity_in=60 * DAY, grace=10 * DAY, record=False) -> DealTerms:
            inv = d.clients(chain, keys["seller"]).invoices
            t = now()
            iid = inv.mint(InvoiceTerms(a("buyer"), f"INV-GAS-{next(ids):04d}", face, "USD", t - DAY, t + 90 * DAY,
                                        keccak(text=reference + str(t)), "bafkreibenchfinancing"))
            if record:
                g("InvoiceToken.mint", inv.last_receipt)
            r = d.clients(chain, keys["buyer"]).invoices.confirm(iid)
            if record:
                g("InvoiceToken.confirm", r)
            ship = keccak(text=reference)
            terms = DealTerms(next(ids) + 10_000, iid, a("seller"), a("lender"), d.settlement_tokens["USD"], principal,
                              fee, t + maturity_in, grace, t + DAY,
                              tuple(Milestone(ship, c, bps) for c, bps in shares))
            fin_s = d.clients(chain, keys["seller"]).deals
            r = fin_s.approve_invoice(d.clients(chain, keys["seller"]).invoices, iid)
            if record:
                g("InvoiceToken.approve (deal contract)", r)
            bsig, lsig = fin_s.sign_terms(keys["seller"], terms), fin_s.sign_terms(keys["lender"], terms)
            r = fin_s.accept(terms, bsig, lsig)
            if record:
                g(f"deal: accept ({len(shares)} milestones, 2 party signatures, invoice into escrow)", r)
            fin_l = d.clients(chain, keys["lender"]).deals
            r = fin_l.approve_payment(d.clients(chain, keys["lender"]).token("USD"), principal)
            if record:
                g("SettlementToken.approve (deal contract)", r)
            r = fin_l.fund(terms.deal_id)
            if record:
                g(f"deal: fund (principal into escrow, markFinanced, {len(shares)} oracle watches)", r)
            return terms

        # -- the main lifecycle: three milestones
        ref = "MAEU-GAS-0001"
        terms = new_deal(ref, (("DEPA", 3000), ("ARRI", 5000), ("CUSC", 2000)), record=True)
        fin = d.clients(chain, keys["auditor"]).deals

        ev0 = ShipmentEvent.from_strings("MSCU-NOWAIT-1", "DEPA", "CNSZX", now() - 60, "no deal waits")
        oracle.submit_report(ev0, sign_event(ev0, o3[:2]))
        g("oracle report, 2-of-3, no deal waiting", oracle.last_receipt)

        dep = ShipmentEvent.from_strings(ref, "DEPA", "CNSZX", now() - 60, "departure")
        dep_id = oracle.submit_report(dep, sign_event(dep, o3[:2]))
        g("oracle report, 2-of-3, releases 1 deal milestone in-tx", oracle.last_receipt)
        # retraction of the departure (not withdrawn yet), then the corrected event
        reason = keccak(text="wrong vessel")
        oracle.submit_retraction(dep_id, reason, [oracle.sign_retraction(s, dep_id, reason) for s in o3[:2]])
        g("oracle retraction, 2-of-3, reverses 1 release", oracle.last_receipt)
        dep2 = ShipmentEvent.from_strings(ref, "DEPA", "CNSZX", now() - 30, "departure (corrected)")
        oracle.submit_report(dep2, sign_event(dep2, o3[:2]))
        g("oracle report, 2-of-3, re-releases after retraction", oracle.last_receipt)
        g("deal: withdraw (seller, first release)", _withdraw(d, chain, keys["seller"], terms))

        # reconfigure to 3-of-5 through governance
        extra = [Account.from_key(keccak(text=f"bench extra oracle {i}")) for i in range(2)]
        exp = now() + 365 * DAY
        reg.govern(admins, [reg.call_add_member(x.address, Role.ORACLE, f"529900BENCHORACLE{i:03d}", "DE", exp)
                            for i, x in enumerate(extra)], "admit 2 more operators")
        ops5 = ops3 + [x.address for x in extra]
        pid = reg.using(admins[0]).propose([oracle.call_set_operators(ops5, 3)], "3 of 5")
        reg.using(admins[1]).approve(pid)
        g("governance: execute oracle setOperators (5 operators, k=3)", reg.using(admins[1]).execute(pid))
        o5 = o3 + extra
        ev1 = ShipmentEvent.from_strings("MSCU-NOWAIT-1", "ARRI", "NLRTM", now() - 60, "no deal waits")
        oracle.submit_report(ev1, sign_event(ev1, o5[:3]))
        g("oracle report, 3-of-5, no deal waiting", oracle.last_receipt)
        arr = ShipmentEvent.from_strings(ref, "ARRI", "NLRTM", now() - 60, "arrival")
        oracle.submit_report(arr, sign_event(arr, o5[2:5]))
        g("oracle report, 3-of-5, releases 1 deal milestone in-tx", oracle.last_receipt)
        ev2 = ShipmentEvent.from_strings("MSCU-NOWAIT-1", "DISC", "NLRTM", now() - 60, "all five")
        oracle.submit_report(ev2, sign_event(ev2, o5))
        g("oracle report, 5-of-5 signatures (k=3), no deal waiting", oracle.last_receipt)

        # repayment and the waterfall
        fin_b = d.clients(chain, keys["buyer"]).deals
        g("SettlementToken.approve (buyer, face value)", fin_b.approve_payment(d.clients(chain, keys["buyer"]).token("USD"),
                                                                               10_000_000))
        g("deal: repay (face value in, waterfall credits, markPaid, 1 unwatch)", fin_b.repay(terms.deal_id))
        g("deal: withdraw (lender: principal + fee)", _withdraw(d, chain, keys["lender"], terms))
        g("deal: withdraw (seller: remainder, closes the deal)", _withdraw(d, chain, keys["seller"], terms))
        assert fin.state(terms.deal_id) == 6  # Closed

        # fan-out: nine deals wait for one slot; the report releases 8 in-tx and defers 1 to poke
        pid = reg.using(admins[0]).propose([oracle.call_set_operators(ops3, 2)], "back to 2 of 3")
        reg.using(admins[1]).approve(pid)
        reg.using(admins[1]).execute(pid)
        fan_ref = "MAEU-GAS-FANOUT"
        fan = [new_deal(fan_ref, (("DEPA", 5000), ("ARRI", 5000)), face=1_000_000, principal=500_000, fee=1_000)
               for _ in range(9)]
        fev = ShipmentEvent.from_strings(fan_ref, "DEPA", "CNSZX", now() - 60, "fan-out departure")
        oracle.submit_report(fev, sign_event(fev, o3[:2]))
        g("oracle report, 2-of-3, releases 8 deals in-tx (cap), defers 1", oracle.last_receipt)
        deferred = [t for t in fan if fin.releasable(t.deal_id)]
        g("deal: poke (deferred milestone)", _poke(d, chain, keys["auditor"], deferred[0]))

        # overdue warning, default, cancellation
        dflt = new_deal("MAEU-GAS-DEFAULT", (("DEPA", 10_000),), maturity_in=10 * DAY, grace=5 * DAY)
        advance(10 * DAY + 1)
        g("deal: flagOverdue (early warning)", d.clients(chain, keys["auditor"]).deals.flag_overdue(dflt.deal_id))
        advance(5 * DAY)
        g("deal: declareDefault (escrow credited back, invoice to lender, 1 unwatch)",
          d.clients(chain, keys["lender"]).deals.declare_default(dflt.deal_id))
        inv = d.clients(chain, keys["seller"]).invoices
        t = now()
        iid = inv.mint(InvoiceTerms(a("buyer"), "INV-GAS-CANCEL", 1_000_000, "USD", t - DAY, t + 90 * DAY,
                                    keccak(text="cancel"), "bafkreibenchcancel"))
        d.clients(chain, keys["buyer"]).invoices.confirm(iid)
        ct = DealTerms(99_999, iid, a("seller"), a("lender"), d.settlement_tokens["USD"], 500_000, 0, t + 30 * DAY,
                       0, t + DAY, (Milestone(keccak(text="x"), "DEPA", 10_000),))
        fs = d.clients(chain, keys["seller"]).deals
        fs.approve_invoice(inv, iid)
        fs.accept(ct, fs.sign_terms(keys["seller"], ct), fs.sign_terms(keys["lender"], ct))
        g("deal: cancel before funding (invoice back to seller)", d.clients(chain, keys["lender"]).deals.cancel(ct.deal_id))

        # FX
        r1 = FxRate.from_decimal("EUR", "USD", "1.0825", now() - 30)
        fx.submit_rate(r1, [fx.sign_rate(s, r1) for s in o3[:2]])
        g("FxRateStore.submitRate, 2-of-3 (first observation of the pair)", fx.last_receipt)
        r2 = FxRate.from_decimal("EUR", "USD", "1.0831", now() - 10)
        fx.submit_rate(r2, [fx.sign_rate(s, r2) for s in o3[:2]])
        g("FxRateStore.submitRate, 2-of-3 (update)", fx.last_receipt)
        reg.govern(admins, [fx.call_set_operators(ops5, 3)], "fx 3 of 5")
        r3 = FxRate.from_decimal("EUR", "USD", "1.0840", now() - 5)
        fx.submit_rate(r3, [fx.sign_rate(s, r3) for s in o5[:3]])
        g("FxRateStore.submitRate, 3-of-5 (update)", fx.last_receipt)
    return rows, gas_limit


def _withdraw(d, chain, account, terms) -> dict[str, Any]:
    f = d.clients(chain, account).deals
    f.withdraw(terms.deal_id)
    return f.last_receipt


def _poke(d, chain, account, terms) -> dict[str, Any]:
    f = d.clients(chain, account).deals
    f.poke(terms.deal_id)
    return f.last_receipt


def main() -> None:
    from gas_table import print_gas_table  # bench/ is on sys.path when a bench script runs

    print_gas_table(*measure())


if __name__ == "__main__":
    main()
