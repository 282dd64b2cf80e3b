"""Authorization matrix: every endpoint x every role: allowed, 403 (role) or 404 (not your object)."""

import pytest

from chain.clients import InvoiceTerms, OrderTerms, ReceiptTerms
from tests.support.api import make_api

ROLES = ["admin_a", "treasury", "seller", "buyer", "lender", "lender_b", "warehouse", "carrier", "oracle_1",
         "investor", "auditor"]
OK = "ok"  # 2xx, or 409 when the contract refuses the business step (the caller was let through)


def expect(allowed=(), forbidden=(), not_found=(), default=OK):
    def f(role):
        if role in allowed:
            return OK
        if role in forbidden:
            return 403
        if role in not_found:
            return 404
        return default(role) if callable(default) else default
    return f


def only(*roles, else_=403):
    return expect(allowed=roles, default=else_)


def parties(*roles):
    """Visible to `roles` (and auditors for reads); 404 for everyone else."""
    return expect(allowed=roles, default=404)


@pytest.fixture
def world(net, tmp_path):
    from tests.support.api import deal_through_api, terms_body
    from tests.support.deals import confirm, confirmed_invoice, ensure_money, event

    api = make_api(net, tmp_path)
    now = net.now()
    ensure_money(net)
    invoice_id = net.invoices("seller").mint(InvoiceTerms(net.addr("buyer"), "AUTHZ-1", 10_000_00, "USD", now,
                                                          now + 30 * 86_400, b"\1" * 32, "bafkreiauthz"))
    receipt_id = net.receipts("warehouse").issue(ReceiptTerms(net.addr("seller"), "Coffee", 1000, "kg", "A", "NLRTM",
                                                              5_000_00, "USD", now + 90 * 86_400, b"\2" * 32, "cid2"))
    net.receipts("seller").pledge(receipt_id, net.addr("lender"), now + 30 * 86_400, 86_400)
    order_id = net.clients("buyer").orders.issue(OrderTerms(net.addr("seller"), "PO-AUTHZ", "Tea", 10, "kg", 1_000_00,
                                                            "USD", now + 20 * 86_400, b"\3" * 32, "cid3"))
    financed = confirmed_invoice(net, 10_000_000)
    terms = terms_body(net, financed, reference="OOLU-BL-AUTHZ")
    deal = deal_through_api(api, terms)
    confirm(net, event(net, "OOLU-BL-AUTHZ", "DEPA"))
    offered = confirmed_invoice(net, 5_000_000)
    heads = {k: api.login(k) for k in ROLES}
    offer = api.client.post("/offers", json={"terms": terms_body(net, offered, 3_000_000, 50_000, lender="lender_b",
                                                                 reference=None)}, headers=heads["lender_b"])
    assert offer.status_code == 201, offer.text
    pool = api.client.post("/pools", json={"name": "Authz pool", "currency": "USD", "max_tenor_days": 200,
                                           "obligor_cap_bps": 10_000, "senior_coupon_bps": 300,
                                           "senior_size": 7_000_000, "junior_size": 3_000_000},
                           headers=heads["lender"])
    assert pool.status_code == 201, pool.text
    pid = net.registry("admin_a").propose([net.registry().call_renew_kyc(net.addr("carrier"), now + 400 * 86_400)],
                                          "renew")
    doc = api.client.post(f"/documents?readers={net.addr('buyer')}", content=b"invoice pdf",
                          headers=heads["seller"]).json()
    api.sync()
    agreement = api.client.get(f"/deals/{deal}", headers=heads["seller"]).json()["agreement_hash"]
    preview_terms = terms_body(net, confirmed_invoice(net, 4_000_000), 1_000_000, 0, reference=None)
    operation = api.client.post("/invoices", headers={**heads["seller"], "Prefer": "respond-async"}, json={
        "buyer": net.addr("buyer"), "invoice_number": "AUTHZ-ASYNC", "face_value": {"currency": "USD", "minor": 7},
        "issue_date": now, "due_date": now + 86_400 * 10, "document_hash": "0x" + "a5" * 32,
        "document_cid": "bafkreiasync"})
    assert operation.status_code == 202, operation.text
    api.sync()
    return api, heads, {"invoice": invoice_id, "receipt": receipt_id, "order": order_id, "proposal": pid,
                        "cid": doc["cid"], "doc_hash": doc["sha256"], "seller": net.addr("seller"), "deal": deal,
                        "terms": terms, "offer": offer.json()["id"], "pool": pool.json()["pool_id"],
                        "agreement": agreement, "preview_terms": preview_terms,
                        "operation": operation.json()["status_url"]}


def matrix(ids, net):
    inv, rec, pid, cid, seller = ids["invoice"], ids["receipt"], ids["proposal"], ids["cid"], ids["seller"]
    order, offer, pool, dl = ids["order"], ids["offer"], ids["pool"], ids["deal"]
    now = net.now()
    inv_body = {"buyer": net.addr("buyer"), "invoice_number": "AUTHZ-NEW", "face_value": {"currency": "USD", "minor": 5},
                "issue_date": now, "due_date": now + 86_400 * 10, "document_hash": "0x" + "cd" * 32,
                "document_cid": "bafkreinew"}
    rec_body = {"depositor": seller, "commodity": "Tea", "quantity": 5, "unit": "kg", "location": "NLRTM",
                "insured_value": {"currency": "USD", "minor": 100}, "expiry": now + 86_400 * 10,
                "document_hash": "0x" + "ef" * 32, "document_cid": "bafkreirec"}
    order_body = {"supplier": seller, "order_number": "PO-NEW", "goods": "Rice", "quantity": 3, "unit": "t",
                  "amount": {"currency": "USD", "minor": 900}, "delivery_date": now + 86_400 * 5,
                  "document_hash": "0x" + "ab" * 32, "document_cid": "bafkreiorder"}
    prop_body = {"actions": [{"action": "suspend", "account": net.addr("investor"), "reason": "review"}],
                 "description": "suspend investor"}
    terms = ids["preview_terms"]
    offer_terms = {**terms, "lender": net.addr("lender_b"), "principal": 900_000}
    sig = "0x" + "11" * 65
    pay = {"amount": 100, "payment_reference": "TT-AUTHZ"}
    deal_parties = ("seller", "lender", "buyer")
    everyone = expect()
    readers_inv = parties("seller", "buyer", "auditor")
    readers_rec = parties("warehouse", "seller", "lender", "auditor")
    readers_order = parties("buyer", "seller", "auditor")
    own_account = parties("seller", "auditor")
    deal_write = expect(allowed=deal_parties, forbidden=("auditor",), default=404)
    lender_of_deal = expect(allowed=("lender",), not_found=("lender_b",), default=403)
    lenders = only("lender", "lender_b")
    terms_parties = expect(allowed=("seller", "lender"), default=403)
    manager = expect(allowed=("lender",), not_found=("lender_b",), default=403)
    pool_actors = only("lender", "lender_b", "investor")
    treasury_only = only("treasury")
    return {
        ("GET", "/auth/me"): (None, everyone),
        ("GET", "/participants"): (None, everyone),
        ("GET", "/participants/{address}"): (f"/participants/{seller}", everyone),
        ("GET", "/participants/{address}/credit-profile"): (f"/participants/{seller}/credit-profile",
                                                            parties("seller", "lender", "lender_b", "admin_a",
                                                                    "auditor")),
        ("GET", "/governance/proposals"): (None, only("admin_a", "auditor")),
        ("POST", "/governance/proposals"): (prop_body, only("admin_a")),
        ("POST", "/governance/proposals/{proposal_id}/approve"): (f"/governance/proposals/{pid}/approve", only("admin_a")),
        ("POST", "/governance/proposals/{proposal_id}/revoke-approval"): (
            f"/governance/proposals/{pid}/revoke-approval", only("admin_a")),
        ("POST", "/governance/proposals/{proposal_id}/execute"): (f"/governance/proposals/{pid}/execute", only("admin_a")),
        ("POST", "/governance/proposals/{proposal_id}/cancel"): (f"/governance/proposals/{pid}/cancel", only("admin_a")),
        ("GET", "/invoices"): (None, everyone),
        ("GET", "/invoices/{invoice_id}"): (f"/invoices/{inv}", readers_inv),
        ("GET", "/invoices/{invoice_id}/payments"): (f"/invoices/{inv}/payments", readers_inv),
        ("GET", "/invoices/{invoice_id}/parts"): (f"/invoices/{inv}/parts", readers_inv),
        ("POST", "/invoices"): (inv_body, only("seller")),
        ("POST", "/invoices/{invoice_id}/payments"): ((f"/invoices/{inv}/payments", pay), only("buyer")),
        ("POST", "/invoices/{invoice_id}/parts/payments"): ((f"/invoices/{inv}/parts/payments", pay), only("buyer")),
        ("POST", "/invoices/{invoice_id}/confirm"): (f"/invoices/{inv}/confirm", only("buyer")),
        ("POST", "/invoices/{invoice_id}/dispute"): ((f"/invoices/{inv}/dispute", {"reason": "x"}), only("buyer")),
        ("POST", "/invoices/{invoice_id}/cancel"): ((f"/invoices/{inv}/cancel", {"reason": "x"}), only("seller")),
        # rows run in order: the invoice is cancelled now (a split would burn it: no holder left)
        ("POST", "/invoices/{invoice_id}/split"): ((f"/invoices/{inv}/split", {"face_values": [4_000_00, 6_000_00]}),
                                                   expect(allowed=("seller",), forbidden=("auditor",), default=404)),
        ("POST", "/invoices/{invoice_id}/transfer"): ((f"/invoices/{inv}/transfer", {"to": net.addr("lender")}),
                                                      expect(allowed=("seller",), forbidden=("auditor",),
                                                             default=404)),
        ("GET", "/orders"): (None, everyone),
        ("GET", "/orders/{order_id}"): (f"/orders/{order}", readers_order),
        ("POST", "/orders"): (order_body, only("buyer")),
        ("POST", "/orders/{order_id}/cancel"): ((f"/orders/{order}/cancel", {"reason": "x"}), only("buyer")),
        ("GET", "/receipts"): (None, everyone),
        ("GET", "/receipts/{receipt_id}"): (f"/receipts/{rec}", readers_rec),
        ("GET", "/receipts/{receipt_id}/pledges"): (f"/receipts/{rec}/pledges", readers_rec),
        ("POST", "/receipts"): (rec_body, only("warehouse")),
        ("POST", "/receipts/{receipt_id}/pledge"): ((f"/receipts/{rec}/pledge", {"lender": net.addr("lender_b"),
                                                                                 "maturity": now + 86_400}),
                                                    expect(allowed=("warehouse", "seller", "lender"),
                                                           forbidden=("auditor",), default=404)),
        ("POST", "/receipts/{receipt_id}/enforce"): ((f"/receipts/{rec}/enforce", {}), lender_of_deal),
        ("POST", "/receipts/{receipt_id}/release"): (f"/receipts/{rec}/release", lender_of_deal),
        # rows run in order: the lender released its pledge above, so it is no party any more
        ("POST", "/receipts/{receipt_id}/redemption-request"): (f"/receipts/{rec}/redemption-request",
                                                                expect(allowed=("warehouse", "seller"),
                                                                       forbidden=("auditor",), default=404)),
        ("POST", "/receipts/{receipt_id}/redeem"): (f"/receipts/{rec}/redeem", only("warehouse")),
        ("GET", "/deals"): (None, everyone),
        ("GET", "/deals/{deal_id}"): (f"/deals/{dl}", parties("seller", "lender", "buyer", "auditor")),
        ("GET", "/deals/{deal_id}/agreement"): (f"/deals/{dl}/agreement", parties(*deal_parties)),
        ("GET", "/deals/{deal_id}/agreement.pdf"): (f"/deals/{dl}/agreement.pdf", parties(*deal_parties)),
        ("POST", "/deals/terms/preview"): (terms, terms_parties),
        ("POST", "/deals/terms/signature"): (terms, terms_parties),
        ("POST", "/deals"): ({"terms": terms, "borrower_signature": sig, "lender_signature": sig}, terms_parties),
        ("POST", "/deals/terms/revoke"): (terms, terms_parties),
        ("POST", "/deals/{deal_id}/fund"): (f"/deals/{dl}/fund", lender_of_deal),
        ("POST", "/deals/{deal_id}/funding-approval"): (f"/deals/{dl}/funding-approval",
                                                        expect(not_found=("lender", "lender_b"), default=403)),
        ("POST", "/deals/{deal_id}/poke"): (f"/deals/{dl}/poke", deal_write),
        ("POST", "/deals/{deal_id}/flag-overdue"): (f"/deals/{dl}/flag-overdue", deal_write),
        ("POST", "/deals/{deal_id}/documents"): ((f"/deals/{dl}/documents", {"doc_type": "BLAD",
                                                                            "document_hash": "0x" + "12" * 32,
                                                                            "document_date": now}), deal_write),
        ("POST", "/deals/{deal_id}/waive"): (f"/deals/{dl}/waive", only("buyer")),
        ("POST", "/deals/{deal_id}/rollover"): ((f"/deals/{dl}/rollover", {"invoice_id": str(inv)}), deal_write),
        ("POST", "/deals/{deal_id}/settle"): (f"/deals/{dl}/settle", deal_write),
        ("POST", "/deals/{deal_id}/withdraw"): (f"/deals/{dl}/withdraw", deal_write),
        ("POST", "/deals/{deal_id}/default"): (f"/deals/{dl}/default", lender_of_deal),
        ("POST", "/deals/{deal_id}/repay"): (f"/deals/{dl}/repay", deal_write),
        ("POST", "/deals/{deal_id}/cancel"): (f"/deals/{dl}/cancel", deal_write),
        ("POST", "/offers"): ({"terms": offer_terms}, only("lender_b")),
        ("GET", "/offers"): (None, everyone),
        ("GET", "/offers/{offer_id}"): (f"/offers/{offer}", parties("seller", "lender_b")),
        ("POST", "/offers/{offer_id}/accept"): (f"/offers/{offer}/accept",
                                                expect(allowed=("seller",), forbidden=("lender_b", "auditor"),
                                                       default=404)),
        ("POST", "/offers/{offer_id}/revoke"): (f"/offers/{offer}/revoke",
                                                expect(allowed=("lender_b",), forbidden=("seller", "auditor"),
                                                       default=404)),
        ("POST", "/agreements/preview"): (terms, terms_parties),
        ("GET", "/agreements/{agreement_hash}"): (f"/agreements/{ids['agreement']}", parties(*deal_parties)),
        ("GET", "/risk/policy"): (None, lenders),
        ("PUT", "/risk/policy"): ({"currency": "USD", "cap_bps": 10_000}, lenders),
        ("PUT", "/risk/capital-base"): ({"capital_base": 10**12}, lenders),
        ("PUT", "/risk/limits/{obligor}"): ((f"/risk/limits/{net.addr('buyer')}", {"limit": 10**12}), lenders),
        ("GET", "/portfolio"): (None, lenders),
        ("GET", "/risk/warnings"): (None, only("admin_a", "auditor", "lender", "lender_b")),
        ("GET", "/risk/heatmap"): (None, only("admin_a", "auditor")),
        ("GET", "/currencies"): (None, everyone),
        ("POST", "/treasury/{currency}/deposits"): (("/treasury/USD/deposits", {"to": seller, "amount": 100,
                                                                                "deposit_reference": "DEP-AUTHZ"}),
                                                    treasury_only),
        ("POST", "/currencies/{currency}/redemptions"): (("/currencies/USD/redemptions",
                                                          {"amount": 1, "payout_reference": "PAYOUT-AUTHZ"}),
                                                         expect(forbidden=("auditor",))),
        ("POST", "/treasury/{currency}/redemptions/{redemption_id}/complete"): (
            ("/treasury/USD/redemptions/1/complete", {"bank_reference": "MT103-1"}), treasury_only),
        ("POST", "/treasury/{currency}/redemptions/{redemption_id}/reject"): (
            ("/treasury/USD/redemptions/1/reject", {"reason": "x"}), treasury_only),
        ("GET", "/treasury/redemptions"): (None, everyone),
        ("GET", "/treasury/movements"): (None, only("treasury", "auditor")),
        ("GET", "/pools"): (None, everyone),
        ("GET", "/pools/{pool_id}"): (f"/pools/{pool}", everyone),
        ("GET", "/pools/{pool_id}/assets"): (f"/pools/{pool}/assets", everyone),
        ("GET", "/pools/{pool_id}/report"): (f"/pools/{pool}/report", everyone),
        ("GET", "/pools/{pool_id}/verification"): (f"/pools/{pool}/verification",
                                                   only("investor", "auditor", "lender", "lender_b")),
        ("POST", "/pools"): ({"name": "Matrix pool", "currency": "USD", "max_tenor_days": 100, "obligor_cap_bps": 5000,
                              "senior_coupon_bps": 100, "senior_size": 100, "junior_size": 100}, lenders),
        ("POST", "/pools/{pool_id}/bids"): ((f"/pools/{pool}/bids", {"deal_id": dl, "price": 1}), manager),
        ("POST", "/pools/{pool_id}/sales"): ((f"/pools/{pool}/sales", {"deal_id": dl}), lenders),
        ("POST", "/pools/{pool_id}/issue"): (f"/pools/{pool}/issue",  # no asset yet: 422 for its manager
                                             expect(not_found=("lender_b",), default=lambda r: 422 if r == "lender"
                                                    else 403)),
        ("POST", "/pools/{pool_id}/notes"): ((f"/pools/{pool}/notes", {"tranche": "senior", "amount": 1}),
                                             only("investor")),
        ("POST", "/pools/{pool_id}/amortisation"): (f"/pools/{pool}/amortisation", manager),
        ("POST", "/pools/{pool_id}/collections"): ((f"/pools/{pool}/collections", {"deal_ids": [dl]}), pool_actors),
        ("POST", "/pools/{pool_id}/distributions"): (f"/pools/{pool}/distributions", pool_actors),
        ("POST", "/pools/{pool_id}/claims"): ((f"/pools/{pool}/claims", {"tranche": "junior"}), only("investor")),
        ("GET", "/oracle/events"): (None, only("oracle_1", "carrier", "auditor")),
        ("GET", "/shipments/{transport_document}"): ("/shipments/OOLU-BL-AUTHZ",
                                                     parties("seller", "lender", "buyer", "oracle_1", "carrier",
                                                             "auditor")),
        ("GET", "/fx-rates"): (None, everyone),
        ("GET", "/accounts/{address}/balances"): (f"/accounts/{seller}/balances", own_account),
        ("GET", "/accounts/{address}/transfers"): (f"/accounts/{seller}/transfers", own_account),
        ("GET", "/reports/exposure"): (None, only("auditor", "lender", "lender_b", "buyer")),
        ("GET", "/reports/overdue"): (None, only("auditor", "lender", "lender_b")),
        ("GET", "/reports/reconciliation"): ("/reports/reconciliation?day=2026-01-01", only("auditor", "treasury")),
        ("GET", "/events"): (None, everyone),
        ("GET", "/events/stream"): ("/events/stream?max_events=1", everyone),
        ("POST", "/documents"): ((None, b"some bytes"), expect(forbidden=("auditor",))),
        ("GET", "/documents/{cid}"): (f"/documents/{cid}?expected_hash={ids['doc_hash']}", parties("seller", "buyer")),
        ("GET", "/documents/{cid}/key"): (f"/documents/{cid}/key", parties("seller", "buyer")),
        ("POST", "/tx/relay"): ({"raw_transaction": "0x00"}, expect(forbidden=("auditor",), default=422)),
        ("GET", "/tx/{tx_hash}"): ("/tx/0x" + "00" * 32, expect(default=404)),
        ("GET", "/operations/{operation_id}"): (ids["operation"], parties("seller")),  # its sender only
    }


UNAUTHENTICATED = {("GET", "/health"), ("POST", "/auth/nonce"), ("POST", "/auth/login"), ("POST", "/auth/logout")}


def test_authorization_matrix(world, net):
    api, heads, ids = world
    table = matrix(ids, net)
    paths = api.client.app.openapi()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert routes - UNAUTHENTICATED == set(table), "every endpoint must be in the authorization matrix"
    failures = []
    for (method, template), (spec, rule) in table.items():
        path, body, raw = template, None, None
        if isinstance(spec, str):
            path = spec
        elif isinstance(spec, tuple):
            path = spec[0] or template
            body = spec[1] if isinstance(spec[1], dict) else None
            raw = spec[1] if isinstance(spec[1], bytes) else None
        elif isinstance(spec, dict):
            body = spec
        # unauthenticated: always 401
        r = api.client.request(method, path, json=body, content=raw)
        if str(r.status_code) not in paths[template][method.lower()]["responses"]:
            failures.append(f"{method} {path} without session: {r.status_code} is not declared")
        if r.status_code != 401:
            failures.append(f"{method} {path} without session -> {r.status_code}")
        for role in ROLES:
            want = rule(role)
            if path.startswith("/events/stream"):
                with api.client.stream(method, path, headers=heads[role]) as resp:
                    got = resp.status_code
            else:
                got = api.client.request(method, path, json=body, content=raw, headers=heads[role]).status_code
            ok = (200 <= got < 300 or got == 409) if want == OK else got == want
            if not ok or got >= 500:
                failures.append(f"{method} {path} as {role}: got {got}, want {want}")
            if str(got) not in paths[template][method.lower()]["responses"]:  # the OpenAPI document says it all
                failures.append(f"{method} {path} as {role}: {got} is not in the operation's declared responses")
    assert not failures, "\n".join(failures)
