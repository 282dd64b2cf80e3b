"""Prometheus metrics of an operator (issue 14 item 4, operator part): ``GET /metrics`` counts
requests by route and status with latencies, carrier events by outcome, signatures, time to
quorum and to confirmation, submissions, the chain head; it needs no credential and answers
loopback clients only (``metrics.allow_from``)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from oracle.api import create_app
from oracle.errors import ConfigError
from oracle.samples import transport_event
from oracle.settings import load_settings
from oracle.store import State
from tests.support.oracle import builders as b
from tests.support.oracle.stand_ins import FakeChain, add_signature, operator_on, post_event, run_until


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: dict, name: str, **labels: str) -> float | None:
    return metrics.get((name, tuple(sorted(labels.items()))))


def test_metrics_follow_an_event_from_the_carrier_to_the_chain(tmp_path):
    chain = FakeChain()
    svc, client, engine = operator_on(tmp_path, chain)
    digest = post_event(client, transport_event(when=time.time() - 60))["digest"]
    post_event(client, transport_event(classifier="PLN"), expect=200)  # planned: ignored
    post_event(client, {"eventID": "not-an-event"}, expect=422)
    add_signature(svc, client, digest, "op2")
    assert run_until(engine, svc, digest, lambda r: r.state == State.CONFIRMED).state == State.CONFIRMED
    engine.tick()  # the head after the report's block
    client.get("/nowhere")
    m = samples(client)
    p = "tradenet_oracle_"
    assert value(m, p + "http_requests_total", route="/carrier-events", method="POST", status="202") == 1
    assert value(m, p + "http_requests_total", route="/carrier-events", method="POST", status="422") == 1
    assert value(m, p + "http_requests_total", route="/signatures", method="POST", status="200") == 1
    assert value(m, p + "http_requests_total", route="other", method="GET", status="404") == 1  # no raw paths
    assert value(m, p + "http_request_duration_seconds_count", route="/carrier-events", method="POST") == 3
    for state, n in (("accepted", 1), ("ignored", 1), ("refused", 1), ("confirmed", 1)):
        assert value(m, p + "carrier_events_total", state=state) == n, state
    assert value(m, p + "signatures_received_total", kind="shipment", result="stored") == 1
    assert value(m, p + "signatures_sent_total", peer="op2", result="failed") >= 1  # the peers are down
    assert value(m, p + "quorum_seconds_count", kind="shipment") == 1
    assert value(m, p + "confirmation_seconds_count", kind="shipment") == 1
    assert value(m, p + "submissions_total", kind="shipment", result="mined") == 1
    assert value(m, p + "reports", kind="shipment", state="confirmed") == 1
    assert value(m, p + "submissions_pending", kind="shipment") is None
    assert value(m, p + "deliveries_pending", peer="op3") == 1
    assert value(m, p + "chain_head_block") == chain.block and value(m, p + "chain_head_timestamp_seconds") == chain.now
    assert value(m, p + "chain_reachable") == 1
    svc.store.close()


def test_metrics_answer_loopback_clients_only_unless_allowed(tmp_path):
    svc, _, _ = operator_on(tmp_path, FakeChain())
    app = create_app(svc)
    remote = TestClient(app, client=("10.1.2.3", 5000))
    resp = remote.get("/metrics")
    assert resp.status_code == 403 and "metrics.allow_from" in resp.json()["detail"]
    assert TestClient(app, client=("::1", 5000)).get("/metrics").status_code == 200
    svc.store.close()
    allowed, _, _ = operator_on(tmp_path / "a", FakeChain(), metrics={"allow_from": ["10.0.0.0/8"]})
    assert TestClient(create_app(allowed), client=("10.1.2.3", 5000)).get("/metrics").status_code == 200
    allowed.store.close()
    off, _, _ = operator_on(tmp_path / "off", FakeChain(), metrics={"enabled": False})
    assert TestClient(create_app(off), client=("127.0.0.1", 5000)).get("/metrics").status_code == 404
    off.store.close()


def test_metrics_settings_refuse_a_bad_network(tmp_path):
    import json

    cfg = tmp_path / "op.json"
    b.write_secrets(tmp_path / "s.json")
    cfg.write_text(json.dumps({"name": "op1", "listen": {"port": 9999}, "db_path": "op1.db",
                               "key": {"keystore_dir": "ks", "name": "op1"},
                               "chain": {"rpc_url": "http://127.0.0.1:8545", "logistics_oracle": b.ORACLE_ADDRESS},
                               "credentials_file": "s.json", "metrics": {"allow_from": ["everyone"]}}))
    with pytest.raises(ConfigError, match="metrics.allow_from"):
        load_settings(cfg)
