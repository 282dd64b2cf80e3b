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
        msg = build_login_message(address=acct.address, domain=n["domain"], uri=n["uri"], chain_id=n["chain_id"],
                                  nonce=n["nonce"], lifetime=lifetime)
        r = self.client.post("/auth/login", json={"message": msg.to_text(), "signature": sign_login_message(msg, acct)})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


def make_api(net, tmp_path: Path) -> Api:
    deployment_file = net.deployment.save(tmp_path)
    url = migrated_db(tmp_path)
    settings = NodeSettings(rpc_url=net.anvil_url, deployment_file=deployment_file, database_url=url,
                            domain="node.tradenet.test", uri="https://node.tradenet.test",
                            document_dir=tmp_path / "documents")
    ctx = NodeContext.build(settings, custodial_keys=list(net.keys.values()), chain=net.chain)
    api = Api(TestClient(create_app(ctx)), ctx, net)
    api.indexer = build_indexer(net.w3, ctx.db, ctx.deployment, net.chain.artifacts)
    api.sync()
    return api
