"""Run the node: the indexer following the chain in a thread, and the API under uvicorn."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import uvicorn
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.indexer import upgrade
from chain.indexer.network import build_indexer

from .app import create_app
from .context import NodeContext
from .settings import NodeSettings

log = logging.getLogger(__name__)


@dataclass
class RunningNode:
    ctx: NodeContext
    server: uvicorn.Server
    threads: list[threading.Thread]
    indexer: object
    url: str

    def stop(self) -> None:
        self.indexer.stop()
        self.server.should_exit = True
        for t in self.threads:
            t.join(10)


def start_node(settings: NodeSettings, chain: Chain, custodial_keys: list[LocalAccount], host: str = "127.0.0.1",
               port: int = 8000, poll_interval: float = 0.5) -> RunningNode:
    upgrade(settings.database_url)
    ctx = NodeContext.build(settings, custodial_keys=custodial_keys, chain=chain)
    indexer = build_indexer(chain.w3, ctx.db, ctx.deployment, chain.artifacts, confirmations=0)
    indexer.sync()
    t_ix = threading.Thread(target=indexer.run_forever, kwargs={"poll_interval": poll_interval},
                            name="indexer", daemon=True)
    t_ix.start()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host=host, port=port, log_level="warning",
                                           lifespan="off"))
    t_api = threading.Thread(target=server.run, name="api", daemon=True)
    t_api.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not t_api.is_alive():
            raise RuntimeError(f"node API did not start on {host}:{port}")
        time.sleep(0.05)
    return RunningNode(ctx, server, [t_ix, t_api], indexer, f"http://{host}:{port}")
