"""Every DCSA-published example file (``tests/fixtures/dcsa``) through the operator's HTTP intake:
each event is accepted, ignored or refused exactly as ``tests/fixtures/dcsa/README.md`` says."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from oracle.api import create_app
from oracle.hmac_auth import sign_headers
from tests.support.oracle import builders as b

FIXTURES = Path(__file__).parent / "fixtures" / "dcsa"
CLOCK = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
_ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| (?P<event>[-0-9]+) \| (?P<outcome>[^|]+?) \| (?P<why>.+) \|$")


def table() -> dict[str, dict[str, str]]:
    """file -> {event index ("-" for a single event): outcome} from the README's table."""
    out: dict[str, dict[str, str]] = {}
    for line in (FIXTURES / "README.md").read_text().splitlines():
        m = _ROW.match(line)
        if m:
            out.setdefault(m["file"], {})[m["event"]] = m["outcome"]
    return out


def outcome(status: int, body: dict[str, Any]) -> str:
    if status >= 400:
        return f"{status} {body['field']}"
    if body["status"] == "accepted":
        return f"{status} accepted {body['eventCode']} at {body['location']}"
    return f"{status} {body['status']}"


def test_fixtures_are_the_published_files_and_all_are_in_the_table():
    for entry in MANIFEST:
        raw = (FIXTURES / entry["file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"], f"{entry['file']} differs from what DCSA published"
    files = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json") if p.name != "MANIFEST.json"}
    assert files == {e["file"] for e in MANIFEST} == set(table())


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_every_dcsa_example_file(tmp_path, entry):
    expected = table()[entry["file"]]
    raw = (FIXTURES / entry["file"]).read_bytes()
    svc = b.service_for(tmp_path, clock=lambda: CLOCK)
    client = TestClient(create_app(svc))
    headers = sign_headers(b.CARRIER, b.CARRIER_SECRET, raw, timestamp=int(CLOCK))
    resp = client.post("/events", content=raw, headers=headers)
    body = resp.json()
    if "results" in body:  # a batch: one outcome per event, refused ones in the problem's results
        got = {}
        for i, r in enumerate(body["results"]):
            got[str(i)] = (f"{r['httpStatus']} {r['problem']['field']}" if r["status"] == "refused"
                           else outcome(r["httpStatus"], r))
        assert got == expected, json.dumps(body, indent=1)[:3000]
        refused = [r for r in body["results"] if r["status"] == "refused"]
        assert resp.status_code == (refused[0]["httpStatus"] if refused else 200)
    else:  # one event
        assert {"-": outcome(resp.status_code, body)} == expected, body
        # the same through the single-event route
        again = b.service_for(tmp_path / "again", clock=lambda: CLOCK)
        single = TestClient(create_app(again)).post("/carrier-events", content=raw, headers=headers)
        assert outcome(single.status_code, single.json()) == expected["-"]
        again.store.close()
    if resp.status_code >= 400:
        assert resp.headers["content-type"].startswith("application/problem+json")
    accepted = sum(1 for v in expected.values() if "accepted" in v)
    assert svc.store.counts()["reports"] == ({"signed": accepted} if accepted else {})
    svc.store.close()
