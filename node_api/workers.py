"""A node with several API processes behind one port (``tradenet node --workers N``).

The API is CPU-bound Python: one process serves one core. With ``workers = N`` the node's own
process (the supervisor) binds the port once, runs the indexer, and starts N API processes that
accept connections on that same socket (the kernel hands each new connection to one of them;
the dashboard's event stream included: it reads the read model, which every process shares).
What a request needs from another request is shared through the node's database or its files:

- login nonces and sessions: tables in the node's database (``node_api.auth.shared``); a nonce
  issued by one process is spent by another, a logout ends the session for all;
- the node's own tables (offers, agreements, B/L references) and their revision, which every
  process's kept answers are filed under (``node_api.store.node_writing``, ``node_api.answers``);
- asynchronous writes' operations: written to the database as they start and end, so
  ``GET /operations/{id}`` answers from any process (``node_api.operations``);
- custodial accounts' nonces and the lock each account's payments hold from approval to spend:
  files under a directory made for this run of the node (``chain.tx.SharedNonceManager``,
  ``chain.fsutil.HostLock``), so two processes never send one nonce;
- participants' public keys: one JSON file, added to under its lock and read again when it changed.

Per process (stated in docs/deployment.md): the answer cache, the member cache (each follows the
chain's head itself), the bound on running asynchronous writes (``async_write_threads`` and
``async_writes_per_member`` count one process's), and ``/metrics``, which counts the process
that answers it. An API process that dies is started again; each one stops when the
supervisor goes away.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.indexer import upgrade
from chain.indexer.network import build_indexer

from .app import create_app
from .context import NodeContext
from .runtime import sane_recursion_limit
from .server import connect_chain, uvicorn_config
from .settings import NodeSettings

log = logging.getLogger(__name__)

#: seconds an API process has to answer its first request after it was started
START_TIMEOUT = 60.0


@dataclass
class Workers:
    """The supervisor's view of a node with several API processes (see the module)."""

    settings: NodeSettings
    keys: list[bytes]  # custodial keys, handed to each process over its start pipe (not the environment)
    sock: socket.socket
    run_dir: Path
    url: str
    count: int
    indexer: object = None
    procs: list[BaseProcess | None] = field(default_factory=list)
    ready: dict[int, Any] = field(default_factory=dict)  # index -> its process's "listening" event
    restarts: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)
    _watch: threading.Thread | None = None

    def start(self) -> None:
        self.procs = [self._spawn(i) for i in range(self.count)]
        self._watch = threading.Thread(target=self._supervise, name="workers", daemon=True)
        self._watch.start()

    def _spawn(self, index: int) -> BaseProcess:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or locks copied from this one
        ready = ctx.Event()  # set by the process once its server listens
        p = ctx.Process(target=_serve, name=f"tradenet-api-{index}", daemon=True,
                        args=(self.settings, self.keys, self.sock, str(self.run_dir), index, os.getpid(), ready))
        p.start()
        self.ready[index] = ready
        return p

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for i, p in enumerate(self.procs):
                if p is not None and not p.is_alive() and not self._stopping.is_set():
                    log.error("API process %d (pid %s) ended with exit code %s: starting it again", i, p.pid,
                              p.exitcode)
                    self.restarts += 1
                    self.procs[i] = self._spawn(i)

    def pids(self) -> list[int | None]:
        return [p.pid if p is not None else None for p in self.procs]

    def stop(self, timeout: float = 15.0) -> None:
        """Stops the API processes (each finishes the requests it serves, as uvicorn does on
        SIGTERM), then the indexer; removes the run directory."""
        self._stopping.set()
        for p in self.procs:
            if p is not None and p.is_alive():
                p.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + timeout
        for p in self.procs:
            if p is not None:
                p.join(max(0.1, deadline - time.monotonic()))
                if p.is_alive():
                    p.kill()
                    p.join(5)
        if self.indexer is not None:
            self.indexer.stop()
        self.sock.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def start_workers(settings: NodeSettings, chain: Chain, custodial_keys: list[LocalAccount], workers: int,
                  host: str = "127.0.0.1", port: int = 8000, poll_interval: float = 0.5) -> Workers:
    """The indexer in this process and `workers` API processes on one listening socket; returns
    once each answers ``GET /health``."""
    if workers < 2:
        raise ValueError(f"workers must be at least 2 for several API processes (got {workers})")
    sane_recursion_limit()
    upgrade(settings.database_url)
    run_dir = Path(tempfile.mkdtemp(prefix="tradenet-node-run-"))  # this run's nonce counters and locks
    ctx = NodeContext.build(settings, custodial_keys=custodial_keys, chain=chain, host_locks=run_dir)  # the tables
    indexer = build_indexer(chain.w3, ctx.db, ctx.deployment, chain.artifacts,
                            confirmations=settings.indexer_confirmations)
    indexer.sync()
    sock = listening_socket(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    w = Workers(settings, [bytes(k.key) for k in custodial_keys], sock, run_dir, url, workers, indexer)
    threading.Thread(target=indexer.run_forever, kwargs={"poll_interval": poll_interval}, name="indexer",
                     daemon=True).start()
    w.start()
    try:
        _wait_healthy(w, START_TIMEOUT)
    except BaseException:
        w.stop()
        raise
    return w


def listening_socket(host: str, port: int) -> socket.socket:
    """The node's one TCP socket, shared by its API processes. Made as uvicorn makes its own
    (protocol TCP, not 0): asyncio turns Nagle's algorithm off only on connections whose socket
    says TCP, and a small answer written as headers then body otherwise waits for the client's
    delayed ACK (~40 ms an answer, measured on /deals). TCP_NODELAY is set on the listener too:
    Linux hands it to every accepted connection."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _wait_healthy(w: Workers, timeout: float) -> None:
    """Until every API process says its server listens (or one ended, or `timeout` passed)."""
    deadline = time.monotonic() + timeout
    while not all(e.is_set() for e in w.ready.values()):
        if time.monotonic() > deadline:
            late = sum(not e.is_set() for e in w.ready.values())
            raise RuntimeError(f"{late} of the node's {w.count} API processes did not start on {w.url} "
                               f"within {timeout:.0f} s")
        for p in w.procs:
            if p is not None and not p.is_alive():
                raise RuntimeError(f"an API process ended with exit code {p.exitcode} while starting")
        time.sleep(0.05)


def _serve(settings: NodeSettings, keys: list[bytes], sock: socket.socket, run_dir: str, index: int,
           supervisor: int, ready: Any) -> None:
    """One API process: its own chain connection (nonces shared through `run_dir`), context and
    uvicorn server on the supervisor's socket; it stops when the supervisor is gone."""
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s api-{index} %(levelname)s %(name)s: %(message)s")
    sane_recursion_limit()
    accounts = [Account.from_key(k) for k in keys]
    chain = connect_chain(settings, nonce_dir=Path(run_dir) / "nonces")
    ctx = NodeContext.build(settings, custodial_keys=accounts, chain=chain, host_locks=Path(run_dir))
    ctx.worker = index
    server = uvicorn.Server(uvicorn_config(create_app(ctx), settings, "", 0))

    def orphaned() -> None:  # the supervisor was killed: nobody would stop this process
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        ready.set()
        while not server.should_exit:
            if os.getppid() != supervisor:
                log.warning("the node's supervisor (pid %d) is gone: stopping", supervisor)
                server.should_exit = True
                return
            time.sleep(1)

    threading.Thread(target=orphaned, name="supervisor-watch", daemon=True).start()
    server.run(sockets=[sock])
