"""Regression tests of the outside security review's node-API findings (issue 7), one or more per
finding, each named after it. Real anvil and contracts; the API in-process (TestClient). The
findings that need a real server process (15, 16, slow clients) are in test_node_process.py."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from eth_account import Account

from chain.clients import InvoiceTerms
from node_api.auth import (DomainMismatchError, NonceUnknownError, SchemeMismatchError, SiweMessage,
                           build_login_message, parse_message, sign_login_message, verify_login)
from node_api.auth.nonces import InMemoryNonceStore
from node_api.auth.rfc3339 import parse_rfc3339
from tests.support.api import make_api
from tests.support.deals import confirmed_invoice, ensure_money, open_deal

VECTORS = Path(__file__).parent / "support" / "siwe_vectors"
PROBLEM = {"$ref": "#/components/schemas/Problem"}
DAY = 86_400


@pytest.fixture
def api(net, tmp_path):
    return make_api(net, tmp_path)


def _invoice_body(net, number="HARD-1", face=1_000_00, currency="USD", **over):
    now = net.now()
    body = {"buyer": net.addr("buyer"), "invoice_number": number, "face_value": {"currency": currency, "minor": face},
            "issue_date": now, "due_date": now + 60 * DAY, "document_hash": "0x" + "ab" * 32,
            "document_cid": "bafkreihardening"}
    body.update(over)
    return body


def _problem(r, status, field=None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    if field is not None:
        assert r.json()["field"] == field, r.json()
    return r.json()


# --------------------------------------------------------------------------- finding 13


def _login_with(api, key, *, text_edit=None, **fields):
    acct = api.net.keys[key]
    n = api.client.post("/auth/nonce").json()
    args = dict(address=acct.address, domain=n["domain"], uri=n["uri"], scheme=n["scheme"], chain_id=n["chain_id"],
                nonce=n["nonce"])
    args.update(fields)
    text = build_login_message(**args).to_text()
    if text_edit:
        text = text_edit(text)
    return api.client.post("/auth/login", json={"message": text, "signature": sign_login_message(text, acct)})


def test_finding13_siwe_uri_and_scheme_must_match_the_node(api):
    """The review's three messages logged in (200); each now names the field it got wrong."""
    _problem(_login_with(api, "seller", uri="https://evil.example.com/login"), 401, "uri")
    _problem(_login_with(api, "seller", uri="ftp://attacker/"), 401, "uri")
    _problem(_login_with(api, "seller", scheme="ftp"), 401, "scheme")
    # an http:// message to an https node, and a URI on the node's host but another port
    _problem(_login_with(api, "seller", scheme="http"), 401, "scheme")
    _problem(_login_with(api, "seller", uri="https://node.tradenet.test:8443/login"), 401, "uri")
    # the node's own origin, any path, with the scheme explicit or implicit (https): accepted
    assert _login_with(api, "seller", uri="https://node.tradenet.test/auth/login").status_code == 200
    assert _login_with(api, "seller", scheme=None).status_code == 200


_DUMMY_SIGNATURE = "0x" + "00" * 31 + "01" + "00" * 31 + "01" + "1b"  # well formed; never reached


def _origin_verdict(text, *, domain, uri):
    """What verify_login says of a message's origin (checked before the nonce): ``"origin ok"``
    when it gets to the (unknown) nonce, else the origin error."""
    from node_api.auth import UriMismatchError

    try:
        verify_login(text, _DUMMY_SIGNATURE, expected_domain=domain, expected_uri=uri, expected_chain_id=1,
                     nonce_store=InMemoryNonceStore())
    except NonceUnknownError:
        return "origin ok"
    except (DomainMismatchError, SchemeMismatchError, UriMismatchError) as exc:
        return exc.field
    raise AssertionError("unreachable: the nonce is never known")


def test_finding13_published_vectors_are_checked_against_the_origin():
    """EIP-4361's examples and spruceid's vectors (tests/support/siwe_vectors, verbatim)."""
    eip = json.loads((VECTORS / "eip4361_examples.json").read_text())
    origin = dict(domain="example.com", uri="https://example.com")
    assert _origin_verdict(eip["implicit scheme"], **origin) == "origin ok"
    assert _origin_verdict(eip["explicit scheme"], **origin) == "origin ok"
    assert _origin_verdict(eip["implicit scheme and explicit port"], **origin) == "domain"
    assert _origin_verdict(eip["implicit scheme and explicit port"], domain="example.com:3388",
                           uri="https://example.com") == "origin ok"
    # the review's attacks, applied to the EIP's own example
    base = eip["explicit scheme"]
    assert _origin_verdict(base.replace("URI: https://example.com/login", "URI: https://evil.example.com/login"),
                           **origin) == "uri"
    assert _origin_verdict(base.replace("URI: https://example.com/login", "URI: ftp://attacker/"), **origin) == "uri"
    assert _origin_verdict(base.replace("https://example.com wants", "ftp://example.com wants"), **origin) == "scheme"
    assert _origin_verdict(eip["explicit scheme"], domain="example.com", uri="http://example.com") == "scheme"

    # spruceid's parsing vectors: all parse; the service.org ones pass service.org's checks
    for name, case in json.loads((VECTORS / "spruceid_parsing_positive.json").read_text()).items():
        msg = parse_message(case["message"])
        assert (msg.domain, msg.uri) == (case["fields"]["domain"], case["fields"]["uri"]), name
        verdict = _origin_verdict(case["message"], domain="service.org", uri="https://service.org")
        assert verdict == ("origin ok" if msg.domain == "service.org" else "domain"), name

    # spruceid's verification vector "domain binding": signed for login.xyz, checked by example.com
    case = json.loads((VECTORS / "spruceid_verification_negative.json").read_text())["domain binding"]
    text = SiweMessage(domain=case["domain"], address=case["address"], statement=case["statement"],
                       uri=case["uri"], version=case["version"], chain_id=case["chainId"], nonce=case["nonce"],
                       issued_at=parse_rfc3339(case["issuedAt"]),
                       expiration_time=parse_rfc3339(case["expirationTime"])).to_text()
    store = InMemoryNonceStore()
    with pytest.raises(DomainMismatchError):
        verify_login(text, case["signature"], expected_domain=case["domainBinding"],
                     expected_uri=f"https://{case['domainBinding']}", expected_chain_id=1, nonce_store=store)


# --------------------------------------------------------------------------- finding 17 (API)


def test_finding17_control_characters_are_refused_at_the_api(api, net):
    seller, buyer, warehouse, admin = (api.login(k) for k in ("seller", "buyer", "warehouse", "admin_a"))
    r = api.client.post("/invoices", json=_invoice_body(net, "INV\u0000-1"), headers=seller)
    _problem(r, 422, "invoice_number")  # minted (201) before the fix: the PostgreSQL indexer then stalled
    _problem(api.client.post("/invoices", json=_invoice_body(net, "INV-\u202e1"), headers=seller), 422,
             "invoice_number")
    lone_surrogate = json.dumps(_invoice_body(net, document_cid="bafy\ud800"))  # as the escape \ud800
    r = api.client.post("/invoices", content=lone_surrogate, headers={**seller, "content-type": "application/json"})
    _problem(r, 422, "document_cid")
    invoice_id = api.client.post("/invoices", json=_invoice_body(net), headers=seller).json()["invoice_id"]
    _problem(api.client.post(f"/invoices/{invoice_id}/dispute", json={"reason": "late\nfee"}, headers=buyer), 422,
             "reason")
    receipt = {"depositor": net.addr("seller"), "commodity": "Coffee\x07", "quantity": 5, "unit": "kg",
               "location": "NLRTM", "insured_value": {"currency": "USD", "minor": 100}, "expiry": net.now() + DAY,
               "document_hash": "0x" + "ef" * 32, "document_cid": "bafkreirec"}
    _problem(api.client.post("/receipts", json=receipt, headers=warehouse), 422, "commodity")
    prop = {"actions": [{"action": "suspend", "account": net.addr("investor"), "reason": "x\u0085y"}],
            "description": "suspend"}
    _problem(api.client.post("/governance/proposals", json=prop, headers=admin), 422, "actions.0.suspend.reason")
    _problem(api.client.get("/shipments/BL%00X", headers=buyer), 422, "transport_document")


# --------------------------------------------------------------------------- finding 18


def test_finding18_standing_decides_what_a_session_may_still_do(api, net):
    seller, buyer, lender = api.login("seller"), api.login("buyer"), api.login("lender")
    invoice_id = api.client.post("/invoices", json=_invoice_body(net), headers=seller).json()["invoice_id"]
    api.sync()
    reg = net.registry()
    reg.govern(net.admins, [reg.call_suspend(net.addr("seller"), "under review"),
                            reg.call_set_sanctioned(net.addr("lender"), True, "listed")], "standing")
    # suspended: nothing new any more: no directory, feed, uploads, mints (all answered 200/201 before) ...
    for method, path, kw in [("GET", "/participants", {}), ("GET", "/events", {}),
                             ("POST", "/documents", {"content": b"pdf"}),
                             ("POST", "/invoices", {"json": _invoice_body(net, "HARD-2")})]:
        body = _problem(api.client.request(method, path, headers=seller, **kw), 403)
        assert body["code"] == "standing" and body["standing"] == "suspended", (path, body)
    # ... but the old session still sees and closes its own obligations
    assert api.client.get("/invoices", headers=seller).json()["total"] == 1
    assert api.client.get(f"/invoices/{invoice_id}", headers=seller).status_code == 200
    assert api.client.get("/deals", headers=seller).status_code == 200
    me = api.client.get("/auth/me", headers=seller).json()
    assert me["standing"] == "suspended" and me["suspended"] is True
    # sanctioned: its own session only
    assert api.client.get("/auth/me", headers=lender).json()["standing"] == "sanctioned"
    for path in ("/invoices", "/deals", "/portfolio", "/participants"):
        assert _problem(api.client.get(path, headers=lender), 403)["standing"] == "sanctioned", path
    # a fresh login: suspended yes (to close obligations), sanctioned no, non-member no
    assert api.login("seller")
    r = _login_with(api, "lender")
    assert _problem(r, 403)["standing"] == "sanctioned"
    outsider = Account.create()
    api.net.keys["outsider"] = outsider
    try:
        assert _problem(_login_with(api, "outsider"), 403)["standing"] == "not_a_member"
    finally:
        del api.net.keys["outsider"]
    # an active member is untouched
    assert api.client.get("/participants", headers=buyer).status_code == 200


# --------------------------------------------------------------------------- finding 19


def test_finding19_foreign_anchor_does_not_poison_a_document(api, net):
    seller, buyer = api.login("seller"), api.login("buyer")
    api.login("seller_ops")
    pdf = b"%PDF-1.7 bill of lading"
    doc = api.client.post(f"/documents?readers={net.addr('buyer')}", content=pdf, headers=seller).json()
    now = net.now()
    # a second seller account anchors the first seller's CID with a bogus hash, on chain directly
    net.invoices("seller_ops").mint(InvoiceTerms(net.addr("buyer"), "POISON-1", 500, "USD", now, now + 30 * DAY,
                                                 b"\x66" * 32, doc["cid"]))
    api.sync()
    # not anchored by an entitled party yet: the stray anchor is ignored, the expected hash is used
    _problem(api.client.get(f"/documents/{doc['cid']}", headers=buyer), 422, "expected_hash")
    r = api.client.get(f"/documents/{doc['cid']}?expected_hash={doc['sha256']}", headers=buyer)
    assert r.status_code == 200 and r.content == pdf, r.text
    # the rightful anchor: downloads answer 200 (409 "Tampered document" for good before the fix)
    rightful = _invoice_body(net, "RIGHTFUL-1", document_hash=doc["sha256"], document_cid=doc["cid"])
    assert api.client.post("/invoices", json=rightful, headers=seller).status_code == 201
    api.sync()
    r = api.client.get(f"/documents/{doc['cid']}", headers=buyer)
    assert r.status_code == 200 and r.content == pdf, r.text
    # this node refuses to make such an anchor: the document was not uploaded by or for seller_ops
    bogus = _invoice_body(net, "POISON-2", document_hash="0x" + "66" * 32, document_cid=doc["cid"])
    _problem(api.client.post("/invoices", json=bogus, headers=api.login("seller_ops")), 422, "document_cid")
    # an entitled party's wrong hash is still caught as tampering
    net.invoices("seller").mint(InvoiceTerms(net.addr("buyer"), "RIGHTFUL-2", 500, "USD", now, now + 30 * DAY,
                                             b"\x77" * 32, doc["cid"]))
    blob = next((api.ctx.settings.document_dir / "blobs").rglob(doc["cid"]))
    blob.write_bytes(blob.read_bytes()[:-1] + bytes([blob.read_bytes()[-1] ^ 1]))
    api.sync()
    assert "tamper" in _problem(api.client.get(f"/documents/{doc['cid']}", headers=buyer), 409)["title"].lower()


# --------------------------------------------------------------------------- finding 20


def _signed_mint(net, key="seller", *, nonce_offset=0, gas=600_000, number="RELAY-H", issued=None):
    inv = net.invoices()
    issued = issued or net.now()
    data = inv.encode("mint", (net.addr("buyer"), number, 500, b"USD", issued, issued + 30 * DAY, os.urandom(32), "cid",
                               bytes(32), 0))  # a fresh document each time: a same-fingerprint mint is DuplicateInvoice
    w3 = net.w3
    tx = {"to": inv.address, "data": data, "value": 0, "gas": gas, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
          "nonce": w3.eth.get_transaction_count(net.addr(key), "pending") + nonce_offset, "chainId": w3.eth.chain_id}
    return {"raw_transaction": net.keys[key].sign_transaction(tx).raw_transaction.to_0x_hex()}


def test_finding20_relay_refuses_what_cannot_be_mined_and_never_waits(api, net):
    seller = api.login("seller")
    t0 = time.monotonic()
    r = api.client.post("/tx/relay", json=_signed_mint(net, nonce_offset=1000), headers=seller)
    assert "ahead" in _problem(r, 422, "raw_transaction")["detail"]
    assert time.monotonic() - t0 < 5  # blocked 60 s, then a 500 text/plain, before the fix
    gas_limit = net.w3.eth.get_block("latest")["gasLimit"]
    _problem(api.client.post("/tx/relay", json=_signed_mint(net, gas=gas_limit + 1), headers=seller), 422,
             "raw_transaction")
    # a legacy transaction without EIP-155 chain id (replayable on any chain): refused
    pre155 = net.keys["seller"].sign_transaction({
        "to": net.deployment.invoice_token, "value": 0, "gas": 100_000, "gasPrice": 0, "data": b"",
        "nonce": net.w3.eth.get_transaction_count(net.addr("seller"), "pending")})
    r = api.client.post("/tx/relay", json={"raw_transaction": pre155.raw_transaction.to_0x_hex()}, headers=seller)
    assert "chain" in _problem(r, 422, "raw_transaction")["detail"]
    issued = net.now()
    ok = _signed_mint(net, issued=issued)
    r = api.client.post("/tx/relay", json=ok, headers=seller)
    assert r.status_code == 202 and r.headers["location"] == r.json()["status_url"], r.text
    status = api.client.get(r.json()["status_url"], headers=seller).json()
    assert status["status"] == "included" and status["block_number"] and status["gas_used"] > 0
    # the same nonce again: already used
    _problem(api.client.post("/tx/relay", json=ok, headers=seller), 409, "raw_transaction")
    # a transaction that reverts is reported failed, with the contract's error
    dup = _signed_mint(net, number="RELAY-H", issued=issued)  # same fingerprint: DuplicateInvoice
    r = api.client.post("/tx/relay", json=dup, headers=seller)
    assert r.status_code == 202, r.text
    status = api.client.get(r.json()["status_url"], headers=seller).json()
    assert status["status"] == "failed" and status["error"] == "DuplicateInvoice", status
    # someone else's transaction is not visible
    assert api.client.get(r.json()["status_url"], headers=api.login("buyer")).status_code == 404
    net.chain.nonces.resync()


# --------------------------------------------------------------------------- finding 21

PLANTED = {
    "iban": ("NL91ABNA0417164300", "NL91 ABNA 0417 1643 00"),
    "iban_gb": ("GB29NWBK60161331926819", "GB29 NWBK 6016 1331 9268 19"),
    "sort_code_account": ("20-00-00 55779911",),
    "ssn": ("123-45-6789",),
    "passport": ("X1234567",),
    "card": ("4111 1111 1111 1111", "4111111111111111"),
}


def _leaks(text: str) -> list[str]:
    return [v for values in PLANTED.values() for v in values if v in text] + [
        d for d in ("55779911", "0417164300", "60161331926819") if d in text]


def test_finding21_bank_and_id_numbers_are_masked_on_every_path(api, net):
    seller, buyer, warehouse, admin, auditor = (api.login(k) for k in ("seller", "buyer", "warehouse", "admin_a",
                                                                       "auditor"))
    r = api.client.post("/invoices", json=_invoice_body(net, "INV NL91ABNA0417164300"), headers=seller)
    assert r.status_code == 201, r.text
    invoice_id = r.json()["invoice_id"]
    reason = "pay to GB29 NWBK 6016 1331 9268 19, sort code 20-00-00 account 55779911"
    assert api.client.post(f"/invoices/{invoice_id}/dispute", json={"reason": reason}, headers=buyer).status_code == 200
    receipt = {"depositor": net.addr("seller"), "commodity": "Coffee, holder SSN 123-45-6789", "quantity": 5,
               "unit": "kg", "grade": "holder passport number X1234567, card 4111 1111 1111 1111",
               "location": "NLRTM", "insured_value": {"currency": "USD", "minor": 100},
               "expiry": net.now() + 90 * DAY, "document_hash": "0x" + "ef" * 32, "document_cid": "bafkreirec"}
    assert api.client.post("/receipts", json=receipt, headers=warehouse).status_code == 201
    prop = {"actions": [{"action": "suspend", "account": net.addr("investor"),
                         "reason": "IBAN NL91 ABNA 0417 1643 00"}],
            "description": "refund to 20-00-00 55779911, passport no. X1234567"}
    assert api.client.post("/governance/proposals", json=prop, headers=admin).status_code == 201
    api.sync()

    answers = {
        "/invoices": api.client.get("/invoices", headers=seller),
        "/receipts": api.client.get("/receipts", headers=warehouse),
        "/events": api.client.get("/events?limit=200", headers=auditor),
        "/governance/proposals": api.client.get("/governance/proposals", headers=admin),
    }
    for path, r in answers.items():
        assert r.status_code == 200, (path, r.text)
        assert not _leaks(r.text), (path, _leaks(r.text), r.text[:2000])
    assert "4300" in answers["/invoices"].text and "6789" in answers["/receipts"].text  # masked, not dropped
    n_events = len(answers["/events"].json()["items"])
    with api.client.stream("GET", f"/events/stream?max_events={n_events}", headers=auditor) as r:
        stream = "".join(r.iter_text())
    assert stream.count("event: ") == n_events and "event: InvoiceCancelled" in stream  # a dispute cancels
    assert not _leaks(stream), _leaks(stream)  # the stream bypassed the masking response class
    # what the API emits itself is never masked: addresses, hashes, amounts, dates
    inv = api.client.get(f"/invoices/{invoice_id}", headers=seller).json()
    assert inv["seller"] == net.addr("seller") and inv["document_hash"] == "0x" + "ab" * 32
    assert inv["face_value"] == {"currency": "USD", "minor": "100000", "display": "USD 1,000.00"}


# --------------------------------------------------------------------------- finding 22


def test_finding22_key_of_a_non_cid_is_a_problem_not_a_500(api):
    seller = api.login("seller")
    for cid in ("bnotacidatallxyz", "bafkreiaaaaaaaaaa"):
        _problem(api.client.get(f"/documents/{cid}/key", headers=seller), 422, "cid")
    _problem(api.client.get("/documents/NOTBASE32!/key", headers=seller), 422)


def test_finding22_duplicate_json_keys_are_refused(api, net):
    seller = api.login("seller")
    body = json.dumps(_invoice_body(net)).replace('"minor": 100000', '"minor": "100", "minor": "7"')
    assert '"minor": "7"' in body
    r = api.client.post("/invoices", content=body, headers={**seller, "content-type": "application/json"})
    assert "duplicate" in _problem(r, 400, "minor")["detail"]  # minted 7 (last wins) before


def test_finding22_amounts_are_ascii_digits_and_bounded(api, net):
    seller = api.login("seller")
    for minor in ("\u0661\u0660\u0660", "\uff11\uff10\uff10", "1_000", " 100", 2**256 - 1, str(2**96),
                  10**15 * 100 + 1):
        r = api.client.post("/invoices", json=_invoice_body(net, face=minor), headers=seller)
        _problem(r, 422, "face_value.minor")
    assert api.client.post("/invoices", json=_invoice_body(net, face=10**15 * 100), headers=seller).status_code == 201


def test_finding22_currency_without_settlement_token_is_refused(api, net):
    assert "GBP" not in net.deployment.settlement_tokens
    r = api.client.post("/invoices", json=_invoice_body(net, currency="GBP"), headers=api.login("seller"))
    assert "settlement token" in _problem(r, 422, "face_value.currency")["detail"]


def test_finding22_deal_terms_are_checked_before_signing(api, net):
    ensure_money(net)
    seller = api.login("seller")
    invoice_id = confirmed_invoice(net, 10_000_000)
    now = net.now()

    def terms(**over):
        t = {"product": "Receivable", "collateral_id": str(invoice_id), "borrower": net.addr("seller"),
             "lender": net.addr("lender"), "currency": "USD", "principal": 8_000_000, "fee": 120_000,
             "maturity": now + 100 * DAY, "grace_period": 10 * DAY, "accept_by": now + DAY,
             "transport_document": "BL-T",
             "milestones": [{"event_code": "DEPA", "share_bps": 10_000}, {"event_code": "ARRI", "share_bps": 10_000}]}
        t.update(over)
        return t

    sign = lambda t: api.client.post("/deals/terms/signature", json=t, headers=seller)  # noqa: E731
    _problem(sign(terms()), 422, "milestones")  # 20,000 bps: signed before the fix
    ok = [{"event_code": "DEPA", "share_bps": 10_000}]
    _problem(sign(terms(milestones=ok * 2)), 422, "milestones")
    _problem(sign(terms(milestones=ok, principal=10**30)), 422, "principal")
    _problem(sign(terms(milestones=ok, principal=9_950_000)), 422, "principal")  # + fee > face value
    _problem(sign(terms(milestones=ok, lender=net.addr("seller"))), 422, "lender")
    _problem(sign(terms(milestones=ok, currency="EUR")), 422, "currency")
    _problem(sign(terms(milestones=ok, collateral_id=10**9)), 422, "collateral_id")
    _problem(sign(terms(milestones=ok, maturity=now - 1, accept_by=now - 2)), 422, "maturity")
    _problem(sign(terms(milestones=ok, accept_by=now + 120 * DAY)), 422, "accept_by")
    assert sign(terms(milestones=ok)).status_code == 200


def test_finding22_lender_overdue_report_is_scoped_to_its_deals(api, net):
    ensure_money(net)
    open_deal(net, reference="OOLU-BL-OVERDUE")  # lender's deal
    for _ in range(3):  # the rest of the network's book: not lender_b's business
        confirmed_invoice(net, 1_000_000, due_in=DAY)
    net.advance_time(2 * DAY)
    api.sync()
    whole = api.client.get("/reports/overdue", headers=api.login("auditor")).json()
    own = api.client.get("/reports/overdue", headers=api.login("lender")).json()
    other = api.client.get("/reports/overdue", headers=api.login("lender_b")).json()
    assert whole["outstanding_count"] == 4
    assert other["outstanding_count"] == 0 and other["overdue_count"] == 0, other  # saw all 4 before
    assert own["outstanding_count"] == 1, own
    assert (whole["scope"], own["scope"], other["scope"]) == ("network", "own_deals", "own_deals")


def test_finding22_non_members_get_no_session_and_logins_do_not_rewrite_keys(api, net):
    outsider = Account.create()
    net.keys["outsider"] = outsider
    try:
        for _ in range(3):
            _problem(_login_with(api, "outsider"), 403)
    finally:
        del net.keys["outsider"]
    path = api.ctx.settings.document_dir / "public_keys.json"
    api.login("seller")
    before = (path.stat().st_mtime_ns, path.read_text())
    for _ in range(5):
        api.login("seller")
    assert (path.stat().st_mtime_ns, path.read_text()) == before
    assert outsider.address not in path.read_text()


# --------------------------------------------------------------------------- finding 23


def test_finding23_openapi_describes_what_the_api_answers(api):
    doc = api.client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {"type": "http", "scheme": "bearer",
                                     "description": "the session token from POST /auth/login"}
    assert "HTTPValidationError" not in json.dumps(doc)
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    public = {("get", "/health"), ("post", "/auth/nonce"), ("post", "/auth/login")}
    failures = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            responses = op["responses"]
            ok = [s for s in responses if s.startswith("2")]
            if not ok:
                failures.append(f"{where}: no 2xx")
            for s in ok:
                content = responses[s].get("content")
                if s != "204" and not (content and all(c.get("schema") for c in content.values())):
                    failures.append(f"{where}: empty {s} schema")
            errors = {s: r for s, r in responses.items() if s[0] in "45"}
            if not errors and (op.get("security") or op.get("parameters") or op.get("requestBody")):
                failures.append(f"{where}: no error status declared")
            for s, r in errors.items():
                if r.get("content") != {"application/problem+json": {"schema": PROBLEM}}:
                    failures.append(f"{where}: {s} is not a problem")
            if (method, path) not in public:
                if op.get("security") != [{"HTTPBearer": []}]:
                    failures.append(f"{where}: no bearer requirement")
                if not {"401", "403"} <= set(responses):
                    failures.append(f"{where}: 401/403 not declared")
            if "requestBody" in op and not {"400", "413", "422"} <= set(responses):
                failures.append(f"{where}: body errors not declared")
    assert not failures, "\n".join(failures)
    assert doc["paths"]["/invoices/{invoice_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_finding23_answers_stay_within_the_declared_statuses(api, net):
    """A sample of real answers, each checked against the operation's declared responses."""
    doc = api.client.get("/openapi.json").json()
    seller = api.login("seller")
    cases = [("get", "/invoices/{invoice_id}", "/invoices/999", {}, seller),
             ("get", "/invoices/{invoice_id}", "/invoices/0", {}, seller),
             ("post", "/invoices", "/invoices", {"json": {"buyer": 1}}, seller),
             ("post", "/invoices", "/invoices", {"json": _invoice_body(net)}, None),
             ("post", "/invoices", "/invoices", {"content": b"[" * 40 + b"]" * 40}, seller),
             ("post", "/invoices/{invoice_id}/confirm", "/invoices/999/confirm", {}, api.login("buyer")),
             ("get", "/participants", "/participants", {}, None),
             ("post", "/auth/login", "/auth/login", {"json": {"message": "x", "signature": "0x00"}}, None),
             ("post", "/documents", "/documents", {"content": b""}, seller),
             ("get", "/documents/{cid}/key", "/documents/bnotacid123/key", {}, seller)]
    for method, template, path, kw, headers in cases:
        r = api.client.request(method.upper(), path, headers=headers or {}, **kw)
        declared = doc["paths"][template][method]["responses"]
        assert str(r.status_code) in declared, (method, path, r.status_code, sorted(declared))
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json")


def test_the_nodes_database_is_opened_as_the_indexer_opens_it(api):
    """The node's read model and its own tables share the indexer's SQLite settings: WAL (a reader
    never waits for the indexer's commit), a busy timeout, transactions that begin when asked (a
    plain engine left the node in rollback-journal mode: reads failed with "database is locked"
    under load)."""
    with api.ctx.db.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000


def test_a_reader_looks_up_bl_numbers_one_by_one_and_keeps_only_what_it_found(api):
    """Readable answers name the B/L number behind a shipment id. A reader used to load every known
    number (a table that grows with every shipment) for each answer; now it asks for the ones it
    shows, keeps the hits for the node's next readers (a number never changes: first seen wins),
    and asks again for a miss, which may be learnt meanwhile."""
    from sqlalchemy import event

    from node_api.store import remember_reference

    ship = bytes.fromhex("ab" * 32)
    key = "0x" + ship.hex()
    asked: list[str] = []

    @event.listens_for(api.ctx.db, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany):
        if "node_references" in statement:
            asked.append(statement.split()[0])

    assert api.ctx.reader().reference(key) is None  # not known yet: asked, nothing kept
    assert asked == ["SELECT"]
    remember_reference(api.ctx.db, ship, "MAEU123456789")
    remember_reference(api.ctx.db, ship, "OTHER0000")  # first seen wins
    assert api.ctx.reader().reference(key) == "MAEU123456789"
    n = asked.count("SELECT")
    assert api.ctx.reader().reference(key) == "MAEU123456789"  # kept: no query
    assert asked.count("SELECT") == n
    event.remove(api.ctx.db, "before_cursor_execute", _seen)
