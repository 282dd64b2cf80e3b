"""End to end: three real operator processes (``python -m oracle.daemon``) exchange signatures
over HTTP and report to the deployed LogisticsOracle / FxRateStore on the session anvil (k = 2).

Each test starts its own operators (fresh databases) and the chain is reverted after it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from oracle.normalize import evidence_hash
from oracle.samples import fx_observation, iso, transport_event
from tests.support.oracle.harness import carrier_for, cluster, fx_source_for, wait_for  # noqa: F401 (fixture)
from tests.support.oracle.onchain import confirmed, oracle, oracle_logs, post_all, selector, submissions

pytestmark = pytest.mark.slow


def confirmed_logs(net, from_block: int) -> list[dict[str, Any]]:
    return oracle_logs(net, "EventConfirmed", from_block)


def assert_one_submission_per_event(net, cluster, expected_events: int) -> list[dict[str, Any]]:
    logs = confirmed_logs(net, cluster.from_block)
    subs = submissions(net, net.deployment.logistics_oracle, selector(oracle(net), "submitReport"), cluster.from_block)
    assert len(logs) == expected_events, logs
    assert len({log_["eventId"] for log_ in logs}) == expected_events
    assert len(subs) == expected_events, f"double submission: {subs}"
    assert all(s["status"] == 1 for s in subs), subs
    return logs


# ------------------------------------------------------------------------------------------- tests
def test_normal_confirmation_and_fx_rate(net, cluster):
    cluster.start()
    ops = list(cluster.ops.values())
    event = transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), code="DEPA", unlocode="CNSZX",
                            when=time.time() - 60)
    answers = post_all(ops, event)
    assert [a.status_code for a in answers] == [202, 202, 202], [a.text for a in answers]
    digests = {a.json()["digest"] for a in answers}
    assert len(digests) == 1, "operators must derive the same struct from the same event"
    digest = digests.pop()

    event_id = wait_for(lambda: confirmed(net, event), 20, what="on-chain confirmation")
    assert "0x" + event_id.hex() == digest  # eventId is the EIP-712 digest the operators signed

    logs = assert_one_submission_per_event(net, cluster, 1)
    log_ = logs[0]
    assert log_["evidenceHash"] == evidence_hash(event)
    assert log_["location"] == b"CNSZX" and log_["eventCode"] == b"DEPA"
    assert len(log_["signers"]) == 2 and set(log_["signers"]) <= {net.addr(n) for n in cluster.names}

    # every operator learns the confirmation; exactly one of them submitted
    wait_for(lambda: all(op.report_states().get(digest) == "confirmed" for op in ops), 15,
             what="all operators to mark the report confirmed")
    statuses = [op.status() for op in ops]
    assert sum(s["counts"]["submissions"] for s in statuses) == 1
    assert all(s["conflicts"] == [] for s in statuses)
    assert all(s["operatorSets"]["shipment"]["threshold"] == 2 for s in statuses)

    # the FX feed through the same machinery
    obs = fx_observation(base="EUR", quote="USD", rate="1.08250000", observed=time.time() - 20)
    for op in ops:
        client = fx_source_for(op)  # FX observations come from an FX source, never from a carrier
        resp = client.post_rate(obs)
        client.close()
        assert resp.status_code == 202, resp.text
    store = net.deployment.clients(net.chain).fx
    rate = wait_for(lambda: _latest(store), 20, what="FX rate on chain")
    assert rate == (108_250_000, obs["observedAt"])
    assert len(submissions(net, net.deployment.fx_rate_store, selector(store, "submitRate"), cluster.from_block)) == 1


def _latest(store) -> tuple[int, int] | None:
    from chain import errors

    try:
        return store.latest_rate("EUR", "USD")
    except errors.RateUnavailable:
        return None


def test_one_operator_down_the_other_two_still_confirm(net, cluster):
    from oracle import typed_data as td
    from oracle.leader import rotation
    from oracle.normalize import normalize_carrier_event

    down = "oracle_3"
    domain = td.logistics_domain(net.w3.eth.chain_id, net.deployment.logistics_oracle)
    operators = [net.addr(n) for n in cluster.names]
    while True:  # an event whose leader is the operator that is down: the fallback path must act
        event = transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), code="ARRI", unlocode="NLRTM",
                                when=time.time() - 60)
        digest = "0x" + td.digest(normalize_carrier_event(event).struct, domain).hex()
        if rotation(digest, operators)[0] == net.addr(down):
            break
    live = [cluster[n] for n in cluster.names if n != down]
    cluster.start([op.name for op in live])
    answers = post_all(live, event)
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json()["digest"] == digest

    wait_for(lambda: confirmed(net, event), 25, what="confirmation by the two live operators")
    assert_one_submission_per_event(net, cluster, 1)
    assert "fallback" in live[0].log_text() + live[1].log_text()
    # the down operator's deliveries are pending, not lost
    assert all(op.status()["peers"][down]["pending"] >= 1 for op in live)


def test_operator_signing_a_different_event_blocks_confirmation(net, cluster):
    cluster.start()
    op1, op2, op3 = (cluster[n] for n in cluster.names)
    ref = "OCLU" + uuid.uuid4().hex[:10].upper()
    honest = transport_event(reference=ref, code="DEPA", unlocode="CNSZX", when=time.time() - 90)
    # the same slot (shipment, DEPA, CNSZX) with another time: a second content for one subject
    lie = dict(honest, eventID=str(uuid.uuid4()), eventDateTime=iso(time.time() - 150))
    c1, c2 = carrier_for(op1), carrier_for(op2)
    d_honest = c1.post_event(honest).json()["digest"]
    d_lie = c2.post_event(lie).json()["digest"]
    c1.close(), c2.close()
    assert d_honest != d_lie

    def conflict_seen(op) -> bool:
        return any({c["held_digest"], c["other_digest"]} == {d_honest, d_lie} for c in op.status()["conflicts"])

    wait_for(lambda: conflict_seen(op1) and conflict_seen(op2), 15, what="conflict in both operators' status")
    time.sleep(3)  # more than a leader timeout: nobody may release without k agreeing signatures
    assert confirmed(net, honest) is None
    assert confirmed_logs(net, cluster.from_block) == []
    assert submissions(net, net.deployment.logistics_oracle, selector(oracle(net), "submitReport"),
                       cluster.from_block) == []
    warning = [line for line in op1.log_text().splitlines() if "WARNING" in line and "CONFLICT" in line]
    assert any(d_honest in line and d_lie in line for line in warning), op1.log_tail()
    st1 = op1.status()
    assert st1["reports"][0]["conflicted"] is True and st1["reports"][0]["state"] == "signed"

    # the third operator saw the honest event: 2 of 3 agree, the honest content is confirmed,
    # and the operator that signed the other content sees the chain decided against it
    c3 = carrier_for(op3)
    assert c3.post_event(honest).status_code == 202
    c3.close()
    event_id = wait_for(lambda: confirmed(net, honest), 20, what="confirmation of the agreed content")
    assert "0x" + event_id.hex() == d_honest
    wait_for(lambda: op2.report_states().get(d_lie) == "conflict", 15, what="liar's report marked conflict")
    assert_one_submission_per_event(net, cluster, 1)


def test_operator_killed_and_restarted_mid_stream(net, cluster):
    cluster.start()
    op1, op2, op3 = (cluster[n] for n in cluster.names)
    now = time.time()
    events = [transport_event(reference=f"OCLU{uuid.uuid4().hex[:10].upper()}", code=code, unlocode=loc,
                              when=now - 300 + i)
              for i, (code, loc) in enumerate([("DEPA", "CNSZX"), ("ARRI", "SGSIN"), ("DEPA", "SGSIN"),
                                               ("ARRI", "NLRTM"), ("DEPA", "NLRTM"), ("ARRI", "DEHAM")])]
    clients = {op.name: carrier_for(op) for op in (op1, op2, op3)}
    for ev in events[:3]:
        for op in (op1, op2, op3):
            assert clients[op.name].post_event(ev).status_code == 202
    op2.kill()  # crash mid-stream, whatever it was doing
    for ev in events[3:]:
        for op in (op1, op3):
            assert clients[op.name].post_event(ev).status_code == 202
    op2.start()
    op2.wait_ready()
    for ev in events:  # the carrier retries everything that failed (or re-sends everything)
        resp = clients["oracle_2"].post_event(ev)
        assert resp.status_code in (200, 202), resp.text
        assert resp.json()["status"] in ("accepted", "duplicate")
    for c in clients.values():
        c.close()

    wait_for(lambda: all(confirmed(net, ev) for ev in events), 30, what="all six events confirmed")
    assert_one_submission_per_event(net, cluster, len(events))
    wait_for(lambda: sum(s == "confirmed" for s in op2.report_states().values()) == len(events), 45,
             what="the restarted operator to see all events confirmed")
    assert sum(op.status()["counts"]["submissions"] for op in (op1, op2, op3)) == len(events)
    assert all(op.status()["conflicts"] == [] for op in (op1, op2, op3))
    assert op2.starts == 2 and op2.status()["counts"]["reports"] == {"confirmed": len(events)}


def test_malformed_unsigned_and_replayed_posts_are_rejected(net, cluster):
    cluster.start(["oracle_1"])
    op = cluster["oracle_1"]
    client = carrier_for(op)
    event = transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), when=time.time() - 60)

    unsigned = client.post_event(event, sign=False)
    assert unsigned.status_code == 401 and unsigned.json()["field"] == "X-Tradenet-Signature"
    bad = carrier_for(op, secret="wrong-secret-wrong-secret-0000").post_event(event)
    assert bad.status_code == 401 and "does not match" in bad.json()["detail"]
    expired = client.post_event(event, timestamp=int(time.time()) - 3600)
    assert expired.status_code == 401 and expired.json()["field"] == "X-Tradenet-Timestamp"

    malformed = client.post("/carrier-events", b'{"eventID": ')
    assert malformed.status_code == 400 and malformed.headers["content-type"] == "application/problem+json"
    invalid = client.post_event({**event, "transportCall": {**event["transportCall"],
                                                            "location": {"UNLocationCode": "Rotterdam"}}})
    body = invalid.json()
    assert invalid.status_code == 422 and body["field"] == "transportCall.location.UNLocationCode"
    assert {"type", "title", "status", "detail"} <= body.keys()

    first = client.post_event(event)
    assert first.status_code == 202
    replay = client.post_event(event)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    changed = client.post_event({**event, "eventCreatedDateTime": event["eventDateTime"]})
    assert changed.status_code == 409 and changed.json()["field"] == "eventID"
    client.close()

    status = op.status()
    assert status["counts"]["carrier_events"] == {"attested": 1}
    assert status["counts"]["reports"] == {"signed": 1}


def test_carrier_sees_the_confirmation_and_the_chains_refusal(net, cluster):
    """GET /events/{eventID} on every operator: a confirmed event with its transaction and block,
    and a report the chain refused (the chain's clock is 4 days ahead: stale), with the error's
    name and a sentence. Before, the carrier got 202 for both and never heard again."""
    cluster.start()
    ops = list(cluster.ops.values())
    good = transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), code="DEPA", unlocode="CNSZX",
                           when=time.time() - 60)
    assert [a.status_code for a in post_all(ops, good)] == [202, 202, 202]
    wait_for(lambda: confirmed(net, good), 20, what="on-chain confirmation")

    def view(op, event):
        client = carrier_for(op)
        try:
            resp = client.event_status(event["eventID"])
        finally:
            client.close()
        assert resp.status_code == 200, resp.text
        return resp.json()["records"][0]["report"]

    def confirmed_everywhere():
        return all(view(op, good)["chain"].get("blockNumber") for op in ops)

    wait_for(confirmed_everywhere, 20, what="every operator to show the confirming transaction")
    receipt = net.w3.eth.get_transaction_receipt(view(ops[0], good)["chain"]["txHash"])
    assert all(view(op, good)["chain"]["blockNumber"] == receipt["blockNumber"] for op in ops)
    assert len(view(ops[0], good)["signedBy"]) >= 2

    net.advance_time(4 * 86_400)
    late = transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), code="ARRI", unlocode="NLRTM",
                           when=time.time() - 60)
    assert [a.status_code for a in post_all(ops, late)] == [202, 202, 202]

    def refused_somewhere():
        return [view(op, late)["chain"] for op in ops if view(op, late)["chain"]["status"] == "refused"]

    chain = wait_for(refused_somewhere, 30, what="the chain's refusal in the carrier's status")[0]
    assert chain["refusal"]["error"] == "StaleReport" and chain["refusal"]["final"] is True
    sentence = chain["refusal"]["sentence"]
    assert sentence.startswith("stale: event time ") and "older than the 3-day window; chain time " in sentence
    assert confirmed(net, late) is None
