"""Deals through the node API: receivable financing signed by both parties with its agreement,
funding, an oracle release, withdrawal, repayment and the waterfall (exact figures); offers
(two lenders, one accepted, the other lapsed; revoked and expired); the agreement's hash is the
terms' agreementHash; risk refusals name the rule and its figures; portfolio, timeline, reports."""

import hashlib

import pytest

from tests.support.api import deal_through_api, make_api, terms_body
from tests.support.deals import confirm, confirmed_invoice, ensure_money, event

DAY = 86_400


@pytest.fixture
def api(net, tmp_path):
    ensure_money(net)
    return make_api(net, tmp_path)


def usd(minor: int, display: str) -> dict:
    return {"currency": "USD", "minor": str(minor), "display": display}


def test_financing_flow_through_the_api(api, net):
    seller, lender, buyer = api.login("seller"), api.login("lender"), api.login("buyer")
    invoice_id = confirmed_invoice(net, 10_000_000)
    terms = terms_body(net, invoice_id)
    s_sig = api.client.post("/deals/terms/signature", json=terms, headers=seller).json()
    l_sig = api.client.post("/deals/terms/signature", json=terms, headers=lender).json()
    assert s_sig["terms_digest"] == l_sig["terms_digest"] and s_sig["agreement_hash"] == l_sig["agreement_hash"]
    # a third party cannot sign someone else's terms
    assert api.client.post("/deals/terms/signature", json=terms, headers=api.login("lender_b")).status_code == 403
    r = api.client.post("/deals", json={"terms": terms, "borrower_signature": s_sig["signature"],
                                        "lender_signature": l_sig["signature"]}, headers=seller)
    assert r.status_code == 201, r.text
    deal_id = r.json()["deal_id"]
    # funding by someone who is not the lender: role / party checks
    assert api.client.post(f"/deals/{deal_id}/fund", headers=buyer).status_code == 403
    assert api.client.post(f"/deals/{deal_id}/fund", headers=api.login("lender_b")).status_code == 404
    assert api.client.post(f"/deals/{deal_id}/fund", headers=lender).status_code == 200
    confirm(net, event(net, "OOLU-BL-API-1", "DEPA"), notify=[deal_id])  # the report names the deal
    api.sync()
    deal = api.client.get(f"/deals/{deal_id}", headers=seller).json()
    assert deal["state"] == "Funded" and deal["released"] == usd(3_200_000, "USD 32,000.00")
    assert deal["borrower_name"] == "Shenzhen Bright Electronics Co., Ltd." and deal["obligor"] == net.addr("buyer")
    assert deal["transport_document"] == "OOLU-BL-API-1" and deal["clock"] == "chain"
    assert [(m["event_code"], m["event_name"], m["status"], m["amount"]["minor"]) for m in deal["milestones"]] == [
        ("DEPA", "Departed", "Released", "3200000"), ("ARRI", "Arrived", "Pending", "4800000")]
    w = api.client.post(f"/deals/{deal_id}/withdraw", headers=seller).json()
    assert w["withdrawn"] == usd(3_200_000, "USD 32,000.00")
    # the agreement both signed: its sha-256 is the deal's agreementHash, for the parties only
    html = api.client.get(f"/deals/{deal_id}/agreement", headers=buyer)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "0x" + hashlib.sha256(html.content).hexdigest() == deal["agreement_hash"] == s_sig["agreement_hash"]
    text = html.text
    for words in ("Receivable financing agreement", "Shenzhen Bright Electronics Co., Ltd.", "3003005ZBRIGHTELEC05",
                  "USD 80,000.00 (eighty thousand US dollars and 00 cents)", "Departed", "OOLU-BL-API-1",
                  "Governing rules"):
        assert words in text, words
    pdf = api.client.get(f"/deals/{deal_id}/agreement.pdf", headers=lender)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert api.client.get(f"/deals/{deal_id}/agreement", headers=api.login("lender_b")).status_code == 404
    # lender's book and the shipment timeline
    book = api.client.get("/portfolio", headers=lender).json()
    assert [(o["obligor"], o["outstanding"]) for o in book["by_obligor"]] == [
        (net.addr("buyer"), usd(8_000_000, "USD 80,000.00"))]
    tl = api.client.get("/shipments/OOLU-BL-API-1", headers=buyer).json()
    assert [e["event_name"] for e in tl["events"]] == ["Departed"] and len(tl["deals"][0]["milestones"]) == 2
    assert api.client.get("/shipments/OOLU-BL-API-1", headers=api.login("investor")).status_code == 404
    # repayment and waterfall
    assert api.client.post(f"/deals/{deal_id}/repay", headers=buyer).status_code == 200
    api.sync()
    deal = api.client.get(f"/deals/{deal_id}", headers=lender).json()
    assert deal["state"] == "Repaid" and deal["to_lender"] == usd(8_120_000, "USD 81,200.00")
    assert deal["to_borrower"] == usd(10_000_000 - 3_200_000 - 120_000, "USD 66,800.00")


def test_deal_rejections_come_back_as_sentences(api, net):
    seller = api.login("seller")
    invoice_id = confirmed_invoice(net, 10_000_000, confirm_it=False)
    terms = terms_body(net, invoice_id)
    l_sig = api.client.post("/deals/terms/signature", json=terms, headers=api.login("lender")).json()
    r = api.client.post("/deals", json={"terms": terms, "lender_signature": l_sig["signature"]}, headers=seller)
    assert r.status_code == 409 and r.json()["error"] == "InvoiceNotConfirmed", r.text
    assert "is Issued: only a confirmed invoice can be financed" in r.json()["detail"]
    bad = terms_body(net, invoice_id)
    bad["milestones"][0]["event_code"] = "XXXX"
    r = api.client.post("/deals/terms/signature", json=bad, headers=seller)
    assert r.status_code == 422 and r.json()["field"] == "milestones.0.event_code"


def test_a_limit_refusal_names_the_rule_and_its_figures(api, net):
    lender = api.login("lender")
    assert api.client.put("/risk/policy", json={"currency": "USD", "cap_bps": 10_000}, headers=lender).status_code == 200
    r = api.client.put(f"/risk/limits/{net.addr('buyer')}", json={"limit": 5_000_000}, headers=lender)
    assert r.status_code == 200, r.text
    api.sync()
    policy = api.client.get("/risk/policy", headers=lender).json()
    assert policy["currency"] == "USD" and policy["limits"][0]["limit"] == usd(5_000_000, "USD 50,000.00")
    terms = terms_body(net, confirmed_invoice(net, 10_000_000))
    r = api.client.post("/deals/terms/signature", json=terms, headers=lender)
    r = api.client.post("/deals", json={"terms": terms, "lender_signature": r.json()["signature"]},
                        headers=api.login("seller"))
    body = r.json()
    assert r.status_code == 409 and body["error"] == "ExposureLimitExceeded", body
    assert body["rule"] == "exposure limit per obligor (set by the lender)"
    assert (body["limit"], body["current"], body["requested"]) == (
        usd(5_000_000, "USD 50,000.00"), usd(0, "USD 0.00"), usd(8_000_000, "USD 80,000.00"))
    assert body["detail"] == ("The exposure limit of Atlantic Trade Bank plc for Rotterdam Retail B.V. is "
                              "USD 50,000.00; exposure is USD 0.00, this deal adds USD 80,000.00")


def test_offers_one_accepted_the_other_lapses(api, net):
    seller, lender, lender_b = api.login("seller"), api.login("lender"), api.login("lender_b")
    invoice_id = confirmed_invoice(net, 10_000_000)
    a = api.client.post("/offers", json={"terms": terms_body(net, invoice_id, 8_000_000, 160_000, reference=None),
                                         "note": "80% at 2%"}, headers=lender)
    b = api.client.post("/offers", json={"terms": terms_body(net, invoice_id, 8_500_000, 150_000, lender="lender_b",
                                                             reference=None)}, headers=lender_b)
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    # posted by someone else than its lender: refused
    assert api.client.post("/offers", json={"terms": terms_body(net, invoice_id, 1_000, 0, reference=None)},
                           headers=lender_b).status_code == 403
    api.sync()
    mine = api.client.get(f"/offers?product=Receivable&collateral_id={invoice_id}", headers=seller).json()
    assert [(o["lender"], o["principal"]["minor"], o["status"]) for o in mine["items"]] == [
        (net.addr("lender"), "8000000", "open"), (net.addr("lender_b"), "8500000", "open")]
    # visible to its lender and the borrower only
    assert api.client.get("/offers", headers=lender).json()["total"] == 1
    assert api.client.get(f"/offers/{b.json()['id']}", headers=lender).status_code == 404
    assert api.client.get(f"/offers/{a.json()['id']}", headers=api.login("buyer")).status_code == 404
    # the lender that was offered the invoice sees it
    assert api.client.get(f"/invoices/{invoice_id}", headers=lender_b).status_code == 200
    r = api.client.post(f"/offers/{b.json()['id']}/accept", headers=seller)
    assert r.status_code == 201, r.text
    api.sync()
    statuses = {o["lender"]: (o["status"], o["deal_id"]) for o in
                api.client.get("/offers", headers=seller).json()["items"]}
    assert statuses == {net.addr("lender"): ("lapsed", None), net.addr("lender_b"): ("accepted", r.json()["deal_id"])}
    again = api.client.post(f"/offers/{a.json()['id']}/accept", headers=seller)
    assert again.status_code == 409 and again.json()["offer_status"] == "lapsed"


def test_offer_revoked_and_expired(api, net):
    lender = api.login("lender")
    invoice_id = confirmed_invoice(net, 10_000_000)
    a = api.client.post("/offers", json={"terms": terms_body(net, invoice_id, 5_000_000, 0, reference=None)},
                        headers=lender).json()
    b = api.client.post("/offers", json={"terms": terms_body(net, invoice_id, 4_000_000, 0, reference=None)},
                        headers=lender).json()
    assert api.client.post(f"/offers/{a['id']}/revoke", headers=lender).status_code == 200
    net.advance_time(2 * DAY)
    api.sync()
    seller = api.login("seller")
    assert api.client.get(f"/offers/{a['id']}", headers=seller).json()["status"] == "revoked"
    assert api.client.get(f"/offers/{b['id']}", headers=seller).json()["status"] == "expired"
    r = api.client.post(f"/offers/{b['id']}/accept", headers=seller)
    assert r.status_code == 409 and r.json()["offer_status"] == "expired"


def test_agreement_preview_is_what_gets_signed(api, net):
    seller = api.login("seller")
    terms = terms_body(net, confirmed_invoice(net, 10_000_000))
    preview = api.client.post("/deals/terms/preview", json=terms, headers=seller).json()
    html = api.client.post("/agreements/preview", json=terms, headers=seller)
    assert html.status_code == 200 and html.headers["x-agreement-hash"] == preview["agreement_hash"]
    assert "0x" + hashlib.sha256(html.content).hexdigest() == preview["agreement_hash"]
    assert preview["terms"]["agreement_hash"] == preview["agreement_hash"]
    assert [m["minor"] for m in preview["milestone_amounts"]] == ["3200000", "4800000"]
    pdf = api.client.post("/agreements/preview?format=pdf", json=terms, headers=seller)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["x-agreement-hash"] == preview["agreement_hash"]
    # stored once signed; the stored copy for the parties, nobody else
    sig = api.client.post("/deals/terms/signature", json=terms, headers=seller).json()
    stored = api.client.get(f"/agreements/{sig['agreement_hash']}", headers=api.login("lender"))
    assert stored.status_code == 200 and stored.content == html.content
    assert api.client.get(f"/agreements/{sig['agreement_hash']}", headers=api.login("investor")).status_code == 404


def test_the_agreement_is_the_same_before_and_after_the_read_model_indexes_its_invoice(api, net):
    """The agreement states the invoice's number, issue date and document hash, which only the
    mint's event carries: read from the chain, so a lender signing on a node whose indexer is a
    block behind signs the agreement the seller's node renders a moment later (with the read
    model's row it rendered the invoice without its number, and the accept was refused: "the
    signature over the terms is missing or invalid")."""
    seller, lender = api.login("seller"), api.login("lender")
    invoice_id = confirmed_invoice(net, 10_000_000)  # minted and confirmed on chain, not indexed yet
    terms = terms_body(net, invoice_id)
    early = api.client.post("/deals/terms/signature", json=terms, headers=lender)
    assert early.status_code == 200, early.text
    number = net.invoices("seller").logged_args("InvoiceIssued", "id", invoice_id)["terms"]["invoiceNumber"]
    html = api.client.post("/agreements/preview", json=terms, headers=lender).content.decode()
    assert number in html
    api.sync()
    late = api.client.post("/deals/terms/signature", json=terms, headers=seller).json()
    assert late["agreement_hash"] == early.json()["agreement_hash"] and late["terms_digest"] == early.json()["terms_digest"]
    r = api.client.post("/deals", json={"terms": terms, "borrower_signature": late["signature"],
                                        "lender_signature": early.json()["signature"]}, headers=seller)
    assert r.status_code == 201, r.text


def test_exposure_report_by_obligor_and_lender(api, net):
    deal_through_api(api, terms_body(net, confirmed_invoice(net, 10_000_000), reference="OOLU-BL-EXP-1"))
    deal_through_api(api, terms_body(net, confirmed_invoice(net, 3_000_000), 2_000_000, 50_000, lender="lender_b",
                                     reference="OOLU-BL-EXP-2"), lender="lender_b")
    api.sync()
    rep = api.client.get("/reports/exposure", headers=api.login("auditor")).json()
    assert [(x["obligor"], x["exposure"]["minor"]) for x in rep["by_obligor"]] == [(net.addr("buyer"), "10000000")]
    assert {(x["lender"], x["exposure"]["minor"]) for x in rep["by_lender"]} == {
        (net.addr("lender"), "8000000"), (net.addr("lender_b"), "2000000")}
    own = api.client.get("/reports/exposure", headers=api.login("lender_b")).json()
    assert [(x["lender_name"], x["exposure"]["display"]) for x in own["by_lender"]] == [
        ("Lisbon Factoring S.A.", "USD 20,000.00")]
    assert own["by_obligor"] == [] and own["clock"] == "chain"


def test_events_of_a_deal_reach_its_parties_and_no_one_else(api, net):
    """A milestone release names the deal, not its parties: `/events` and `/events/stream` show it
    to the deal's borrower and lender (and an auditor), not to a member outside the deal."""
    deal_id = deal_through_api(api, terms_body(net, confirmed_invoice(net, 10_000_000), reference="OOLU-BL-EVT-1"))
    confirm(net, event(net, "OOLU-BL-EVT-1", "DEPA"), notify=[deal_id])
    api.sync()

    def releases(key: str) -> list[str]:
        r = api.client.get("/events?event=MilestoneReleased&limit=200", headers=api.login(key))
        assert r.status_code == 200, r.text
        return [x["args"]["dealId"] for x in r.json()["items"]]

    for key in ("seller", "lender", "auditor"):
        assert str(deal_id) in releases(key), key
    assert str(deal_id) not in releases("lender_b")
    seen = api.client.get("/events?limit=200", headers=api.login("seller")).json()["items"]
    assert len(seen) < 200
    with api.client.stream("GET", f"/events/stream?max_events={len(seen)}", headers=api.login("seller")) as r:
        text = "".join(r.iter_text())
    assert "event: MilestoneReleased" in text and f'"dealId": "{deal_id}"' in text


def test_one_lender_funding_two_deals_at_once_funds_both(api, net):
    """Funding approves the principal and then funds: two fundings by one custodial lender at the
    same time must not overwrite each other's allowance (each holds the account's payment lock
    from its approval to its funding). Both land, with exact balances."""
    from concurrent.futures import ThreadPoolExecutor

    deals = [deal_through_api(api, terms_body(net, confirmed_invoice(net, 10_000_000), principal, 10_000,
                                              reference=None), fund=False)
             for principal in (3_000_000, 5_000_000)]
    lender, before = api.login("lender"), net.token("USD").balance_of(net.addr("lender"))
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda d: api.client.post(f"/deals/{d}/fund", headers=lender), deals))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert before - net.token("USD").balance_of(net.addr("lender")) == 8_000_000
