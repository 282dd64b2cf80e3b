"""Node API: SIWE login, participant workflows through HTTP, documents, reports, event stream."""

from datetime import datetime, timedelta, timezone

import pytest

from chain.vocabulary import Role
from node_api.auth import build_login_message, sign_login_message
from tests.support.api import make_api


@pytest.fixture
def api(net, tmp_path):
    return make_api(net, tmp_path)


def _login_raw(api, key, **overrides):
    acct = api.net.keys[key]
    n = api.client.post("/auth/nonce").json()
    fields = dict(address=acct.address, domain=n["domain"], uri=n["uri"], chain_id=n["chain_id"], nonce=n["nonce"])
    signer = overrides.pop("signer", acct)
    fields.update(overrides)
    msg = build_login_message(**fields)
    return msg, sign_login_message(msg, signer)


def test_siwe_login_and_me(api, net):
    headers = api.login("seller")
    me = api.client.get("/auth/me", headers=headers).json()
    assert me["address"] == net.addr("seller") and me["roles"] == ["SELLER"] and me["custodial"] is True


@pytest.mark.parametrize("case,field", [
    ("wrong_domain", "domain"), ("expired", "expiration_time"), ("wrong_signer", "signature"),
    ("wrong_chain", "chain_id"),
])
def test_siwe_rejections_name_the_field(api, net, case, field):
    if case == "wrong_domain":
        msg, sig = _login_raw(api, "seller", domain="evil.example")
    elif case == "expired":
        past = datetime.now(timezone.utc) - timedelta(hours=2)
        msg, sig = _login_raw(api, "seller", issued_at=past, lifetime=timedelta(minutes=5))
    elif case == "wrong_chain":
        msg, sig = _login_raw(api, "seller", chain_id=1)
    else:
        msg, sig = _login_raw(api, "seller", signer=net.keys["buyer"])
    r = api.client.post("/auth/login", json={"message": msg.to_text(), "signature": sig})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


def test_siwe_nonce_cannot_be_reused(api):
    msg, sig = _login_raw(api, "seller")
    assert api.client.post("/auth/login", json={"message": msg.to_text(), "signature": sig}).status_code == 200
    r = api.client.post("/auth/login", json={"message": msg.to_text(), "signature": sig})
    assert r.status_code == 401 and r.json()["field"] == "nonce"


def test_malformed_login_is_4xx_naming_field(api):
    r = api.client.post("/auth/login", json={"message": "hello", "signature": "0x00"})
    assert r.status_code == 400 and "field" in r.json()
    r = api.client.post("/auth/login", json={"signature": "0x00"})
    assert r.status_code == 422 and r.json()["field"] == "message"


def test_role_revoked_on_chain_takes_effect_at_once(api, net):
    headers = api.login("seller")
    assert api.client.get("/invoices", headers=headers).status_code == 200
    reg = net.registry()
    reg.govern(net.admins, [reg.call_set_roles(net.addr("seller"), Role.BUYER)], "seller becomes buyer only")
    body = _invoice_body(net)
    r = api.client.post("/invoices", json=body, headers=headers)
    assert r.status_code == 403 and "SELLER" in r.json()["detail"]


def _invoice_body(net, number="API-INV-1", face=1_000_000_00):
    now = net.now()
    return {"buyer": net.addr("buyer"), "invoice_number": number, "face_value": {"currency": "USD", "minor": face},
            "issue_date": now, "due_date": now + 60 * 86_400, "document_hash": "0x" + "ab" * 32,
            "document_cid": "bafkreiapiinvoice"}


def test_invoice_workflow_through_the_api(api, net):
    seller, buyer, lender = api.login("seller"), api.login("buyer"), api.login("lender")
    body = _invoice_body(net)
    r = api.client.post("/invoices", json=body, headers=seller)
    assert r.status_code == 201, r.text
    invoice_id = r.json()["invoice_id"]
    # duplicate (another account of the seller's organisation, another document): the contract's
    # error comes back as a 409 problem naming the error, with a sentence
    r = api.client.post("/invoices", json={**body, "document_hash": "0x" + "cd" * 32},
                        headers=api.login("seller_ops"))
    assert r.status_code == 409 and r.json()["error"] == "DuplicateInvoice"
    assert r.json()["arguments"]["id"] == invoice_id
    assert r.json()["detail"].startswith("This invoice is already tokenised as invoice 0x")
    r = api.client.post(f"/invoices/{invoice_id}/confirm", headers=buyer)
    assert r.status_code == 200
    api.sync()
    got = api.client.get(f"/invoices/{invoice_id}", headers=seller).json()
    assert got["state"] == "Confirmed"
    assert got["face_value"] == {"currency": "USD", "minor": "100000000", "display": "USD 1,000,000.00"}
    assert got["seller_name"] == "Shenzhen Bright Electronics Co., Ltd." and got["buyer_lei"] == "724500ROTTERDAMRET06"
    assert got["due_date_iso"].endswith("Z") and got["id"] == invoice_id
    assert api.client.get(f"/invoices/{invoice_id}", headers=lender).status_code == 404  # not party
    assert api.client.get("/invoices", headers=api.login("auditor")).json()["total"] == 1
    assert api.client.get("/invoices?state=Issued", headers=seller).json()["total"] == 0


def test_bad_input_is_422_naming_the_field(api, net):
    seller = api.login("seller")
    body = _invoice_body(net)
    body["face_value"]["minor"] = 12.5
    r = api.client.post("/invoices", json=body, headers=seller)
    assert r.status_code == 422 and r.json()["field"] == "face_value.minor"
    body = _invoice_body(net)
    body["buyer"] = "0x1234"
    r = api.client.post("/invoices", json=body, headers=seller)
    assert r.status_code == 422 and r.json()["field"] == "buyer"
    assert api.client.get("/invoices/0", headers=seller).status_code == 422
    assert api.client.get("/invoices?limit=100000", headers=seller).json()["field"] == "limit"


def test_documents_upload_download_and_non_party(api, net):
    seller, buyer, lender = api.login("seller"), api.login("buyer"), api.login("lender")
    pdf = b"%PDF-1.7 commercial invoice ... IBAN NL91ABNA0417164300"
    r = api.client.post(f"/documents?readers={net.addr('buyer')}", content=pdf, headers=seller)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["cid"].startswith("b") and sorted(doc["readers"]) == sorted([net.addr("seller"), net.addr("buyer")])
    # anchor it with an invoice, then the buyer downloads and the hash is checked against the chain
    body = _invoice_body(net, "DOC-1")
    body["document_hash"], body["document_cid"] = doc["sha256"], doc["cid"]
    assert api.client.post("/invoices", json=body, headers=seller).status_code == 201
    api.sync()
    r = api.client.get(f"/documents/{doc['cid']}", headers=buyer)
    assert r.status_code == 200 and r.content == pdf
    assert api.client.get(f"/documents/{doc['cid']}", headers=lender).status_code == 404
    assert api.client.get(f"/documents/{doc['cid']}/key", headers=lender).status_code == 404
    # tamper with the stored ciphertext: refused
    blob = next((api.ctx.settings.document_dir / "blobs").rglob(doc["cid"] + "*"))
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    r = api.client.get(f"/documents/{doc['cid']}", headers=buyer)
    assert r.status_code == 409 and "tamper" in r.json()["title"].lower()


def test_bank_numbers_are_masked_in_responses(api):
    from node_api.responses import MaskedJSONResponse

    body = MaskedJSONResponse({"payment": {"iban": "NL91ABNA0417164300", "bank_account": "123456789"}}).body
    assert b"NL91ABNA0417164300" not in body and b"4300" in body and b"6789" in body


def test_reconciliation_equals_chain_balances(api, net):
    import datetime as dt

    from tests.support.localnet import players_on
    from tradenet.scenario import Narrator, run_core_trade

    run_core_trade(players_on(api), Narrator(lambda _: None))  # through the API, as the participants would
    net.token("USD", "lender").transfer(net.addr("buyer"), 123_45)
    api.sync()
    day = dt.datetime.fromtimestamp(net.now(), dt.timezone.utc).date()
    r = api.client.get(f"/reports/reconciliation?day={day}", headers=api.login("auditor"))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["all_match"] is True
    rows = {(x["currency"], x["account"]): x for x in rep["accounts"]}
    lender = rows[("USD", net.addr("lender"))]
    assert int(lender["closing"]) == net.token("USD").balance_of(net.addr("lender")) == 5_000_000_00 - 123_45
    assert api.client.get(f"/reports/reconciliation?day={day}", headers=api.login("seller")).status_code == 403


def test_event_stream_delivers_participant_events(api, net):
    from tests.support.localnet import players_on
    from tradenet.scenario import Narrator, run_core_trade

    run_core_trade(players_on(api), Narrator(lambda _: None))  # through the API, as the participants would
    api.sync()
    with api.client.stream("GET", "/events/stream?max_events=3", headers=api.login("buyer")) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    assert text.count("event: ") == 3 and net.addr("buyer").lower() in text.lower()


def test_relay_of_client_signed_transaction(api, net):
    from eth_account import Account

    outsider = Account.create()
    seller = api.login("seller")
    inv = net.invoices()
    data = inv.encode("mint", (net.addr("buyer"), "RELAY-1", 500, b"USD", net.now(), net.now() + 86_400 * 30,
                               b"\1" * 32, "cid", bytes(32), 0))
    w3 = net.w3
    tx = {"to": inv.address, "data": data, "value": 0, "gas": 600_000, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
          "nonce": w3.eth.get_transaction_count(net.addr("seller")), "chainId": w3.eth.chain_id}
    signed = net.keys["seller"].sign_transaction(tx)
    r = api.client.post("/tx/relay", json={"raw_transaction": signed.raw_transaction.to_0x_hex()}, headers=seller)
    # answered at once (202) with the hash and where to poll (finding 20)
    assert r.status_code == 202, r.text
    status = api.client.get(r.json()["status_url"], headers=seller).json()
    assert status["status"] == "included" and status["tx_hash"] == r.json()["tx_hash"], status
    net.chain.nonces.resync()
    # signed by someone else than the session's participant: refused
    tx2 = dict(tx, nonce=0)
    signed2 = outsider.sign_transaction(tx2)
    r = api.client.post("/tx/relay", json={"raw_transaction": signed2.raw_transaction.to_0x_hex()}, headers=seller)
    assert r.status_code == 403
    r = api.client.post("/tx/relay", json={"raw_transaction": "0xdeadbeef"}, headers=seller)
    assert r.status_code == 422 and r.json()["field"] == "raw_transaction"
