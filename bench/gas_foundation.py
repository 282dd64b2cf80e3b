"""Gas used by each foundation contract operation, on a fresh local anvil.

Run: .venv/bin/python bench/gas_foundation.py   (prints a table; the chain's block gas limit beside it)
"""

from __future__ import annotations

from chain.anvil import Anvil
from chain.client import Chain
from chain.clients import InvoiceTerms, ReceiptTerms
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.vocabulary import ContractKind

DAY = 86_400


def measure() -> tuple[list[tuple[str, int]], int]:
    rows: list[tuple[str, int]] = []
    with Anvil() as node:
        chain = Chain.connect(node.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, "bench")
        a = lambda k: keys[k].address  # noqa: E731
        d = bootstrap(chain, "bench", keys)
        gas_limit = chain.w3.eth.get_block("latest")["gasLimit"]

        def g(label: str, receipt: dict) -> None:
            rows.append((label, receipt["gasUsed"]))

        deployer = keys["admin_a"]
        founders = [(keys[k].address, 1, f"529900BENCHFOUNDER0{i}".encode(), b"GB", 2**40) for i, k in
                    enumerate(("admin_a", "admin_b"))]
        for name, args in (("ParticipantRegistry", (founders, 2)), ("InvoiceToken", (d.registry,)),
                           ("WarehouseReceipt", (d.registry,)),
                           ("SettlementToken", (d.registry, "bench USD", b"USD", 2))):
            addr, receipt = chain.deploy(name, deployer, *args)
            g(f"deploy {name} (runtime {len(chain.w3.eth.get_code(addr)):,} bytes)", receipt)

        reg = d.clients(chain).registry
        admins = [keys["admin_a"], keys["admin_b"], keys["admin_c"]]
        newbie = chain.w3.eth.account.create()
        exp = chain.w3.eth.get_block("latest")["timestamp"] + 365 * DAY
        ra = reg.using(admins[0])
        pid = ra.propose([reg.call_add_member(newbie.address, 2, "529900NEWMEMBER00001", "FR", exp)], "admit")
        g("governance: propose (1 call, proposer approves)", ra.last_receipt)
        rb = reg.using(admins[1])
        g("governance: approve", rb.approve(pid))
        g("governance: execute addMember", rb.execute(pid))
        pid = ra.propose([reg.call_suspend(newbie.address, "KYC review")], "suspend")
        rb.approve(pid)
        g("governance: execute suspend", rb.execute(pid))

        usd = d.clients(chain, keys["treasury"]).token("USD")
        g("SettlementToken.mint", usd.mint(a("buyer"), 1_000_000_00, b"\1" * 32))
        g("SettlementToken.transfer (member to member)", d.clients(chain, keys["buyer"]).token("USD").transfer(a("seller"), 100))
        g("SettlementToken.approve", d.clients(chain, keys["buyer"]).token("USD").approve(a("lender"), 100))
        d.clients(chain, keys["buyer"]).token("USD").transfer(a("treasury"), 5)  # fiat redemption: holder pays in
        g("SettlementToken.burn", usd.burn(5, b"\2" * 32))

        now = chain.w3.eth.get_block("latest")["timestamp"]
        inv = d.clients(chain, keys["seller"]).invoices
        t = InvoiceTerms(a("buyer"), "INV-BENCH-0001", 500_000_00, "USD", now, now + 60 * DAY, b"\3" * 32,
                         "bafkreibenchinvoice0001")
        iid = inv.mint(t)
        g("InvoiceToken.mint", inv.last_receipt)
        g("InvoiceToken.confirm", d.clients(chain, keys["buyer"]).invoices.confirm(iid))
        # financing-state changes come from an ESCROW contract; a registered EOA stands in here
        escrow = keys["lender_b"]
        reg.govern(admins, [reg.call_set_network_contract(escrow.address, ContractKind.ESCROW)], "bench escrow")
        g("InvoiceToken.transfer (to escrow)", inv.transfer(escrow.address, iid))
        ie = d.clients(chain, escrow).invoices
        g("InvoiceToken.markFinanced", ie.mark_financed(iid))
        ie.split(iid, [200_000_00, 300_000_00])
        g("InvoiceToken.split (2 parts)", ie.last_receipt)
        iid2 = inv.mint(InvoiceTerms(a("buyer"), "INV-BENCH-0002", 10_000_00, "USD", now, now + 60 * DAY,
                                     b"\4" * 32, "bafkreibenchinvoice0002"))
        d.clients(chain, keys["buyer"]).invoices.confirm(iid2)
        g("InvoiceToken.cancel", inv.cancel(iid2, "withdrawn"))

        wh = d.clients(chain, keys["warehouse"]).receipts
        rt = ReceiptTerms(a("seller"), "Copper cathodes", 25_000, "kg", "LME Grade A", "NLRTM", 225_000_00, "USD",
                          now + 90 * DAY, b"\5" * 32, "bafkreibenchreceipt0001")
        rid = wh.issue(rt)
        g("WarehouseReceipt.issue", wh.last_receipt)
        rs = d.clients(chain, keys["seller"]).receipts
        g("WarehouseReceipt.pledge", rs.pledge(rid, a("lender")))
        rl = d.clients(chain, keys["lender"]).receipts
        g("WarehouseReceipt.releasePledge", rl.release_pledge(rid))
        rs.pledge(rid, a("lender"))
        g("WarehouseReceipt.enforcePledge", rl.enforce_pledge(rid))
        g("WarehouseReceipt.transfer", rl.transfer(a("seller"), rid))
        g("WarehouseReceipt.requestRedemption", rs.request_redemption(rid))
        g("WarehouseReceipt.redeem", wh.redeem(rid))
        rows.append(("view: transactionAllowed (eth_estimateGas)",
                     chain.w3.eth.estimate_gas({"to": d.registry, "data": reg.encode(
                         "transactionAllowed", a("seller"), d.invoice_token, 0, 0, 0, b"")})))
    return rows, gas_limit


def main() -> None:
    from gas_table import print_gas_table  # bench/ is on sys.path when a bench script runs

    print_gas_table(*measure())


if __name__ == "__main__":
    main()
