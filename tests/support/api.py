"""A node API over the session test network: custodial keys for every demo participant, a fresh
read model per test (the chain is reverted per test), SIWE login helpers."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from chain.indexer import upgrade
from chain.indexer.network import build_indexer
from node_api.app import create_app
from node_api.auth import build_login_message, sign_login_message
from node_api.context import NodeContext
from node_api.settings import NodeSettings

_template: dict[str, Path] = {}


def migrated_db(tmp_path: Path) -> str:
    """A migrated SQLite read model (Alembic runs once per session; later tests copy the file)."""
    if "db" not in _template:
        tpl = tmp_path.parent / "read-model-template.db"
        upgrade(f"sqlite:///{tpl}")
        _template["db"] = tpl
    target = tmp_path / "read-model.db"
    shutil.copy(_template["db"], target)
    return f"sqlite:///{target}"


@dataclass
class Api:
    client: TestClient
    ctx: NodeContext
    net: object

    def sync(self) -> None:
        """Bring the read model up to the chain head (the API process does this in a thread)."""
        self.indexer.sync()

    def login(self, key: str, *, lifetime: timedelta = timedelta(hours=1)) -> dict[str, str]:
        acct = self.net.keys[key]
        n = self.client.post("/auth/nonce").json()
        msg = build_login_message(address=acct.address, domain=n["domain"], uri=n["uri"],
                                  scheme=n["scheme"], chain_id=n["chain_id"],
                                  nonce=n["nonce"], lifetime=lifetime)
        r = self.client.post("/auth/login", json={"message": msg.to_text(), "signature": sign_login_message(msg, acct)})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


def make_api(net, tmp_path: Path, **settings_over) -> Api:
    """The node's member records are read at every request here (``member_follow_seconds=0``):
    these tests change roles on the automining session chain and call the API in the same
    instant, where "within one block" has no duration; tests/test_node_workers.py covers the
    kept records (node_api.members) with the follower on."""
    deployment_file = net.deployment.save(tmp_path)
    url = migrated_db(tmp_path)
    settings = NodeSettings(**{"rpc_url": net.anvil_url, "deployment_file": deployment_file, "database_url": url,
                               "api_domain": "node.tradenet.test", "api_uri": "https://node.tradenet.test",
                               "document_dir": tmp_path / "documents", "member_follow_seconds": 0, **settings_over})
    ctx = NodeContext.build(settings, custodial_keys=list(net.keys.values()), chain=net.chain)
    api = Api(TestClient(create_app(ctx)), ctx, net)
    api.indexer = build_indexer(net.w3, ctx.db, ctx.deployment, net.chain.artifacts)
    api.sync()
    return api


DAY = 86_400


def terms_body(net, invoice_id: int, principal: int = 8_000_000, fee: int = 120_000, lender: str = "lender",
               reference: str | None = "OOLU-BL-API-1", borrower: str = "seller", maturity_in: int = 100 * DAY,
               **over) -> dict:
    """API deal terms of a receivable financing of `invoice_id` (DEPA 40%, ARRI 60%)."""
    now = net.now()
    body = {"product": "Receivable", "collateral_id": str(invoice_id), "borrower": net.addr(borrower),
            "lender": net.addr(lender), "currency": "USD", "principal": principal, "fee": fee,
            "maturity": now + maturity_in, "grace_period": 10 * DAY, "accept_by": now + DAY,
            "transport_document": reference,
            "milestones": [{"event_code": "DEPA", "share_bps": 4000}, {"event_code": "ARRI", "share_bps": 6000}]}
    if reference is None:
        body.pop("transport_document")
        body["milestones"] = [{"share_bps": 10_000}]
    body.update(over)
    return body


def deal_through_api(api: Api, terms: dict, borrower: str = "seller", lender: str = "lender",
                     fund: bool = True) -> int:
    """The lender signs the terms on its node, the borrower accepts them on its node (approving
    the collateral), the lender funds: all through the API. Returns the deal id."""
    sig = api.client.post("/deals/terms/signature", json=terms, headers=api.login(lender))
    assert sig.status_code == 200, sig.text
    r = api.client.post("/deals", json={"terms": terms, "lender_signature": sig.json()["signature"]},
                        headers=api.login(borrower))
    assert r.status_code == 201, r.text
    deal_id = r.json()["deal_id"]
    if fund:
        f = api.client.post(f"/deals/{deal_id}/fund", headers=api.login(lender))
        assert f.status_code == 200, f.text
    return deal_id
