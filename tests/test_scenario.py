"""The README's run command: the demo trade plays through the node API and says what happened in
trade terms (the live network it leaves: tests/test_localnet.py)."""

import os
import subprocess
import sys

from chain.anvil import free_port
from chain.settings import PROJECT_ROOT
from chain.vocabulary import InvoiceState
from tests.support.api import make_api
from tests.support.localnet import Ports, players_on
from tradenet.scenario import Narrator, run_core_trade


def test_core_trade_through_the_api_on_test_network(net, tmp_path):
    """Deposits, invoice tokenised and confirmed (its duplicate refused with the contract's
    sentence), a receipt pledged and its redemption refused: every step an HTTP call."""
    players = players_on(make_api(net, tmp_path))
    lines: list[str] = []
    result = run_core_trade(players, Narrator(lines.append))
    inv = net.invoices().invoice(result.invoice_id)
    assert inv.state is InvoiceState.CONFIRMED and inv.face_value == 1_250_000_00
    rec = net.receipts().receipt(result.receipt_id)
    assert rec.pledgee == net.addr("lender") and rec.holder == net.addr("seller")
    assert net.token("USD").balance_of(net.addr("lender")) >= 5_000_000_00
    text = "\n".join(lines)
    assert "USD 1,250,000.00" in text and "409 DuplicateInvoice" in text and "pledged receipt #1" in text
    assert "ReceiptPledged" in text and "(chain time" in text and "Balances at chain time" in text
    assert ".." not in text.replace("...", "")


def test_tradenet_up_once_runs_end_to_end(tmp_path):
    ports = Ports()
    port, api_port = ports.chain, ports.api
    out = subprocess.run(
        [sys.executable, "-m", "tradenet", "up", "--once", "--no-products", *ports.args(), "--home", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
        env=dict(os.environ, TRADENET_DEPLOYMENTS_DIR=str(tmp_path / "deployments")),
    )
    assert out.returncode == 0, out.stderr
    assert f"127.0.0.1:{port}" in out.stdout
    assert "confirmed the debt" in out.stdout and "pledged receipt" in out.stdout
    assert f"Node API (indexer + participants' API) is up at http://127.0.0.1:{api_port}" in out.stdout
    assert f".venv/bin/tradenet login --as seller --node http://127.0.0.1:{api_port} --home {tmp_path}" in out.stdout
    assert "tradenet up: ready" not in out.stdout  # --once: stops after the scenario
    # the shipment: three operator processes, carrier DEPA then ARRI, 40% then 60% released, waterfall
    assert "a report needs 2 of 3 signatures" in out.stdout
    assert "vessel departed Shenzhen (CNSZX)" in out.stdout and "released USD 400,000.00" in out.stdout
    assert "vessel arrived in Rotterdam (NLRTM)" in out.stdout and "released USD 600,000.00" in out.stdout
    assert "USD 1,018,750.00 (principal + fee)" in out.stdout and "USD 231,250.00 (the remainder)" in out.stdout
    assert "no money created or lost" in out.stdout and "the deal is closed" in out.stdout
    assert (tmp_path / "deployments" / "local.json").exists()
    # keys were written encrypted, the password file is private
    keystore = tmp_path / "keystore"
    assert len(list(keystore.glob("*.json"))) >= 16
    assert oct((tmp_path / "keystore.password").stat().st_mode & 0o777) == "0o600"


def test_tradenet_node_against_a_configured_network(net, tmp_path):
    """Production profile by configuration only: `tradenet node` with env settings and an
    encrypted keystore serves the network deployed by the session."""
    import time

    import httpx

    from chain.keystore import Keystore
    from node_api.auth import build_login_message, sign_login_message

    ks = Keystore(tmp_path / "keys", scrypt_n=2**10)
    ks.import_key("seller", net.keys["seller"].key, "pw")
    (tmp_path / "pw").write_text("pw")
    port = free_port()
    env = dict(os.environ, TRADENET_NETWORK=net.deployment.network, TRADENET_TEST_RPC_URL=net.anvil_url,
               TRADENET_DEPLOYMENT_FILE=str(net.deployment.save(tmp_path / "deployments")),
               TRADENET_DATABASE_URL=f"sqlite:///{tmp_path / 'node.db'}", TRADENET_DOCUMENT_DIR=str(tmp_path / "docs"),
               TRADENET_API_DOMAIN=f"127.0.0.1:{port}", TRADENET_API_URI=f"http://127.0.0.1:{port}")
    proc = subprocess.Popen([sys.executable, "-m", "tradenet", "node", "--port", str(port), "--keystore",
                             str(tmp_path / "keys"), "--custodial", "seller", "--password-file", str(tmp_path / "pw")],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(url + "/health", timeout=2).json()
                if health["lag_blocks"] == 0:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "timeout"
            time.sleep(0.2)
        with httpx.Client(base_url=url) as c:
            n = c.post("/auth/nonce").json()
            key = net.keys["seller"]
            msg = build_login_message(address=key.address, domain=n["domain"], uri=n["uri"],
                                      scheme=n["scheme"], chain_id=n["chain_id"],
                                      nonce=n["nonce"])
            token = c.post("/auth/login", json={"message": msg.to_text(),
                                                "signature": sign_login_message(msg, key)}).json()["token"]
            me = c.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["address"] == key.address and me["custodial"] is True and me["roles"] == ["SELLER"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_tradenet_keys_and_deploy_to_a_named_network(net, tmp_path, capsys):
    """`tradenet keys new` then `tradenet deploy --network ...` with admin keys from the keystore."""
    import json

    from tradenet.cli import main

    (tmp_path / "pw").write_text("correct horse")
    for name in ("gov_a", "gov_b"):
        assert main(["keys", "--keystore", str(tmp_path / "ks"), "--password-file", str(tmp_path / "pw"),
                     "new", name]) == 0
    assert main(["keys", "--keystore", str(tmp_path / "ks"), "list"]) == 0
    listed = capsys.readouterr().out
    assert "gov_a: 0x" in listed and "gov_b: 0x" in listed
    deploy = ["deploy", "--network", "staging", "--rpc-url", net.anvil_url, "--keystore", str(tmp_path / "ks"),
              "--password-file", str(tmp_path / "pw"), "--admin", "gov_a", "--admin", "gov_b",
              "--out", str(tmp_path / "deployments")]
    # v2: every member's legal name is on chain, so a founder without one is refused (one line, nothing deployed)
    assert main([*deploy, "--founder", "529900STAGINGGOVA001:SG", "--founder", "529900STAGINGGOVB002:GB"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected LEI:COUNTRY:Legal name" in err
    assert not (tmp_path / "deployments" / "staging.json").exists()
    assert main([*deploy, "--founder", "529900STAGINGGOVA001:SG:Staging Governance A Pte. Ltd.",
                 "--founder", "529900STAGINGGOVB002:GB:Staging Governance B Ltd"]) == 0
    d = json.loads((tmp_path / "deployments" / "staging.json").read_text())
    assert d["chain_id"] == 31337 and d["deploy_block"] > 0 and set(d["settlement_tokens"]) == {"USD", "EUR", "CNY"}
    assert set(d["code_hashes"]) >= {"ParticipantRegistry", "InvoiceToken", "WarehouseReceipt", "SettlementToken"}
    from chain.deployment import Deployment

    reg = Deployment(**d).clients(net.chain).registry
    assert reg.approval_threshold() == 2 and reg.active_admin_count() == 2
    from chain.keystore import Keystore

    assert reg.legal_name(Keystore(tmp_path / "ks").address("gov_a")) == "Staging Governance A Pte. Ltd."


def test_the_duplicate_is_refused_a_minute_before_midnight(net, tmp_path):
    """The demo's duplicate (the seller's second key, the same invoice a minute apart) must stay
    on the same issue day, which the fingerprint counts: at 23:59:30 UTC a minute later was the
    next day, a different receivable, and the demo stopped ("duplicate invoice was accepted")."""
    day = 86_400
    net.advance_time(day - 30 - net.now() % day)  # the chain's clock at 23:59:30 UTC
    players = players_on(make_api(net, tmp_path))
    lines: list[str] = []
    run_core_trade(players, Narrator(lines.append))
    assert "409 DuplicateInvoice" in "\n".join(lines)
