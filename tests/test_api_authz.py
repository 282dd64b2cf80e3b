"""Authorization matrix: every endpoint x every role: allowed, 403 (role) or 404 (not your object)."""

import pytest

from chain.contracts import InvoiceTerms, ReceiptTerms
from tests.api_support import make_api

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
    api = make_api(net, tmp_path)
    now = net.now()
    invoice_id = net.invoices("seller").mint(InvoiceTerms(net.addr("buyer"), "AUTHZ-1", 10_000_00, "USD", now,
                                                          now + 30 * 86_400, b"\1" * 32, "bafkreiauthz"))
    receipt_id = net.receipts("warehouse").issue(ReceiptTerms(net.addr("seller"), "Coffee", 1000, "kg", "A", "NLRTM",
                                                              5_000_00, "USD", now + 90 * 86_400, b"\2" * 32, "cid2"))
    net.receipts("seller").pledge(receipt_id, net.addr("lender"))
    from tests.deal_support import confirm, ensure_money, event, open_deal

    ensure_money(net)
    deal = open_deal(net, reference="OOLU-BL-AUTHZ")
    confirm(net, event(net, "OOLU-BL-AUTHZ", "DEPA"))
    heads = {k: api.login(k) for k in ROLES}
    pid = net.registry("admin_a").propose([net.registry().call_renew_kyc(net.addr("carrier"), now + 400 * 86_400)],
                                          "renew")
    doc = api.client.post(f"/documents?readers={net.addr('buyer')}", content=b"invoice pdf",
                          headers=heads["seller"]).json()
    api.sync()
    return api, heads, {"invoice": invoice_id, "receipt": receipt_id, "proposal": pid, "cid": doc["cid"],
                        "doc_hash": doc["sha256"], "seller": net.addr("seller"),
                        "deal": deal.deal_id, "deal_terms": deal.terms}


def matrix(ids, net):
    inv, rec, pid, cid, seller = ids["invoice"], ids["receipt"], ids["proposal"], ids["cid"], ids["seller"]
    now = net.now()
    inv_body = {"buyer": net.addr("buyer"), "invoice_number": "AUTHZ-NEW", "face_value": {"currency": "USD", "minor": 5},
                "issue_date": now, "due_date": now + 86_400 * 10, "document_hash": "0x" + "cd" * 32,
                "document_cid": "bafkreinew"}
    rec_body = {"depositor": seller, "commodity": "Tea", "quantity": 5, "unit": "kg", "location": "NLRTM",
                "insured_value": {"currency": "USD", "minor": 100}, "expiry": now + 86_400 * 10,
                "document_hash": "0x" + "ef" * 32, "document_cid": "bafkreirec"}
    prop_body = {"actions": [{"action": "suspend", "account": net.addr("investor"), "reason": "review"}],
                 "description": "suspend investor"}
    dl = ids["deal"]
    t = ids["deal_terms"]
    terms = {"deal_id": 77, "invoice_id": t.invoice_id, "borrower": net.addr("seller"), "lender": net.addr("lender"),
             "currency": "USD", "principal": 100, "fee": 0, "maturity": now + 86_400 * 30, "grace_period": 0,
             "accept_by": now + 86_400,
             "milestones": [{"transport_document": "X-1", "event_code": "DEPA", "share_bps": 10_000}]}
    sig = "0x" + "11" * 65
    deal_parties = ("seller", "lender", "buyer")
    everyone = expect()
    readers_inv = parties("seller", "buyer", "auditor")
    readers_rec = parties("warehouse", "seller", "lender", "auditor")
    own_account = parties("seller", "auditor")
    return {
        ("GET", "/auth/me"): (None, everyone),
        ("GET", "/participants"): (None, everyone),
        ("GET", "/participants/{address}"): (f"/participants/{seller}", everyone),
        ("GET", "/governance/proposals"): (None, only("admin_a", "auditor")),
        ("POST", "/governance/proposals"): (prop_body, only("admin_a")),
        ("POST", "/governance/proposals/{proposal_id}/approve"): (f"/governance/proposals/{pid}/approve", only("admin_a")),
        ("POST", "/governance/proposals/{proposal_id}/execute"): (f"/governance/proposals/{pid}/execute", only("admin_a")),
        ("GET", "/invoices"): (None, everyone),
        ("GET", "/invoices/{invoice_id}"): (f"/invoices/{inv}", readers_inv),
        ("POST", "/invoices"): (inv_body, only("seller")),
        ("POST", "/invoices/{invoice_id}/confirm"): (f"/invoices/{inv}/confirm", only("buyer")),
        ("POST", "/invoices/{invoice_id}/dispute"): ((f"/invoices/{inv}/dispute", {"reason": "x"}), only("buyer")),
        ("POST", "/invoices/{invoice_id}/cancel"): ((f"/invoices/{inv}/cancel", {"reason": "x"}), only("seller")),
        ("GET", "/receipts"): (None, everyone),
        ("GET", "/receipts/{receipt_id}"): (f"/receipts/{rec}", readers_rec),
        ("POST", "/receipts"): (rec_body, only("warehouse")),
        ("POST", "/receipts/{receipt_id}/pledge"): ((f"/receipts/{rec}/pledge", {"lender": net.addr("lender_b")}),
                                                    expect(allowed=("warehouse", "seller", "lender"),
                                                           forbidden=("auditor",), default=404)),
        ("POST", "/receipts/{receipt_id}/enforce"): (f"/receipts/{rec}/enforce",
                                                     expect(allowed=("lender",), not_found=("lender_b",), default=403)),
        ("POST", "/receipts/{receipt_id}/release"): (f"/receipts/{rec}/release",
                                                     expect(allowed=("lender",), not_found=("lender_b",), default=403)),
        # rows run in order: after the lender enforced its pledge, the seller no longer holds the receipt
        ("POST", "/receipts/{receipt_id}/redemption-request"): (f"/receipts/{rec}/redemption-request",
                                                                expect(allowed=("warehouse", "lender"),
                                                                       forbidden=("auditor",), default=404)),
        ("POST", "/receipts/{receipt_id}/redeem"): (f"/receipts/{rec}/redeem", only("warehouse")),
        ("GET", "/deals"): (None, everyone),
        ("GET", "/deals/{deal_id}"): (f"/deals/{dl}", parties("seller", "lender", "buyer", "auditor")),
        ("POST", "/deals/terms/signature"): (terms, expect(allowed=("seller", "lender"), default=403)),
        ("POST", "/deals"): ({"terms": terms, "borrower_signature": sig, "lender_signature": sig},
                             expect(allowed=("seller", "lender"), default=403)),
        ("POST", "/deals/{deal_id}/fund"): (f"/deals/{dl}/fund", expect(allowed=("lender",), not_found=("lender_b",),
                                                                     default=403)),
        ("POST", "/deals/{deal_id}/withdraw"): (f"/deals/{dl}/withdraw",
                                                expect(allowed=deal_parties, forbidden=("auditor",), default=404)),
        ("POST", "/deals/{deal_id}/default"): (f"/deals/{dl}/default", expect(allowed=("lender",),
                                                                           not_found=("lender_b",), default=403)),
        ("POST", "/deals/{deal_id}/cancel"): (f"/deals/{dl}/cancel",
                                              expect(allowed=deal_parties, forbidden=("auditor",), default=404)),
        ("POST", "/deals/{deal_id}/repay"): (f"/deals/{dl}/repay", only("buyer")),
        ("GET", "/portfolio"): (None, only("lender", "lender_b")),
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
    assert not failures, "\n".join(failures)
