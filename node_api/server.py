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
from .runtime import sane_recursion_limit
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
        writes = getattr(self.server.config.app.state, "async_writes", None)
        if writes is not None:  # asynchronous writes still running finish in their threads
            writes.close()


def connect_chain(settings: NodeSettings, **kwargs: object) -> Chain:
    """The node's connection to its chain, pricing transactions as the settings say."""
    return Chain.connect(settings.rpc_url, fees=settings.fees(), **kwargs)


def uvicorn_config(app: object, settings: NodeSettings, host: str, port: int) -> uvicorn.Config:
    """Slow or idle clients are cut off (keep-alive timeout; the body guard's read timeout), and at
    most `concurrency_limit` connections and tasks run at once (uvicorn answers 503 beyond)."""
    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                          timeout_keep_alive=settings.keep_alive_timeout_seconds,
                          limit_concurrency=settings.concurrency_limit,
                          h11_max_incomplete_event_size=16 * 1024)  # request line + headers


def start_node(settings: NodeSettings, chain: Chain, custodial_keys: list[LocalAccount], host: str = "127.0.0.1",
               port: int = 8000, poll_interval: float = 0.5) -> RunningNode:
    """The indexer (``settings.indexer_confirmations`` blocks behind the head) and the API over
    `chain`, whose fee policy must be the settings' (``settings.fees()``: `connect_chain`)."""
    sane_recursion_limit()  # py_ecc raised it to 100,000: see node_api.runtime
    if chain.fees != settings.fees():
        raise ValueError(f"the node's chain connection prices transactions with {chain.fees}, its settings say "
                         f"fee_mode={settings.fee_mode!r} ({settings.fees()}): connect with connect_chain(settings)")
    upgrade(settings.database_url)
    ctx = NodeContext.build(settings, custodial_keys=custodial_keys, chain=chain)
    indexer = build_indexer(chain.w3, ctx.db, ctx.deployment, chain.artifacts,
                            confirmations=settings.indexer_confirmations)
    indexer.sync()
    t_ix = threading.Thread(target=indexer.run_forever, kwargs={"poll_interval": poll_interval},
                            name="indexer", daemon=True)
    t_ix.start()
    server = uvicorn.Server(uvicorn_config(create_app(ctx), settings, host, port))
    t_api = threading.Thread(target=server.run, name="api", daemon=True)
    t_api.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not t_api.is_alive():
            raise RuntimeError(f"node API did not start on {host}:{port}")
        time.sleep(0.05)
    return RunningNode(ctx, server, [t_ix, t_api], indexer, f"http://{host}:{port}")
