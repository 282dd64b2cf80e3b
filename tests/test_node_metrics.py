"""Prometheus metrics of the node API (issue 14 item 4, node part): ``GET /metrics`` counts requests
by route template and status with latencies, and reads the chain head, the indexer's head and
lag, the submission pipeline's pending and finished transactions and the oracle events in the
read model; it needs no credential and answers loopback clients only (``metrics_allow_from``)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from node_api.app import create_app
from node_api.settings import NodeSettings
from chain.clients import Notify
from tests.support import deals
from tests.support.api import make_api

P = "tradenet_node_"
LOOPBACK = ("127.0.0.1", 50_000)


def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(resp.text):  # the text parses
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: dict, name: str, **labels: str) -> float | None:
    return m.get((P + name, tuple(sorted(labels.items()))))


@pytest.fixture
def api(net, tmp_path):
    return make_api(net, tmp_path)


def test_metrics_count_requests_by_route_template_and_read_the_chain_and_the_indexer(api, net):
    scraper = TestClient(api.client.app, client=LOOPBACK)
    headers = api.login("seller")
    assert api.client.get("/invoices", headers=headers).status_code == 200
    assert api.client.get("/invoices", headers=headers).status_code == 200
    assert api.client.get("/invoices/12345", headers=headers).status_code == 404
    assert api.client.get("/no/such/path").status_code == 404
    assert api.client.post("/invoices", content=b"x" * 100_000, headers={**headers, "content-type": "application/json"}
                           ).status_code == 413  # the body guard's refusal is counted too
    m = scrape(scraper)
    assert value(m, "http_requests_total", route="/invoices", method="GET", status="200") == 2
    # the second list answer was the kept one (node_api.answers): nothing was indexed in between
    assert value(m, "answer_cache_lookups_total", result="miss") == 1
    assert value(m, "answer_cache_lookups_total", result="hit") == 1 and value(m, "answer_cache_bytes") > 0
    assert value(m, "http_requests_total", route="/invoices/{invoice_id}", method="GET", status="404") == 1
    assert value(m, "http_requests_total", route="other", method="GET", status="404") == 1  # never the raw path
    assert value(m, "http_requests_total", route="/invoices", method="POST", status="413") == 1
    assert value(m, "http_requests_total", route="/auth/login", method="POST", status="200") == 1
    assert value(m, "http_request_duration_seconds_count", route="/invoices", method="GET") == 2
    head = net.w3.eth.block_number
    assert value(m, "chain_head_block") == head and value(m, "chain_reachable") == 1
    assert value(m, "chain_head_timestamp_seconds") == net.w3.eth.get_block(head)["timestamp"]
    api.sync()
    m = scrape(scraper)
    assert value(m, "indexer_head_block") == head and value(m, "indexer_lag_blocks") == 0
    assert value(m, "transactions_pending") == 0 and value(m, "async_writes_running") == 0
    assert value(m, "http_requests_total", route="/metrics", method="GET", status="200") == 1  # the first scrape (this one counts once answered)


def test_metrics_count_the_pipelines_transactions_and_the_indexer_lag(api, net):
    scraper = TestClient(api.client.app, client=LOOPBACK)
    api.sync()
    m = scrape(scraper)
    mined = value(m, "transactions_total", outcome="mined") or 0
    headers = api.login("seller")
    body = {"buyer": net.addr("buyer"), "invoice_number": "MET-INV-1", "face_value": {"currency": "USD", "minor": 5_000_00},
            "issue_date": net.now(), "due_date": net.now() + 60 * 86_400, "document_hash": "0x" + "cd" * 32,
            "document_cid": "bafkreimetrics"}
    r = api.client.post("/invoices", json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    m = scrape(scraper)
    assert value(m, "transactions_total", outcome="mined") == mined + 1  # the node's own mint, through the pipeline
    assert value(m, "indexer_lag_blocks") >= 1  # not yet indexed
    assert value(m, "http_requests_total", route="/invoices", method="POST", status=str(r.status_code)) == 1
    api.sync()
    m = scrape(scraper)
    assert value(m, "indexer_lag_blocks") == 0


def test_metrics_count_oracle_events_by_status_and_failed_notifications(api, net):
    scraper = TestClient(api.client.app, client=LOOPBACK)
    assert value(scrape(scraper), "oracle_events", status="Confirmed") is None
    assert value(scrape(scraper), "oracle_listener_failures") == 0
    first, second = deals.event(net, "MET-BL-1"), deals.event(net, "MET-BL-2", "ARRI", "NLRTM")
    deals.confirm(net, first, notify=[Notify(net.addr("buyer"), 7)])  # not an escrow: ListenerFailed
    deals.confirm(net, second)
    deals.retract(net, second)
    api.sync()
    m = scrape(scraper)
    assert value(m, "oracle_events", status="Confirmed") == 1
    assert value(m, "oracle_events", status="Retracted") == 1
    assert value(m, "oracle_listener_failures") == 1


def test_metrics_answer_loopback_clients_only_unless_allowed(api, tmp_path):
    app = api.client.app
    remote = TestClient(app, client=("10.1.2.3", 5000))
    resp = remote.get("/metrics")
    assert resp.status_code == 403 and "metrics_allow_from" in resp.json()["detail"]
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert TestClient(app, client=("::1", 5000)).get("/metrics").status_code == 200
    assert api.client.get("/metrics").status_code == 403  # the test client's host is no address
    settings = api.ctx.settings
    opened = api.ctx.__class__(**{**api.ctx.__dict__, "settings": settings.model_copy(
        update={"metrics_allow_from": ("10.0.0.0/8",)})})
    assert TestClient(create_app(opened), client=("10.1.2.3", 5000)).get("/metrics").status_code == 200
    off = api.ctx.__class__(**{**api.ctx.__dict__, "settings": settings.model_copy(update={"metrics_enabled": False})})
    assert TestClient(create_app(off), client=LOOPBACK).get("/metrics").status_code == 404


def test_metrics_settings_read_networks_from_the_environment_and_refuse_a_bad_one(tmp_path):
    env = {"TRADENET_METRICS_ALLOW_FROM": "127.0.0.0/8, 10.0.0.0/8", "TRADENET_DEPLOYMENT_FILE": str(tmp_path / "d.json")}
    s = NodeSettings.from_env(env)
    assert s.metrics_allow_from == ("127.0.0.0/8", "10.0.0.0/8") and len(s.metrics_networks()) == 2
    with pytest.raises(ValidationError, match="everyone"):
        NodeSettings.from_env({**env, "TRADENET_METRICS_ALLOW_FROM": "everyone"})


def test_metrics_count_the_asynchronous_writes_running(api, net):
    scraper = TestClient(api.client.app, client=LOOPBACK)
    store = api.client.app.state.operations
    op = store.open(net.addr("seller"), "POST", "/invoices")  # as a write still on its way to its block
    assert value(scrape(scraper), "async_writes_running") == 1
    store.finish(op, "succeeded", 201, {})
    assert value(scrape(scraper), "async_writes_running") == 0
