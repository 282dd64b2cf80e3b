"""Helpers of the consortium (geth Clique) tests: waiting on a live chain, payments in flight,
and the read model held against the chain (no duplicate, no gap)."""

from __future__ import annotations

import time
from typing import Any, Callable

from sqlalchemy import select
from web3 import Web3
from web3.exceptions import TimeExhausted

from chain.indexer import Indexer, create_db_engine
from chain.indexer.network import contract_specs
from chain.indexer.schema import blocks, checkpoint, events
from chain.geth import CliqueNetwork
from chain.tx import PendingTx


def network_report(net: CliqueNetwork) -> str:
    """Each node's head, peers, pool and signers: what a failed wait on the network prints."""
    lines = []
    for n in net.nodes.values():
        if not n.running:
            lines.append(f"{n.name}: stopped")
            continue
        try:
            lines.append(f"{n.name}: head {n.block_number()} {n.block_hash(n.block_number())[:10]}, "
                         f"{len(n.peer_ids())} peers, pool {n.rpc('txpool_status')}, {len(n.signers())} signers")
        except Exception as exc:
            lines.append(f"{n.name}: {exc}")
    return "\n".join(lines)


def wait_until(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.2,
               net: CliqueNetwork | None = None) -> Any:
    """Polls `cond` until it returns something truthy (returned); fails the test after `timeout`
    (with the state of `net`, if given)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = cond()
            if value:
                return value
        except Exception as exc:  # a node restarting
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else "")
                         + (f"\n{network_report(net)}" if net is not None else ""))


def pay_many(token, to: str, count: int, amount: int = 1_00) -> list[PendingTx]:
    """`count` transfers of `amount` in flight at once (consecutive nonces)."""
    return [token.submit_transfer(to, amount) for _ in range(count)]


def wait_all(pending: list[PendingTx], timeout: float = 90.0, net: CliqueNetwork | None = None) -> list[dict]:
    """Every receipt (a revert raises its error); a timeout fails with the state of `net`."""
    try:
        return [p.wait(timeout) for p in pending]
    except TimeExhausted as exc:
        raise AssertionError(f"{exc}\n{network_report(net)}" if net is not None else str(exc)) from None


def raw_indexer(w3: Web3, db_url: str, deployment, artifacts, confirmations: int) -> Indexer:
    """The indexer's raw layer (blocks, events) over every contract of the deployment, without
    the domain projections (being moved to the v2 contracts elsewhere): what these tests check."""
    return Indexer(w3, db_url, contract_specs(deployment, artifacts), start_block=deployment.deploy_block,
                   confirmations=confirmations)


def indexed_height(db_url: str) -> int:
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(checkpoint.c.block_number)).first()
            return row[0] if row else -1
    finally:
        engine.dispose()


def assert_read_model_matches_chain(w3: Web3, db_url: str, deployment, artifacts) -> int:
    """Every block from the deploy block to the checkpoint is in the read model once, with the
    chain's hash, and the events are exactly the chain's logs of the followed contracts (by
    block, log index and transaction). Returns the checkpoint."""
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as conn:
            height = conn.execute(select(checkpoint.c.block_number)).scalar_one()
            stored_blocks = conn.execute(select(blocks.c.number, blocks.c.hash).order_by(blocks.c.number)).all()
            stored_events = conn.execute(select(events.c.block_number, events.c.log_index, events.c.tx_hash)
                                         .order_by(events.c.block_number, events.c.log_index)).all()
    finally:
        engine.dispose()
    first = deployment.deploy_block
    assert [n for n, _ in stored_blocks] == list(range(first, height + 1)), "a block is missing or repeated"
    for number, block_hash in stored_blocks:
        assert block_hash == w3.eth.get_block(number)["hash"].to_0x_hex(), f"block {number} is not the chain's"
    addresses = [s.address for s in contract_specs(deployment, artifacts)]
    logs = w3.eth.get_logs({"address": addresses, "fromBlock": first, "toBlock": height})
    chain_events = [(lg["blockNumber"], lg["logIndex"], lg["transactionHash"].to_0x_hex()) for lg in logs]
    assert [tuple(e) for e in stored_events] == chain_events
    return height
