"""The dashboard's server-side rules, without a browser (TestClient on the session network):
the login through a signed SIWE message and its cookie, every refusal with its sentence, the
demo-key picker off unless enabled, the standing rules of the pages, the CSP and the local assets.
The browser walk is in tests/browser/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from node_api.auth import sign_login_message
from node_api.context import Caller
from node_api.routes import events
from node_api.web import routes as web
from node_api.web.session import COOKIE
from tests.support.api import make_api
from tests.support.tokens import sanction, suspend

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "https://node.tradenet.test"  # make_api's node (api_uri): the cookie is Secure there


@pytest.fixture
def api(net, tmp_path):
    return make_api(net, tmp_path)


@pytest.fixture
def browser(api) -> TestClient:
    """A client at the node's own origin (https: the session cookie is Secure)."""
    return TestClient(api.client.app, base_url=ORIGIN, follow_redirects=False)


def wallet_login(client: TestClient, account, signer=None):
    message = client.post("/ui/login/message", json={"address": account.address}).json()["message"]
    return client.post("/ui/login", json={"message": message,
                                          "signature": sign_login_message(message, signer or account)})


def test_the_wallet_login_sets_an_httponly_strict_secure_cookie_that_opens_the_pages(browser, net):
    assert browser.get("/").headers["location"] == "/login?next=/"
    r = wallet_login(browser, net.keys["lender"])
    assert r.status_code == 200, r.text
    assert r.json() == {"address": net.addr("lender"), "roles": ["LENDER"], "standing": "active"}
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" in cookie and "Path=/" in cookie
    page = browser.get("/ui/portfolio")
    assert page.status_code == 200 and "Portfolio of Atlantic Trade Bank plc" in page.text


def test_the_login_message_names_this_node_and_a_fresh_nonce_each_time(browser, net, api):
    first, second = (browser.post("/ui/login/message", json={"address": net.addr("seller")}).json()["message"]
                     for _ in range(2))
    assert first.startswith(f"https://node.tradenet.test wants you to sign in with your Ethereum account:\n{net.addr('seller')}")
    assert f"URI: {ORIGIN}" in first and f"Chain ID: {net.chain.chain_id}" in first
    nonce = re.compile(r"Nonce: (\w+)")
    assert nonce.search(first).group(1) != nonce.search(second).group(1)
    bad = browser.post("/ui/login/message", json={"address": "0x1234"})
    assert bad.status_code == 422


def test_a_wrong_signature_is_refused_with_a_sentence_and_sets_no_cookie(browser, net):
    r = wallet_login(browser, net.keys["seller"], signer=net.keys["buyer"])
    assert r.status_code == 401
    assert r.json()["detail"] == "signature was not made by the message's address"
    assert "set-cookie" not in r.headers
    assert browser.get("/ui/deals").headers["location"] == "/login?next=/ui/deals"


def test_a_signed_message_opens_one_session_only(browser, net):
    acct = net.keys["seller"]
    message = browser.post("/ui/login/message", json={"address": acct.address}).json()["message"]
    body = {"message": message, "signature": sign_login_message(message, acct)}
    assert browser.post("/ui/login", json=body).status_code == 200
    again = browser.post("/ui/login", json=body)
    assert again.status_code == 401 and "nonce" in again.json()["detail"]


def test_login_calls_from_another_origin_are_refused(browser, net):
    for path, body in (("/ui/login/message", {"address": net.addr("seller")}),
                       ("/ui/demo-login", {"address": net.addr("seller")})):
        r = browser.post(path, json=body, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        assert r.json()["detail"] == f"requests from https://evil.example are refused: use the dashboard at {ORIGIN}"
    assert browser.post("/ui/logout", headers={"Origin": "null"}).status_code == 403


def test_the_demo_key_picker_is_off_unless_the_node_enables_it(browser, api, net):
    r = browser.post("/ui/demo-login", json={"address": net.addr("lender")})
    assert r.status_code == 404
    assert r.json()["detail"] == "no demo login (this node does not offer demo keys: log in with your wallet) visible to you"
    assert "set-cookie" not in r.headers and 'id="demo-keys"' not in browser.get("/login").text

    api.ctx.settings = api.ctx.settings.model_copy(update={"demo_login": True})
    login = browser.get("/login").text
    assert 'id="demo-keys"' in login and "Atlantic Trade Bank plc" in login
    stranger = Account.create().address  # the node holds no key for it
    assert browser.post("/ui/demo-login", json={"address": stranger}).status_code == 404
    ok = browser.post("/ui/demo-login", json={"address": net.addr("lender")})
    assert ok.status_code == 200 and ok.json()["roles"] == ["LENDER"]
    assert "Atlantic Trade Bank plc" in browser.get("/").text


def test_pages_need_a_live_session_and_logout_revokes_it(browser, net):
    assert browser.get("/ui/events").status_code == 401
    browser.cookies.set(COOKIE, "not-a-session", domain="node.tradenet.test")
    assert browser.get("/ui/fx").headers["location"] == "/login?next=/ui/fx"
    browser.cookies.clear()
    wallet_login(browser, net.keys["seller"])
    token = browser.cookies.get(COOKIE)
    assert browser.get("/ui/deals").status_code == 200
    out = browser.post("/ui/logout")
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    browser.cookies.set(COOKIE, token, domain="node.tradenet.test")  # the old cookie, replayed
    assert browser.get("/ui/deals").headers["location"] == "/login?next=/ui/deals"


def test_a_page_answers_which_role_it_needs(browser, net):
    wallet_login(browser, net.keys["buyer"])
    for path, needs in (("/ui/portfolio", "LENDER"), ("/ui/risk", "ADMIN/AUDITOR"), ("/ui/treasury", "TREASURY/AUDITOR")):
        r = browser.get(path)
        assert r.status_code == 403, path
        assert f"this needs the {needs} role; {net.addr('buyer')} holds BUYER" in r.text
        assert r.headers["content-security-policy"] == web.CSP
    assert browser.get("/ui/deals/424242").status_code == 404


def test_a_suspended_member_keeps_its_obligations_pages_only(browser, net):
    wallet_login(browser, net.keys["seller"])
    suspend(net, "seller")
    assert browser.get("/ui/deals").status_code == 200  # its running obligations stay visible
    assert browser.get("/ui/documents").status_code == 200
    r = browser.get("/ui/fx")
    assert r.status_code == 403
    assert f"{net.addr('seller')} is suspended: it may only see and close its running obligations" in r.text


def test_a_sanctioned_member_gets_no_dashboard_session(browser, net):
    sanction(net, "buyer")
    r = wallet_login(browser, net.keys["buyer"])
    assert r.status_code == 403
    assert r.json()["detail"] == f"{net.addr('buyer')} is sanctioned: the node opens no session for it"
    assert "set-cookie" not in r.headers


def test_pages_allow_only_the_node_itself_and_load_nothing_from_elsewhere(browser, net):
    assert "http" not in web.CSP and "*" not in web.CSP and "unsafe" not in web.CSP
    assert "script-src 'self'" in web.CSP and "connect-src 'self'" in web.CSP
    wallet_login(browser, net.keys["auditor"])
    for path in ("/login", "/", "/ui/deals", "/ui/documents", "/ui/flows", "/ui/fx", "/ui/risk", "/ui/treasury",
                 "/ui/pools"):
        r = browser.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert r.headers["content-security-policy"] == web.CSP
        assert r.headers["x-frame-options"] == "DENY"
        urls = re.findall(r'(?:src|href|action)="([^"]+)"', r.text)
        assert urls and all(u.startswith("/") for u in urls), (path, urls)
        assert "<script>" not in r.text and " style=" not in r.text  # no inline script or style (CSP)


def test_chart_js_is_served_from_the_pinned_npm_package(browser):
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["chart.js"]
    assert pinned == "4.6.1"
    r = browser.get("/ui/static/chart.umd.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.content == (ROOT / "node_modules/chart.js/dist/chart.umd.min.js").read_bytes()
    assert "4.6.1" in r.text[:300]
    assert browser.get("/ui/static/app.js").status_code == 200
    assert browser.get("/ui/static/..%2Fsession.py").status_code == 404
    assert browser.get("/ui/static/nothing.js").json()["detail"] == "no asset nothing.js visible to you"


def test_the_live_stream_shows_the_events_of_the_callers_deals_and_nothing_else(api, net):
    seller = Caller(net.addr("seller"), api.ctx.clients().registry.member(net.addr("seller")))
    release = {"args": {"dealId": "7", "milestone": "0", "amount": "100"}}
    assert events.visible(release, seller, {7})
    assert not events.visible(release, seller, {8})  # another deal: not the caller's
    assert events.visible({"args": {"to": net.addr("seller").lower()}}, seller, set())  # names the caller
    assert not events.visible({"args": {"to": net.addr("buyer")}}, seller, set())
