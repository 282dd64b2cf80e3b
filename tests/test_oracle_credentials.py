"""Carrier and FX-source credentials (issue 12 item 4): kinds, carriers bound to active LOGISTICS
members, shipments of the carrier, rotation and revocation without a restart, and DCSA v2.2's
``Notification-Signature``."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oracle.api import create_app
from oracle.credentials import CredentialBook
from oracle.errors import ConfigError
from oracle.hmac_auth import notification_headers, notification_mac, sign_headers
from oracle.normalize import canonical_json
from oracle.samples import transport_event
from tests.support.oracle import builders as b

# DCSA TNT 2.2 `secret` example (a Base64 string that decodes to 64 bytes)
DCSA_SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDM2NTc4NjIzODk3NDY5MDgyNzM0OTg3MTIzNzg2NA=="
SUBSCRIPTION = "e8f8b1ba-5c6b-4b48-9c5f-2a4d0f4fbd11"


_refs = iter(range(10**6))


def _ev(**kw):
    """A fresh transport event of a fresh shipment (no content conflicts between posts)."""
    return transport_event(reference=f"MAEU{next(_refs):09d}", **kw)


def _client(tmp: Path, **kw):
    svc = b.service_for(tmp, **kw)
    return svc, TestClient(create_app(svc))


def _post(client, obj, source=b.CARRIER, secret=b.CARRIER_SECRET, path="/carrier-events"):
    body = canonical_json(obj)
    return client.post(path, content=body, headers=sign_headers(source, secret, body))


def _write(svc, doc) -> None:
    path = svc.settings.credentials_file
    path.write_text(json.dumps(doc))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a visibly newer file


# ----------------------------------------------------------------------------------------- members
def test_carrier_bound_to_an_inactive_member_is_refused(tmp_path):
    registry = b.FakeRegistry({b.CARRIER_MEMBER: False})
    svc, client = _client(tmp_path, registry=registry)
    resp = _post(client, transport_event())
    assert resp.status_code == 403 and "not an active LOGISTICS member" in resp.json()["detail"], resp.text
    assert svc.store.counts()["carrier_events"] == {}


def test_membership_is_cached_briefly_and_a_suspension_takes_effect(tmp_path):
    registry = b.FakeRegistry()
    svc, client = _client(tmp_path, registry=registry, member_cache_seconds=0.2, member_grace_seconds=0.6)
    assert _post(client, transport_event()).status_code == 202
    assert _post(client, transport_event(reference="MAEU240000002")).status_code == 202
    assert registry.reads == 1  # cached
    registry.active[b.CARRIER_MEMBER] = False  # governance suspended the carrier
    time.sleep(0.25)
    assert _post(client, transport_event(reference="MAEU240000003")).status_code == 403
    registry.active[b.CARRIER_MEMBER] = True
    time.sleep(0.25)
    assert _post(client, transport_event(reference="MAEU240000004")).status_code == 202
    # chain down: the last answer is trusted for the grace period, then 503 (never accepted on trust)
    registry.down = True
    time.sleep(0.25)
    assert _post(client, transport_event(reference="MAEU240000005")).status_code == 202
    time.sleep(0.5)
    resp = _post(client, transport_event(reference="MAEU240000006"))
    assert resp.status_code == 503 and "unreachable" in resp.json()["detail"]


def test_carrier_may_not_report_on_another_carriers_shipment(tmp_path):
    svc, client = _client(tmp_path, credentials_doc=b.credentials(referencePrefixes=["MAEU"]))
    assert _post(client, transport_event(reference="MAEU240012345")).status_code == 202
    other = transport_event(reference="OOLU7788990011")
    resp = _post(client, other)
    assert resp.status_code == 403, resp.text
    assert resp.json()["field"] == "documentReferences.1.documentReferenceValue"
    assert "another carrier" in resp.json()["detail"]


# ----------------------------------------------------------------------------------------- rotation
def test_rotation_and_revocation_without_restart(tmp_path):
    svc, client = _client(tmp_path, credentials_check_seconds=0.01)
    new_secret = "the-next-carrier-secret-0123456789"
    # rotation: the new secret is added, the old one stays valid for a while
    doc = b.credentials(secrets=[{"secret": b.CARRIER_SECRET, "notAfter": "2099-01-01T00:00:00Z"}, new_secret])
    _write(svc, doc)
    time.sleep(0.02)
    assert _post(client, _ev(), secret=new_secret).status_code == 202
    assert _post(client, _ev()).status_code == 202
    # the old secret expires
    doc = b.credentials(secrets=[{"secret": b.CARRIER_SECRET, "notAfter": "2020-01-01T00:00:00Z"}, new_secret])
    _write(svc, doc)
    time.sleep(0.02)
    resp = _post(client, _ev())
    assert resp.status_code == 401 and "not valid now" in resp.json()["detail"], resp.text
    assert _post(client, _ev(), secret=new_secret).status_code == 202
    # a broken file is not used: the credentials in force stay, the error is in /status
    svc.settings.credentials_file.write_text('{"carriers": {"oceanic": {"member": "nope"}}}')
    os.utime(svc.settings.credentials_file, ns=(0, time.time_ns() + 2_000_000_000))
    time.sleep(0.02)
    assert _post(client, _ev(), secret=new_secret).status_code == 202
    assert "member" in client.get("/status").json()["credentials"]["lastError"]
    # revocation: the carrier is removed
    _write(svc, {"fxSources": {b.FX_SOURCE: {"secrets": [b.FX_SECRET]}}})
    time.sleep(0.02)
    assert _post(client, _ev(), secret=new_secret).status_code == 401
    assert client.get("/status").json()["credentials"]["lastError"] is None


def test_old_flat_credential_file_is_refused_with_a_pointer(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"oceanic": "a-secret-of-sixteen-chars"}))
    with pytest.raises(ConfigError, match="old flat format"):
        CredentialBook.load(path)
    with pytest.raises(ConfigError, match="unique across"):
        CredentialBook.from_document({"carriers": {"x": {"member": b.CARRIER_MEMBER, "secrets": ["s" * 16]}},
                                      "fxSources": {"x": {"secrets": ["s" * 16]}}})
    with pytest.raises(ConfigError, match="64 bytes"):
        CredentialBook.from_document({"carriers": {"x": {"member": b.CARRIER_MEMBER, "subscriptions": [
            {"id": SUBSCRIPTION, "secrets": [{"base64": base64.b64encode(b"short").decode()}]}]}}})


@pytest.mark.slow
def test_revocation_by_sighup_on_a_running_daemon(net, tmp_path):
    from tests.support.oracle.standalone import CARRIER, CARRIER_SECRET, StandaloneOperator, credentials_document

    with StandaloneOperator(net, tmp_path / "op", credentials_check_seconds=3600) as op:
        import httpx

        body = canonical_json(transport_event(when=time.time() - 60))
        resp = httpx.post(op.url + "/carrier-events", content=body, headers=sign_headers(CARRIER, CARRIER_SECRET, body))
        assert resp.status_code == 202, resp.text
        doc = credentials_document(net.addr("carrier"))
        del doc["carriers"][CARRIER]
        op.write_credentials(doc)  # not noticed by itself for an hour...
        op.signal(signal.SIGHUP)  # ...but at once on SIGHUP
        time.sleep(0.5)
        body = canonical_json(transport_event(when=time.time() - 60))
        resp = httpx.post(op.url + "/carrier-events", content=body, headers=sign_headers(CARRIER, CARRIER_SECRET, body))
        assert resp.status_code == 401, resp.text
        assert "reloaded" in op.log_text()


# ----------------------------------------------------------------------------------------- DCSA signature
def test_dcsa_notification_signature(tmp_path):
    doc = b.credentials(subscriptions=[{"id": SUBSCRIPTION, "secrets": [{"base64": DCSA_SECRET}]}])
    svc, client = _client(tmp_path, credentials_doc=doc)
    key = base64.b64decode(DCSA_SECRET)
    assert len(key) == 64
    body = json.dumps(_ev(), indent=2).encode()  # the exact bytes, whitespace included
    resp = client.post("/carrier-events", content=body, headers=notification_headers(SUBSCRIPTION, key, body))
    assert resp.status_code == 202, resp.text
    # upper-case hex and surrounding blanks are allowed by DCSA's pattern
    other = json.dumps(_ev()).encode()
    headers = notification_headers(SUBSCRIPTION, key, other)
    headers["Notification-Signature"] = "  sha256=" + notification_mac(key, other).upper() + " "
    assert client.post("/carrier-events", content=other, headers=headers).status_code == 202
    # the Base64 text is not the key
    wrong = notification_headers(SUBSCRIPTION, DCSA_SECRET.encode(), other)
    assert client.post("/carrier-events", content=other, headers=wrong).status_code == 401
    # one byte more and the signature no longer matches
    resp = client.post("/carrier-events", content=other + b" ", headers=notification_headers(SUBSCRIPTION, key, other))
    assert resp.status_code == 401 and resp.json()["field"] == "Notification-Signature"
    unknown = notification_headers("00000000-0000-4000-8000-000000000000", key, other)
    assert client.post("/carrier-events", content=other, headers=unknown).status_code == 401
    md5 = dict(notification_headers(SUBSCRIPTION, key, other), **{"Notification-Signature": "md5=" + "0" * 32})
    assert "not supported" in client.post("/carrier-events", content=other, headers=md5).json()["detail"]
    # not a way in for FX observations
    from oracle.samples import fx_observation

    rate = canonical_json(fx_observation())
    assert client.post("/fx-rates", content=rate, headers=notification_headers(SUBSCRIPTION, key, rate)).status_code == 401


@pytest.mark.slow
def test_real_registry_decides_membership(net, tmp_path):
    """On the chain: a carrier bound to the LOGISTICS member is accepted; one bound to a BUYER
    account (a member, but not LOGISTICS) is refused, as the start-up check already logged."""
    import httpx

    from tests.support.oracle.standalone import CARRIER, CARRIER_SECRET, StandaloneOperator, credentials_document

    doc = credentials_document(net.addr("carrier"))
    doc["carriers"]["impostor"] = {"member": net.addr("buyer"), "secrets": ["impostor-secret-0123456789"]}
    with StandaloneOperator(net, tmp_path / "op", credentials=doc) as op:
        for source, secret, expected in ((CARRIER, CARRIER_SECRET, 202), ("impostor", "impostor-secret-0123456789", 403)):
            body = canonical_json(_ev(when=time.time() - 60))
            resp = httpx.post(op.url + "/carrier-events", content=body, headers=sign_headers(source, secret, body))
            assert resp.status_code == expected, resp.text
        assert "carrier impostor is bound to" in op.log_text() and "NOT an active LOGISTICS member" in op.log_text()
        assert op.healthy()


def test_feed_reads_a_sources_secret(tmp_path):
    from oracle.feed import source_secret

    (tmp_path / "one.secret").write_text("just-the-secret-0123456789\n")
    assert source_secret(tmp_path / "one.secret", "oceanic") == "just-the-secret-0123456789"
    (tmp_path / "c.json").write_text(json.dumps(b.credentials()))
    assert source_secret(tmp_path / "c.json", b.CARRIER) == b.CARRIER_SECRET
    assert source_secret(tmp_path / "c.json", b.FX_SOURCE) == b.FX_SECRET
