"""Receivable financing through the node API: terms signed by both parties, funding, an oracle
release, withdrawal, repayment and the waterfall; portfolio and shipment timeline views."""

import pytest

from tests.api_support import make_api
from tests.deal_support import confirm, confirmed_invoice, ensure_money, event

DAY = 86_400


@pytest.fixture
def api(net, tmp_path):
    ensure_money(net)
    return make_api(net, tmp_path)


def _terms(net, invoice_id, deal_id=4242, reference="OOLU-BL-API-1"):
    now = net.now()
    return {"deal_id": deal_id, "invoice_id": invoice_id, "borrower": net.addr("seller"), "lender": net.addr("lender"),
            "currency": "USD", "principal": 8_000_000, "fee": 120_000, "maturity": now + 60 * DAY,
            "grace_period": 10 * DAY, "accept_by": now + DAY,
            "milestones": [{"transport_document": reference, "event_code": "DEPA", "share_bps": 4000},
                           {"transport_document": reference, "event_code": "ARRI", "share_bps": 6000}]}


def test_financing_flow_through_the_api(api, net):
    seller, lender, buyer = api.login("seller"), api.login("lender"), api.login("buyer")
    invoice_id = confirmed_invoice(net, 10_000_000)
    terms = _terms(net, invoice_id)
    s_sig = api.client.post("/deals/terms/signature", json=terms, headers=seller).json()
    l_sig = api.client.post("/deals/terms/signature", json=terms, headers=lender).json()
    assert s_sig["terms_digest"] == l_sig["terms_digest"]
    # a third party cannot sign someone else's terms
    assert api.client.post("/deals/terms/signature", json=terms, headers=api.login("lender_b")).status_code == 403
    r = api.client.post("/deals", json={"terms": terms, "borrower_signature": s_sig["signature"],
                                        "lender_signature": l_sig["signature"]}, headers=seller)
    assert r.status_code == 201, r.text
    # funding by someone who is not the lender: role / party checks
    assert api.client.post("/deals/4242/fund", headers=buyer).status_code == 403
    assert api.client.post("/deals/4242/fund", headers=api.login("lender_b")).status_code == 404
    assert api.client.post("/deals/4242/fund", headers=lender).status_code == 200
    confirm(net, event(net, "OOLU-BL-API-1", "DEPA"))
    api.sync()
    deal = api.client.get("/deals/4242", headers=seller).json()
    assert deal["state"] == "Funded" and deal["released"] == {"currency": "USD", "minor": "3200000"}
    assert [m["status"] for m in deal["milestones"]] == ["Released", "Pending"]
    w = api.client.post("/deals/4242/withdraw", headers=seller).json()
    assert w["withdrawn"] == {"currency": "USD", "minor": "3200000"}
    # lender's book and the shipment timeline
    book = api.client.get("/portfolio", headers=lender).json()
    assert book["by_obligor"] == [{"obligor": net.addr("buyer"), "outstanding": {"currency": "USD", "minor": "8000000"}}]
    tl = api.client.get("/shipments/OOLU-BL-API-1", headers=buyer).json()
    assert [e["event_code"] for e in tl["events"]] == ["DEPA"] and len(tl["milestones"]) == 2
    assert api.client.get("/shipments/OOLU-BL-API-1", headers=api.login("investor")).status_code == 404
    ev = api.client.get("/oracle/events?signed_by_me=true", headers=api.login("oracle_1")).json()
    assert ev["total"] == 1 and ev["items"][0]["signed_by_me"] is True
    # repayment and waterfall
    assert api.client.post("/deals/4242/repay", headers=buyer).status_code == 200
    api.sync()
    deal = api.client.get("/deals/4242", headers=lender).json()
    assert deal["state"] == "Repaid" and deal["to_lender"] == {"currency": "USD", "minor": "8120000"}
    assert deal["to_borrower"] == {"currency": "USD", "minor": str(10_000_000 - 3_200_000 - 120_000)}
    assert api.client.get("/deals/4242", headers=api.login("lender_b")).status_code == 404


def test_deal_rejections_come_back_as_problems(api, net):
    seller = api.login("seller")
    invoice_id = confirmed_invoice(net, 10_000_000)
    terms = _terms(net, invoice_id)
    terms["milestones"][1]["share_bps"] = 5000  # shares sum to 9,000
    s_sig = api.client.post("/deals/terms/signature", json=terms, headers=seller).json()
    l_sig = api.client.post("/deals/terms/signature", json=terms, headers=api.login("lender")).json()
    r = api.client.post("/deals", json={"terms": terms, "borrower_signature": s_sig["signature"],
                                        "lender_signature": l_sig["signature"]}, headers=seller)
    assert r.status_code == 409 and r.json()["error"] == "InvalidSchedule"
    bad = _terms(net, invoice_id)
    bad["milestones"][0]["event_code"] = "XXXX"
    r = api.client.post("/deals/terms/signature", json=bad, headers=seller)
    assert r.status_code == 422 and r.json()["field"] == "milestones.0.event_code"


def test_exposure_report_by_obligor_and_lender(api, net):
    from tests.deal_support import accept, fund, make_terms, open_deal

    open_deal(net, principal=8_000_000, reference="OOLU-BL-EXP-1")
    setup = make_terms(net, confirmed_invoice(net, 3_000_000), 2_000_000, 50_000, reference="OOLU-BL-EXP-2",
                       lender="lender_b")
    accept(net, setup, lender="lender_b")
    fund(net, setup, lender="lender_b")
    api.sync()
    rep = api.client.get("/reports/exposure", headers=api.login("auditor")).json()
    assert rep["by_obligor"] == [{"obligor": net.addr("buyer"), "exposure": {"currency": "USD", "minor": "10000000"}}]
    assert {(x["lender"], x["exposure"]["minor"]) for x in rep["by_lender"]} == {
        (net.addr("lender"), "8000000"), (net.addr("lender_b"), "2000000")}
    own = api.client.get("/reports/exposure", headers=api.login("lender_b")).json()
    assert own["by_lender"] == [{"lender": net.addr("lender_b"), "exposure": {"currency": "USD", "minor": "2000000"}}]
    assert own["by_obligor"] == []
