"""The dashboard in a real browser (Debian's chromium through Playwright) against a real node on
the session's anvil deployment, seeded with a trade per product (tests/browser/seed.py).

Each member logs in through an injected EIP-1193 wallet that signs the node's SIWE message with
its key; the tests read what a person sees: names next to addresses, amounts with currency and
thousands separators, states, ISO and local times, chart data points. After every test no
request has left loopback and no CSP rule was broken (the `browser` fixture). Screenshots of each
main page go to build/screenshots/."""

from __future__ import annotations

import re

from eth_account import Account

from chain.indexer.projections import deal_milestones
from node_api.read_model import ReadModel
from node_api.readable import display

from .seed import LIMIT, RATES, RECEIVABLE_PRINCIPAL, REFERENCE, arrive

PHONE = {"width": 390, "height": 844}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def charts(page) -> dict[str, dict]:
    """What each chart on the page draws: its labels and its datasets' points (Chart.js' own data)."""
    return page.evaluate("""Object.fromEntries(Object.entries(window.tradenetCharts).map(([id, c]) =>
        [id, {labels: c.data.labels, sets: Object.fromEntries(c.data.datasets.map(d => [d.label, d.data]))}]))""")


def released_block(node, deal_id: int, idx: int) -> int:
    rows = ReadModel(node.ctx.db).all(deal_milestones, deal_milestones.c.deal_id == deal_id,
                                      deal_milestones.c.idx == idx)
    return rows[0]["released_block"]


def row_text(page, selector: str) -> str:
    return " ".join(page.inner_text(selector).split())


# ---------------------------------------------------------------------------- per role


def test_seller_sees_its_deals_and_the_shipment_timeline_of_what_each_event_released(browser, seeded_node):
    node, s = seeded_node
    page = browser.login("seller")
    assert page.inner_text("#who-name") == "Shenzhen Bright Electronics Co., Ltd."
    assert page.inner_text("#who-roles") == "SELLER"
    assert page.inner_text("[data-count='deals']") == "5"  # receivable, order, receipt, the pool's, the L/C
    menu = page.locator("nav.menu a").all_inner_texts()
    assert menu == ["Overview", "Deals", "Invoices, POs, receipts", "Fund flows", "FX rates"]
    browser.shot(page, "seller-overview")

    page.click("nav.menu >> text=Deals")
    row = row_text(page, f"tr[data-deal='{s.receivable_deal}']")
    assert "Receivable financing" in row or "receivable financing" in row.lower()
    assert "Funded" in row and "USD 1,200,000.00" in row and "USD 480,000.00" in row
    assert "Shenzhen Bright Electronics Co., Ltd." in row and "Atlantic Trade Bank plc" in row
    for deal_id in (s.order_deal, s.receipt_deal):
        assert "Funded" in row_text(page, f"tr[data-deal='{deal_id}']")
    browser.shot(page, "seller-deals")

    page.click(f"tr[data-deal='{s.receivable_deal}'] a")
    assert page.inner_text("#bl") == REFERENCE
    assert page.inner_text("#principal") == display(RECEIVABLE_PRINCIPAL, "USD") == "USD 1,200,000.00"
    first, second = row_text(page, "tr[data-milestone='0']"), row_text(page, "tr[data-milestone='1']")
    block = released_block(node, s.receivable_deal, 0)
    assert first == f"1 Departed any transport call 40% USD 480,000.00 Released {block:,}"
    assert second == "2 Arrived any transport call 60% USD 720,000.00 Pending –"
    departed = row_text(page, "#timeline li[data-kind='event']")
    assert departed.startswith("Departed · Shenzhen, China (CNSZX) · ")
    assert f"block {block:,}" in departed
    assert f"released USD 480,000.00 (40%, milestone 1) in block {block:,}" in departed
    assert "Arrived (any transport call): USD 720,000.00 (60%) pending" in row_text(page, "#timeline li[data-kind='waiting']")
    assert "Funded by the lender" in row_text(page, "#timeline li[data-kind='funded']")
    # every time in ISO-8601 with the reader's local time next to it
    times = page.locator("#timeline time").all()
    assert times and all(ISO.fullmatch(t.inner_text()) for t in times)
    assert page.locator("#timeline .local-time").count() == len(times)
    assert "local)" in page.inner_text("#timeline .local-time >> nth=0")
    browser.shot(page, "seller-deal-timeline")

    page.click("nav.menu >> text=Invoices, POs, receipts")
    invoice = row_text(page, f"tr[data-invoice='{s.invoice_id}']")
    assert "Financed" in invoice and "USD 1,500,000.00" in invoice and "Rotterdam Retail B.V." in invoice
    assert "Financed" in row_text(page, f"tr[data-order='{s.order_id}']")
    receipt = row_text(page, f"tr[data-receipt='{s.receipt_id}']")
    assert "Copper cathode" in receipt and "USD 450,000.00" in receipt and "Port of Rotterdam Bonded Warehouse" in receipt
    assert "receipt-pledge financing module (contract)" in receipt  # pledged to the deal
    browser.shot(page, "seller-documents")


def test_buyer_sees_its_invoices_and_orders_and_its_own_fund_flows_chart(browser, seeded_node):
    _, s = seeded_node
    page = browser.login("buyer")
    page.goto("/ui/documents")
    assert "Confirmed" not in row_text(page, "#invoices tbody")  # both financed by now
    assert "Financed" in row_text(page, f"tr[data-invoice='{s.invoice_id}']")
    assert "USD 300,000.00" in row_text(page, f"tr[data-order='{s.order_id}']")
    assert "No warehouse receipt visible to you." in row_text(page, "#receipts")
    browser.shot(page, "buyer-documents")
    page.goto("/ui/flows")
    drawn = charts(page)["flows-USD"]
    assert drawn["sets"] == {"in (USD)": [2_000_000, 0], "out (USD)": [0, 50_000]}  # minted; its L/C funded
    assert len(drawn["labels"]) == 2 and all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in drawn["labels"])
    browser.shot(page, "buyer-flows")


def test_lender_portfolio_shows_exposure_against_its_limit_and_the_warning(browser, seeded_node):
    page = browser.login("lender")
    assert "USD 3,349,000.00" in page.inner_text("#balances")  # 5,000,000 - 1,730,000 lent + 79,000 from the pool
    assert "Atlantic Trade Bank plc 0xb78C..8263 Deal engine (contract)" in row_text(page, "#transfers")
    browser.shot(page, "lender-overview")
    page.click("nav.menu >> text=Portfolio")
    limit = row_text(page, "#limits tr:has-text('Rotterdam Retail B.V.')")
    assert limit == (f"Rotterdam Retail B.V. 724500ROTTERDAMRET06 USD 1,200,000.00 {display(LIMIT, 'USD')} 82.75% "
                     "USD 250,000.00")
    assert page.get_attribute("#limits tr:has-text('Rotterdam Retail B.V.') .fill", "data-bps") == "8275"
    assert page.inner_text("#book-exposure") == "USD 1,650,000.00"
    warnings = page.inner_text("#warnings")
    assert "Rotterdam Retail B.V.: exposure passed 80% of the limit (USD 1,200,000.00 of USD 1,450,000.00)" in warnings
    browser.shot(page, "lender-portfolio")

    page.click("nav.menu >> text=Fund flows")
    drawn = charts(page)["flows-USD"]
    assert drawn["sets"] == {"in (USD)": [5_000_000, 0, 79_000], "out (USD)": [1_200_000, 200_000, 330_000]}
    assert "USD 5,000,000.00" in row_text(page, "table.flows")
    browser.shot(page, "lender-flows")

    page.click("nav.menu >> text=FX rates")
    fx = charts(page)["fx-EURUSD"]
    assert fx["sets"] == {"1 EUR in USD": [float(r) for r in RATES]}
    assert all(ISO.fullmatch(label) for label in fx["labels"])
    assert "1 EUR = 1.0875 USD" in row_text(page, "#fx-latest")
    browser.shot(page, "lender-fx")


def test_treasury_sees_the_supply_per_currency_equal_to_the_chain(browser, seeded_node, net):
    page = browser.login("treasury")
    page.click("nav.menu >> text=Treasury")
    supply = net.token("USD").total_supply()
    assert row_text(page, "#supply tr[data-currency='USD'] td.num") == display(supply, "USD") == "USD 17,082,000.00"
    assert row_text(page, "#supply tr[data-currency='EUR'] td.num") == "EUR 0.00"
    assert "Deposit Atlantic Trade Bank plc" in row_text(page, "#movements")
    browser.shot(page, "treasury-supply")


def test_investor_verifies_the_pool_it_holds_notes_of(browser, seeded_node):
    _, s = seeded_node
    page = browser.login("investor")
    page.click("nav.menu >> text=Pools")
    assert "Dashboard Receivables 2026-1 Amortising Lisbon Factoring S.A." in row_text(page, f"tr[data-pool='{s.pool_id}']")
    browser.shot(page, "investor-pools")
    page.click(f"tr[data-pool='{s.pool_id}'] a")
    assert page.inner_text("#verdict") == "VERIFIED"
    assert page.inner_text("#assets-checked") == "1 (0 with findings)"
    assert "ok ok" in row_text(page, "#asset-checks tbody")
    notes = row_text(page, "#my-notes")
    assert "Senior: USD 60,000.00" in notes and "Junior: USD 22,000.00" in notes
    browser.shot(page, "investor-pool-verification")


def test_auditor_sees_the_heat_map_warnings_and_the_network_flows(browser, seeded_node):
    page = browser.login("auditor")
    assert page.locator("nav.menu a").all_inner_texts() == [
        "Overview", "Deals", "Invoices, POs, receipts", "Fund flows", "FX rates", "Risk", "Treasury", "Pools"]
    page.click("nav.menu >> text=Risk")
    row = page.locator("#heatmap tbody tr:has-text('Rotterdam Retail B.V.')")
    cell = row.locator("td").first
    assert " ".join(cell.inner_text().split()) == "82.75% USD 1,200,000.00 of USD 1,450,000.00"
    assert "heat-3" in cell.get_attribute("class") and cell.get_attribute("data-bps") == "8275"
    assert "Atlantic Trade Bank plc" in page.inner_text("#heatmap thead")
    assert "exposure passed 80% of the limit" in page.inner_text("#warnings")
    browser.shot(page, "auditor-risk")
    page.click("nav.menu >> text=Fund flows")
    assert charts(page)["flows-USD"]["sets"]["minted (USD)"] == [7_000_000, 0, 10_082_000]
    browser.shot(page, "auditor-flows")


def test_an_admin_operator_sees_the_risk_page(browser, seeded_node):
    page = browser.login("admin_a")
    page.goto("/ui/risk")
    assert "82.75%" in page.inner_text("#heatmap")
    browser.shot(page, "operator-risk")


# ---------------------------------------------------------------------------- login and refusals


def test_a_wrong_signature_is_refused_with_a_readable_error_and_no_session(browser, seeded_node, net):
    page = browser.page("seller", signer=net.keys["buyer"])  # the wallet signs with another key
    page.goto("/login")
    page.click("#wallet-login")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "Login refused: signature was not made by the message's address"
    browser.shot(page, "login-refused")
    assert page.context.cookies() == []
    assert page.goto("/").url.endswith("/login?next=/")


def test_a_key_that_is_no_member_is_refused_by_name(browser, seeded_node):
    stranger = Account.create()
    browser.keys["stranger"] = stranger
    page = browser.page("stranger")
    page.goto("/login")
    page.click("#wallet-login")
    page.locator("#login-error").wait_for(state="visible")
    assert page.inner_text("#login-error") == f"Login refused: {stranger.address} is not a member of the network"


def test_without_a_wallet_the_login_page_says_so(browser, seeded_node):
    page = browser.page()
    page.goto("/login")
    page.click("#wallet-login")
    assert page.inner_text("#login-error").startswith("No browser wallet found")


def test_pages_need_a_session_and_say_which_role_they_need(browser, seeded_node):
    _, s = seeded_node
    anonymous = browser.page()
    anonymous.goto("/ui/portfolio")
    assert anonymous.url.endswith("/login?next=/ui/portfolio")

    page = browser.login("seller")
    answer = page.goto("/ui/portfolio")
    assert answer.status == 403
    assert page.inner_text("#problem-detail") == f"this needs the LENDER role; {browser.keys['seller'].address} holds SELLER"
    browser.shot(page, "refused-role")
    assert page.goto("/ui/risk").status == 403
    assert "this needs the ADMIN/AUDITOR role" in page.inner_text("#problem-detail")
    assert page.goto("/ui/treasury").status == 403
    assert "this needs the TREASURY/AUDITOR role" in page.inner_text("#problem-detail")

    buyer = browser.login("buyer")
    assert buyer.goto(f"/ui/deals/{s.receipt_deal}").status == 404  # not a party: its existence does not leak
    assert buyer.inner_text("#problem-detail") == f"no deal {s.receipt_deal} visible to you"
    assert buyer.goto(f"/ui/pools/{s.pool_id}").status == 403  # verification is for investors, lenders, auditors
    assert "INVESTOR/AUDITOR/LENDER" in buyer.inner_text("#problem-detail")


def test_the_demo_key_picker_logs_in_with_a_custodial_key_and_logout_ends_the_session(browser, seeded_node):
    page = browser.page()
    page.goto("/login")
    browser.shot(page, "login")
    page.click("button.demo-key:has-text('Atlantic Trade Bank plc')")
    page.wait_for_url(browser.base_url + "/")
    assert page.inner_text("#who-name") == "Atlantic Trade Bank plc"
    page.click("text=Log out")
    page.wait_for_url(re.compile(r".*/login$"))
    assert page.goto("/ui/deals").url.endswith("/login?next=/ui/deals")


# ---------------------------------------------------------------------------- phone width and live updates


def test_every_main_page_fits_a_390px_phone(browser, seeded_node):
    _, s = seeded_node
    for who, paths in {"seller": ["/", "/ui/deals", f"/ui/deals/{s.receivable_deal}", "/ui/documents"],
                       "lender": ["/ui/portfolio", "/ui/flows", "/ui/fx"], "auditor": ["/ui/risk", "/ui/treasury"],
                       "investor": [f"/ui/pools/{s.pool_id}"]}.items():
        page = browser.login(who, width=PHONE["width"], height=PHONE["height"])
        for path in paths:
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{who} {path}: the page is {width}px wide on a 390px phone"
            assert page.locator("nav.menu").is_visible()
            browser.shot(page, f"phone-{who}{path.replace('/', '-').rstrip('-') or '-overview'}")


def test_a_confirmed_arrival_shows_on_the_open_deal_page_without_reloading(browser, seeded_node, net):
    node, s = seeded_node
    page = browser.login("seller")
    page.goto(f"/ui/deals/{s.receivable_deal}")
    page.locator("#live-status[data-state='open']").wait_for()
    page.evaluate("window.notReloaded = true")
    arrive(net, s)
    page.locator("tr[data-milestone='1']:has-text('Released')").wait_for(timeout=20_000)
    assert page.evaluate("window.notReloaded") is True  # updated in place from the event stream
    block = released_block(node, s.receivable_deal, 1)
    assert row_text(page, "tr[data-milestone='1']") == f"2 Arrived any transport call 60% USD 720,000.00 Released {block:,}"
    assert page.inner_text("#released") == "USD 1,200,000.00"
    assert "MilestoneReleased" in page.inner_text("#live-feed")
    browser.shot(page, "seller-deal-live-update")


def test_the_seller_sees_the_documentary_credit_and_what_it_presented(browser, seeded_node):
    _, s = seeded_node
    page = browser.login("seller")
    page.goto(f"/ui/deals/{s.credit_deal}")
    assert page.inner_text("#credit h2") == "Documentary credit: 1 of 3 documents complying"
    assert "Rotterdam Retail B.V." in page.inner_text("#credit")  # the applicant, by name
    assert "Complying" in row_text(page, "#credit-documents tr[data-doc='BLAD']")
    assert "not yet" in row_text(page, "#credit-documents tr[data-doc='CINV']")
    assert page.inner_text("#principal") == "USD 50,000.00"
    assert "Arrived Rotterdam, Netherlands (NLRTM) 100% USD 50,000.00 Pending" in row_text(page, "tr[data-milestone='0']")
    browser.shot(page, "seller-documentary-credit")
