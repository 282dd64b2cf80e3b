"""The carrier's view of its events (issue 12 item 5): ``GET /events/{eventID}`` shows who signed,
the quorum, the on-chain confirmation (tx, block) or the chain's refusal with the error's name and
a sentence."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from oracle import typed_data as td
from oracle.api import create_app
from oracle.samples import transport_event
from tests.support.oracle import builders as b
from tests.support.oracle.stand_ins import FakeChain, add_signature, carrier_status, operator_on, post_event, run_until


def RevertingChain(error: str | None = None, args: dict | None = None, **kw) -> FakeChain:
    """A chain whose contract refuses every report with `error` (arguments `args`)."""
    return FakeChain(error=error, args=args or {}, **kw)


def _setup(tmp: Path, chain, name: str = "op1"):
    return operator_on(tmp, chain, name)


def test_status_shows_a_refusal_on_chain_with_its_reason(tmp_path):
    """The carrier got 202, the chain then refused the report: the carrier is told why."""
    chain = RevertingChain()
    svc, client, engine = _setup(tmp_path, chain)
    event = transport_event(when=time.time() - 600)
    digest = post_event(client, event)["digest"]
    event_time = td.struct_from_json("shipment", svc.store.report(digest).message).event_time
    # the chain's clock runs 4 days ahead of the operators': the contract refuses the report as stale
    chain.now = int(time.time()) + 4 * 86_400
    chain.error, chain.args = "StaleReport", {"observedAt": event_time, "oldestAllowed": chain.now - chain.staleness_window}
    add_signature(svc, client, digest)
    run_until(engine, svc, digest, lambda r: r.state.value == "rejected")
    assert len(chain.submissions) == 1
    answer = carrier_status(client, event["eventID"]).json()
    [record] = answer["records"]
    assert record["status"] == "attested" and record["location"] == "CNSZX"
    report = record["report"]
    assert report["quorum"]["reached"] is True and report["quorum"]["threshold"] == 2
    assert {s["operator"] for s in report["signedBy"]} == {"op1", "op2"}
    refusal = report["chain"]["refusal"]
    assert report["chain"]["status"] == "refused" and refusal["error"] == "StaleReport" and refusal["final"]
    assert refusal["arguments"]["observedAt"] == event_time
    from oracle.refusals import iso

    assert refusal["sentence"] == (f"stale: event time {iso(event_time)} is older than the 3-day window; "
                                   f"chain time {iso(chain.now)}")
    svc.store.close()


def test_status_shows_a_retried_refusal_and_then_the_confirmation(tmp_path):
    chain = RevertingChain("InsufficientSignatures", {"provided": 1, "required": 2})
    svc, client, engine = _setup(tmp_path, chain)
    event = transport_event()
    digest = post_event(client, event)["digest"]
    add_signature(svc, client, digest)
    run_until(engine, svc, digest, lambda r: r.refusal is not None)
    chain_view = carrier_status(client, event["eventID"]).json()["records"][0]["report"]["chain"]
    assert chain_view["refusal"]["error"] == "InsufficientSignatures" and not chain_view["refusal"]["final"]
    assert "retrying" in chain_view["refusal"]["sentence"]
    chain.error = None
    svc.store.update_report(digest, next_attempt_at=0)
    run_until(engine, svc, digest, lambda r: r.state.value == "confirmed")
    report = carrier_status(client, event["eventID"]).json()["records"][0]["report"]
    assert report["chain"]["status"] == "confirmed"
    assert report["chain"]["txHash"] == "0x" + "ab" * 32 and report["chain"]["blockNumber"] == chain.block
    svc.store.close()


def test_status_shows_an_event_too_old_to_submit(tmp_path):
    chain = RevertingChain(staleness_window=3600)
    svc, client, engine = _setup(tmp_path, chain)
    event = transport_event(when=time.time() - 2 * 3600)
    post_event(client, event)
    engine.tick()
    refusal = carrier_status(client, event["eventID"]).json()["records"][0]["report"]["chain"]["refusal"]
    assert refusal["error"] == "StaleReport" and "not submitted" in refusal["sentence"]
    assert "1-hour window" in refusal["sentence"] and chain.submissions == []
    svc.store.close()


def test_both_legs_of_a_transshipment_are_confirmed_each_in_its_slot(tmp_path):
    """LogisticsOracle v2 keys a confirmation on (shipment, code, location): the second ARRI of a
    B/L (another port) fills its own slot; the carrier sees both confirmed."""
    chain = RevertingChain()
    svc, client, engine = _setup(tmp_path, chain)
    first = transport_event(code="ARRI", unlocode="SGSIN", when=time.time() - 7200)
    second = transport_event(code="ARRI", unlocode="NLRTM", when=time.time() - 600)
    d1, d2 = post_event(client, first)["digest"], post_event(client, second)["digest"]
    for digest in (d1, d2):
        add_signature(svc, client, digest)
        run_until(engine, svc, digest, lambda r: r.state.value == "confirmed")
    for event, digest in ((first, d1), (second, d2)):
        report = carrier_status(client, event["eventID"]).json()["records"][0]["report"]
        assert report["chain"]["status"] == "confirmed" and report["chain"]["eventId"] == digest
    assert [s for s, _ in chain.submissions] == [svc.store.report(d1).slot, svc.store.report(d2).slot]
    svc.store.close()


def test_status_is_the_carriers_own(tmp_path):
    svc, client, _ = _setup(tmp_path, RevertingChain())
    event = transport_event()
    post_event(client, event)
    assert carrier_status(client, event["eventID"]).status_code == 200
    assert carrier_status(client, event["eventID"].upper()).status_code == 200  # a UUID in any case
    unsigned = client.get("/events/" + event["eventID"])
    assert unsigned.status_code == 401
    # a signature over another path does not open this one
    assert carrier_status(client, event["eventID"], sign_path="/events/" + str(uuid.uuid4())).status_code == 401
    assert carrier_status(client, event["eventID"], b.FX_SOURCE, b.FX_SECRET).status_code == 403
    assert carrier_status(client, str(uuid.uuid4())).status_code == 404
    svc.store.close()
    # another carrier does not see it
    doc = b.credentials()
    doc["carriers"]["pirate"] = {"member": b.CARRIER_MEMBER, "secrets": ["pirate-secret-0123456789abcdef"]}
    other = b.service_for(tmp_path / "o", credentials_doc=doc)
    oc = TestClient(create_app(other))
    post_event(oc, event)
    assert carrier_status(oc, event["eventID"], "pirate", "pirate-secret-0123456789abcdef").status_code == 404
    other.store.close()


def test_status_lists_retraction_intents(tmp_path):
    from tests.test_oracle_dcsa import beta_retraction, beta_transport

    svc, client, _ = _setup(tmp_path, RevertingChain())
    ev = beta_transport("beta-evt-1")
    post_event(client, ev)
    post_event(client, beta_retraction("beta-evt-1"))
    records = carrier_status(client, "beta-evt-1").json()["records"]
    assert [r["status"] for r in records] == ["attested", "retraction"]
    assert records[0]["report"]["chain"]["status"] == "held"
    assert records[0]["intents"][0]["kind"] == "retraction" and records[0]["intents"][0]["state"] == "pending"
    svc.store.close()
