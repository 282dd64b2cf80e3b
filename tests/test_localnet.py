"""`tradenet up` leaves a live local network: the demo plays (main trade through the node API,
then every product), chain time is wall time, a NEW trade made only over HTTP (node API +
the oracle operators' carrier endpoint) completes with its releases, the printed commands work
as printed, SIGTERM stops every process it started, a taken port is refused by number, and an
unreachable node is one line from the CLI."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from chain.anvil import free_port
from chain.client import Chain
from chain.clients import shipment_id
from chain.deployment import Deployment
from chain.settings import PROJECT_ROOT
from oracle.feed import CarrierClient
from oracle.samples import transport_event
from tests.support.localnet import Up, alive, command_line, descendants
from tradenet.localnet import demo_keystore
from tradenet.node_client import NodeClient

DAY = 86_400


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    up = Up(tmp_path_factory.mktemp("up"))
    try:
        up.wait_ready()
        yield up
    finally:
        if up.proc.poll() is None:
            up.terminate()
        up.kill()


def _clock_ok(node: NodeClient) -> dict:
    h = node.health()
    assert abs(h["chain_time"] - time.time()) <= 3, h  # a block per second: within a block or two
    assert abs(h["clock_skew_seconds"]) <= 3, h
    return h


def test_the_demo_plays_every_product_and_ends_at_wall_time(demo):
    text = demo.text
    for words in ("played through the node API over HTTP", "confirmed the debt", "DuplicateInvoice",
                  "pledged receipt #1", "a report needs 2 of 3 signatures",
                  "vessel departed Shenzhen (CNSZX)", "released USD 400,000.00",
                  "vessel arrived in Rotterdam (NLRTM)", "released USD 600,000.00",
                  "USD 1,018,750.00 (principal + fee)", "USD 231,250.00 (the remainder)",
                  "no money created or lost", "the deal is closed",
                  # one short run of each other product
                  "Two banks offered", "Order financing", "Receipt-pledge financing", "Documentary payment",
                  "T/T:", "Multi-tier transfer", "FX-locked settlement", "Treasury:", "Risk rules:",
                  "VERIFIED",
                  # the default story on a throw-away chain, whose clock alone is moved
                  "The default story, on a separate throw-away chain", "the grace period is still running",
                  "declared the default and the pledged receipt #1 was transferred to Atlantic Trade Bank plc"):
        assert words in text, words
    # chain time is wall time: the block seen at the end is at most a block (and the time to see it) behind
    # (printed with its fraction: a whole-second skew read "0 s" or "-1 s" by where the second turned; seen in CI)
    skew = float(re.search(r"\(skew ([+-]\d+\.\d) s\)", text).group(1))
    assert abs(skew) <= 2.0, skew
    assert "MISMATCH" not in text and "Traceback" not in text and ".." not in text.replace("...", "")
    # names next to addresses, ISO dates, the clock every report uses
    assert re.search(r"Shenzhen Bright Electronics Co\., Ltd\. \(0x[0-9a-fA-F]{8}\.\.\.\)", text)
    assert re.search(r"due \d{4}-\d{2}-\d{2} \(chain time", text) and "Balances at chain time" in text
    assert f"oracle operators are up" in text.lower() and all(f"127.0.0.1:{p}" in text for p in demo.ports.oracles)
    assert (demo.home / "deployments" / "local.json").exists()
    assert len(list((demo.home / "keystore").glob("*.json"))) >= 16
    for private in (demo.home / "keystore.password", demo.home / "carrier" / "oceanic.secret"):
        assert oct(private.stat().st_mode & 0o777) == "0o600", private
    _clock_ok(NodeClient(demo.api))
    # what stays running: one anvil (the throw-away chain is stopped) and the three operator daemons
    commands = [command_line(p) for p in descendants(demo.proc.pid)]
    assert sum("anvil" in c.split(" ")[0] for c in commands) == 1, commands
    assert sum("oracle.daemon" in c for c in commands) == 3, commands


def test_a_new_trade_through_the_api_only_after_the_demo(demo):
    ks, password = demo_keystore(demo.home)
    key = {k: ks.load(k, password) for k in ("seller", "buyer", "lender")}
    node = NodeClient(demo.api)
    seller, buyer, lender = (node.login(key[k]) for k in ("seller", "buyer", "lender"))
    now = _clock_ok(node)["chain_time"]
    bl = "OOLU-BL-TEST-0777"
    doc = seller.post("/documents", content=b"Commercial invoice INV-TEST-0777: 500 e-bikes",
                      params={"readers": f"{key['buyer'].address},{key['lender'].address}"},
                      headers={"Content-Type": "application/octet-stream"})
    minted = seller.write("/invoices", {
        "buyer": key["buyer"].address, "invoice_number": "INV-TEST-0777",
        "face_value": {"currency": "USD", "minor": "50000000"}, "issue_date": now, "due_date": now + 30 * DAY,
        "document_hash": doc["sha256"], "document_cid": doc["cid"], "transport_document": bl})
    invoice_id = minted["invoice_id"]
    buyer.write(f"/invoices/{invoice_id}/confirm")
    assert seller.get(f"/invoices/{invoice_id}")["state"] == "Confirmed"
    terms = {"product": "Receivable", "collateral_id": invoice_id, "borrower": key["seller"].address,
             "lender": key["lender"].address, "currency": "USD", "principal": 40_000_000, "fee": 500_000,
             "maturity": now + 30 * DAY, "grace_period": 5 * DAY, "accept_by": now + DAY, "transport_document": bl,
             "milestones": [{"event_code": "DEPA", "location": "CNSZX", "share_bps": 2500},
                            {"event_code": "ARRI", "location": "NLRTM", "share_bps": 7500}]}
    offer = lender.post("/offers", {"terms": terms})
    assert [o["id"] for o in seller.get("/offers")["items"] if o["status"] == "open"] == [offer["id"]]
    deal_id = seller.write(f"/offers/{offer['id']}/accept")["deal_id"]
    lender.write(f"/deals/{deal_id}/fund")
    assert seller.get(f"/deals/{deal_id}")["state"] == "Funded"

    # the carrier's events, HMAC-signed with the secret file the demo printed, to every operator
    secret = (demo.home / "carrier" / "oceanic.secret").read_text().strip()
    expected = {"DEPA": 10_000_000, "ARRI": 40_000_000}
    for code, place in (("DEPA", "CNSZX"), ("ARRI", "NLRTM")):
        event = transport_event(bl, code, place, when=time.time() - 60)
        for port in demo.ports.oracles:
            client = CarrierClient(f"http://127.0.0.1:{port}", "oceanic", secret)
            try:
                assert client.post_event(event).status_code == 202
            finally:
                client.close()
        deadline = time.monotonic() + 60
        while int((deal := seller.get(f"/deals/{deal_id}"))["released"]["minor"]) < expected[code]:
            assert time.monotonic() < deadline, f"no release for {code}: {deal}"
            time.sleep(0.2)
        ms = {m["event_code"]: m for m in deal["milestones"]}
        assert ms[code]["status"] == "Released" and ms[code]["released_block"] > minted["block_number"]
    assert deal["released"]["display"] == "USD 400,000.00"
    assert seller.write(f"/deals/{deal_id}/withdraw")["withdrawn"]["display"] == "USD 400,000.00"

    # early repayment by the buyer, the waterfall, both withdraw
    buyer.write(f"/deals/{deal_id}/repay")
    deal = lender.get(f"/deals/{deal_id}")
    assert deal["state"] == "Repaid" and deal["to_lender"]["display"] == "USD 405,000.00"
    assert deal["to_borrower"]["display"] == "USD 95,000.00"
    assert lender.write(f"/deals/{deal_id}/withdraw")["withdrawn"]["display"] == "USD 405,000.00"
    assert seller.write(f"/deals/{deal_id}/withdraw")["withdrawn"]["display"] == "USD 95,000.00"
    assert seller.get(f"/deals/{deal_id}")["state"] == "Closed"
    assert seller.get(f"/invoices/{invoice_id}")["state"] == "Paid"
    _clock_ok(node)


def _printed(demo: Up, prefix: str) -> str:
    return next(line.strip() for line in demo.lines if line.strip().startswith(prefix))


def test_the_printed_commands_work_as_printed(demo):
    login, listing = _printed(demo, "TOKEN=$("), _printed(demo, 'curl -s -H "Authorization')
    assert ".venv/bin/tradenet login --as seller --node " + demo.api in login
    out = subprocess.run(["bash", "-c", f"set -e; {login}; {listing}"], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"invoice_number":"INV-2026-0042"' in out.stdout.replace(" ", "")
    carrier = _printed(demo, "SECRET=$(cat ")
    assert str(demo.home / "carrier" / "oceanic.secret") in carrier and "X-Tradenet-Carrier: oceanic" in carrier
    out = subprocess.run(["bash", "-c", carrier], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.count("HTTP 202") == 3 and '"status":"accepted"' in out.stdout, (out.stdout, out.stderr)
    # the quorum confirms the sample event on chain (chain time is wall time: it is fresh)
    sample = json.loads((demo.home / "carrier" / "sample-event.json").read_text())
    ref = next(r["documentReferenceValue"] for r in sample["documentReferences"] if r["documentReferenceType"] == "TRD")
    oracle = Deployment.from_file(demo.home / "deployments" / "local.json").clients(
        Chain.connect(f"http://127.0.0.1:{demo.ports.chain}")).oracle
    code, place = sample["transportEventTypeCode"], sample["transportCall"]["location"]["UNLocationCode"]
    deadline = time.monotonic() + 30
    while not oracle.is_confirmed(shipment_id(ref), code, place):
        assert time.monotonic() < deadline, f"the sample event for {ref} was not confirmed on chain"
        time.sleep(0.3)
    # the printed dashboard offers the demo participants' keys on the demo node
    dashboard = _printed(demo, "Dashboard: ")
    assert f"{demo.api}/" in dashboard
    page = httpx.get(f"{demo.api}/login", timeout=10)
    assert page.status_code == 200 and 'id="demo-keys"' in page.text and "Atlantic Trade Bank plc" in page.text


def _tradenet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tradenet", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)


def test_product_commands_act_as_the_participant_and_refuse_in_one_line(demo):
    """`tradenet <area> <action>` signs in with the participant's key and calls the node: the
    lender sees the demo's deals and one in full; funding a deal that does not exist, or acting
    without the role, is the node's sentence in one line (exit 1); a missing id is a usage error."""
    me = ("--node", demo.api, "--home", str(demo.home))
    out = _tradenet("deals", "list", "--as", "lender", *me)
    assert out.returncode == 0, out.stderr
    deals = json.loads(out.stdout)["items"]
    assert any(d["lender_name"] == "Atlantic Trade Bank plc" for d in deals), deals[:2]
    first = deals[0]["deal_id"]
    shown = json.loads(_tradenet("deals", "show", str(first), "--as", "lender", *me).stdout)
    assert shown["deal_id"] == first and shown["principal"]["display"].startswith("USD ")
    heat = _tradenet("risk", "heatmap", "--as", "seller", *me)
    assert heat.returncode == 1 and heat.stdout == "" and heat.stderr.count("\n") == 1
    assert "GET /risk/heatmap: 403" in heat.stderr and "AUDITOR" in heat.stderr, heat.stderr
    missing = _tradenet("deals", "fund", "999999", "--as", "lender", *me)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "404" in missing.stderr, missing.stderr
    bad_body = _tradenet("invoices", "dispute", "1", "--as", "buyer", "--json", "{oops", *me)
    assert bad_body.returncode == 1 and "--json is not JSON" in bad_body.stderr and "Traceback" not in bad_body.stderr
    assert _tradenet("deals", "fund", "--as", "lender", *me).returncode == 2  # no deal id: usage


def test_sigterm_stops_every_process_it_started(demo):
    children = descendants(demo.proc.pid)
    assert len(children) >= 4, children  # anvil and three operator daemons (at least)
    assert demo.terminate() == 0
    deadline = time.monotonic() + 10
    while (left := {p for p in children if alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left running after SIGTERM: {left}"
    for port in (demo.ports.chain, demo.ports.api, *demo.ports.oracles):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert "Traceback" not in demo.text


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_in_the_middle_of_the_demo_leaves_no_process(tmp_path, signum):
    """SIGTERM, or SIGHUP (the terminal closed), while the main trade plays, and another SIGTERM
    while it cleans up: exit 0, every child gone."""
    up = Up(tmp_path, "--no-products")
    try:
        up.wait_for_line("Logistics oracle operators are up")
        children = descendants(up.proc.pid)
        assert len(children) >= 4, children
        up.proc.send_signal(signum)
        time.sleep(0.2)
        up.proc.send_signal(signal.SIGTERM)  # a second signal during the clean-up changes nothing
        assert up.proc.wait(60) == 0
        time.sleep(0.5)
        assert not {p for p in children if alive(p)}
    finally:
        up.kill()


def test_a_taken_port_is_refused_naming_it(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        other = free_port()
        for args, named in ((["--port", str(port)], f"{port} (anvil chain RPC)"),
                            (["--oracle-ports", f"{free_port()},{port},{other}"], f"{port} (oracle operator oracle_2)")):
            out = subprocess.run([sys.executable, "-m", "tradenet", "up", "--once", "--home", str(tmp_path),
                                  "--api-port", str(free_port()), *args],
                                 cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
            assert out.returncode == 2 and out.stdout == ""
            assert out.stderr.count("\n") == 1 and named in out.stderr and "already in use" in out.stderr
    assert not (tmp_path / "keystore").exists()  # refused before anything started


def test_login_to_an_unreachable_node_is_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    out = subprocess.run([sys.executable, "-m", "tradenet", "login", "--as", "seller", "--node", url,
                          "--home", str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and url in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("command", [["indexer", "--db-url", "sqlite:///{tmp}/ix.db"], ["verify-pool", "--pool", "1"]])
def test_commands_against_an_unreachable_chain_are_one_line(net, tmp_path, command):
    url = f"http://127.0.0.1:{free_port()}"
    deployment = net.deployment.save(tmp_path / "deployments")
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    out = subprocess.run([sys.executable, "-m", "tradenet", *args, "--rpc-url", url, "--deployment", str(deployment)],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and out.stderr.count("\n") == 1, out.stderr
    assert url in out.stderr and "Traceback" not in out.stderr
