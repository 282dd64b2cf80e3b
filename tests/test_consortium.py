"""The consortium profile on a real geth Clique network: 4 sealers (the three governance
organisations and the settlement bank) and 3 RPC nodes serving the other organisations, one
network for the module (geth has no snapshots: the tests run in order and each leaves the
network running with every node up).

Proves: the trade through each organisation's own node; the node allowlist; the indexer at
the Clique confirmation depth with no duplicate and no gap through sealer outages, a halt and a
node restart; the validator set following governance; backup and restore of a node."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from chain.client import Chain, poa_compatible
from chain.consortium import DEMO_PARTICIPANTS, deterministic_keys
from chain.geth import FEE_POLICY, GethNode, NodeSpec, clique_confirmations
from chain.indexer import Indexer, upgrade
from chain.keystore import Keystore
from chain.vocabulary import DealState
from tests.support.consortium import (
    assert_read_model_matches_chain,
    indexed_height,
    pay_many,
    raw_indexer,
    wait_all,
    wait_until,
)
from tradenet.backup import (
    BackupError,
    NodeState,
    backup,
    compare_read_models,
    load_manifest,
    rebuild_read_model,
    restore,
)
from tradenet.consortium_net import SEALER_ORGS, ChainTrade, Consortium, run_chain_trade, start_consortium
from tradenet.validator_sync import ValidatorSync

pytestmark = pytest.mark.slow

SEED = "consortium-tests"
#: Three RPC nodes for the eleven non-sealer organisations (one per organisation in production).
RPC_NODES = {"trade": ["seller", "buyer", "carrier", "warehouse"], "finance": ["lender", "lender_b", "investor", "auditor"],
             "oracles": ["oracle_1", "oracle_2", "oracle_3"]}


def sealer_key(org: str) -> Account:
    return Account.from_key(keccak(text=f"{SEED}:sealer:{org}"))


@pytest.fixture(scope="module")
def cons(tmp_path_factory: pytest.TempPathFactory):
    keys = deterministic_keys(DEMO_PARTICIPANTS, SEED)
    c = start_consortium(tmp_path_factory.mktemp("consortium"), DEMO_PARTICIPANTS, keys,
                         {o: sealer_key(o) for o in SEALER_ORGS}, rpc_nodes=RPC_NODES)
    yield c
    c.stop()


@dataclass
class Follower:
    """The lender organisation's indexer, on its own node, at the Clique confirmation depth."""

    indexer: Indexer
    db_url: str
    thread: threading.Thread

    def stop(self) -> None:
        self.indexer.stop()
        self.thread.join(30)


@pytest.fixture(scope="module")
def follower(cons: Consortium, pg_cluster):
    url = pg_cluster.create_database()
    upgrade(url)
    w3 = poa_compatible(Web3(Web3.HTTPProvider(cons.orgs["lender"].rpc_url, request_kwargs={"timeout": 10})))
    ix = raw_indexer(w3, url, cons.deployment, cons.artifacts, cons.confirmations)
    t = threading.Thread(target=ix.run_forever, kwargs={"poll_interval": 0.5}, daemon=True)
    t.start()
    f = Follower(ix, url, t)
    yield f
    f.stop()


@pytest.fixture(scope="module")
def trade(cons: Consortium, follower: Follower) -> ChainTrade:
    return run_chain_trade(cons)


def lender_usd(cons: Consortium):
    return cons.clients("lender").token("USD")


def head(cons: Consortium, node: str = "finance") -> int:
    return cons.net[node].block_number()


def test_non_allowlisted_node_cannot_peer(cons: Consortium, tmp_path: Path):
    """A node with the network's genesis that knows (and dials) every enode is refused by all of
    them (inbound slots are only for trusted nodes); the same node once allowlisted by one member
    peers and syncs (the control: it is the allowlist that refused it)."""
    net = cons.net
    intruder = GethNode(NodeSpec("intruder"), tmp_path / "intruder", binary=net.binary)
    intruder.prepare(net.genesis_file, net.allowlist)  # every member as its static peer
    intruder.start()
    try:
        intruder.rpc("admin_addPeer", [net["admin_a"].enode])
        wait_until(lambda: head(cons) >= intruder.block_number() + 8, 30, "8 more blocks")
        assert intruder.peer_ids() == set()
        assert all(intruder.node_id not in n.peer_ids() for n in net.running())
        assert intruder.block_number() == 0
        net["finance"].allow(intruder.enode)
        wait_until(lambda: intruder.peer_ids() == {net["finance"].node_id}, 30, "the allowlisted intruder to peer")
        wait_until(lambda: intruder.block_number() >= head(cons) - 1, 60, "the allowlisted node to sync")
        assert all(intruder.node_id not in n.peer_ids() for n in net.running() if n.name != "finance")
    finally:
        intruder.stop()
        net["finance"].rpc("admin_removeTrustedPeer", [intruder.enode])
        net["finance"].rpc("admin_removePeer", [intruder.enode])


def test_trade_through_each_organisations_own_node(cons: Consortium, trade: ChainTrade):
    nodes = {node for _, node, _ in trade.steps}
    assert nodes == {"treasury", "trade", "finance", "oracles"}
    assert trade.balances == {"lender": 1_000_000_00 + 2_000_00, "buyer": 1_000_000_00 - 100_000_00,
                              "seller": 100_000_00 - 2_000_00}
    assert trade.usd_supply == 2_000_000_00
    for key in ("seller", "lender", "buyer"):
        c = cons.clients(key)
        assert c.deals.state(trade.deal_id) == DealState.CLOSED  # repaid and every claim withdrawn
        assert c.token("USD").balance_of(cons.deployment.deal_engine) == 0
    blocks = [b for _, _, b in trade.steps]
    assert blocks == sorted(blocks)


def test_indexer_follows_clique_at_majority_depth(cons: Consortium, trade: ChainTrade, follower: Follower):
    assert cons.confirmations == clique_confirmations(4) == 3
    last = trade.steps[-1][2]
    wait_until(lambda: indexed_height(follower.db_url) >= last, 60, "the indexer to reach the trade's last block")
    for _ in range(6):  # it follows the head at the depth: never closer, and not far behind
        indexed = indexed_height(follower.db_url)  # read first: the head can only be higher afterwards
        h = head(cons)
        assert h - cons.confirmations - 5 <= indexed <= h - cons.confirmations
        time.sleep(0.5)
    assert assert_read_model_matches_chain(cons.chain("lender").w3, follower.db_url, cons.deployment,
                                           cons.artifacts) >= last


def test_rpc_node_restart_clients_and_indexer_reconnect_and_lose_nothing(cons: Consortium, trade: ChainTrade,
                                                                         follower: Follower):
    usd = lender_usd(cons)
    to = cons.keys["lender_b"].address
    before = usd.balance_of(to)
    first = pay_many(usd, to, 5)
    cons.net.stop_node("finance")  # the lender's own node, under its clients and its indexer
    with pytest.raises(Exception):
        usd.balance_of(to)
    cons.net.start_node("finance")
    second = pay_many(usd, to, 5)  # the same client objects, the same nonce counter
    receipts = wait_all(first + second, net=cons.net)
    assert all(r["status"] == 1 for r in receipts)
    assert usd.balance_of(to) == before + 10 * 1_00
    last = max(r["blockNumber"] for r in receipts)
    wait_until(lambda: indexed_height(follower.db_url) >= last, 90, "the indexer to catch up after the restart",
               net=cons.net)
    assert_read_model_matches_chain(cons.chain("lender").w3, follower.db_url, cons.deployment, cons.artifacts)


def test_one_sealer_stopped_blocks_continue_and_nothing_is_lost(cons: Consortium, trade: ChainTrade):
    usd = lender_usd(cons)
    to = cons.keys["lender_b"].address
    before = usd.balance_of(to)
    cons.net.stop_node("admin_c")
    try:
        start = head(cons)
        receipts = wait_all(pay_many(usd, to, 5), net=cons.net)
        wait_until(lambda: head(cons) >= start + 6, 30, "blocks from the three remaining sealers", net=cons.net)
        assert usd.balance_of(to) == before + 5 * 1_00
        assert all(r["status"] == 1 for r in receipts)
    finally:
        cons.net.start_node("admin_c")
    assert cons.net["admin_c"].block_number() >= head(cons) - 1


def test_two_of_four_sealers_stopped_chain_halts_and_resumes_without_gap(cons: Consortium, trade: ChainTrade,
                                                                         follower: Follower):
    usd = lender_usd(cons)
    to = cons.keys["lender_b"].address
    before = usd.balance_of(to)
    cons.net.stop_node("admin_b")
    cons.net.stop_node("admin_c")
    try:
        # two sealers can sign at most two blocks in a row (Clique: one of any floor(4/2)+1): halt
        halted = wait_until(lambda: _stable_head(cons, seconds=4), 30, "the chain to halt", net=cons.net)
        pending = pay_many(usd, to, 3)
        time.sleep(3)
        assert head(cons) == halted
        assert cons.chain("lender").w3.eth.get_transaction_count(cons.keys["lender"].address) < \
            cons.chain("lender").w3.eth.get_transaction_count(cons.keys["lender"].address, "pending")
        cons.net.start_node("admin_b")  # a third sealer is back: a majority signs again
        receipts = wait_all(pending, timeout=120, net=cons.net)
        assert all(r["blockNumber"] > halted and r["status"] == 1 for r in receipts)
    finally:
        for name in ("admin_b", "admin_c"):
            if not cons.net[name].running:
                cons.net.start_node(name)
    assert usd.balance_of(to) == before + 3 * 1_00
    last = max(r["blockNumber"] for r in receipts)
    wait_until(lambda: indexed_height(follower.db_url) >= last, 60, "the indexer to catch up after the halt",
               net=cons.net)
    assert_read_model_matches_chain(cons.chain("lender").w3, follower.db_url, cons.deployment, cons.artifacts)


def _stable_head(cons: Consortium, seconds: float) -> int | None:
    h = head(cons)
    time.sleep(seconds)
    return h if head(cons) == h else None


def test_governance_adds_and_removes_a_sealer_and_the_consensus_set_follows(cons: Consortium, trade: ChainTrade):
    """The lender organisation joins as a sealer and the settlement bank's sealer leaves, in one
    M-of-N proposal; the sealer organisations' sync services vote until Clique's signer set is
    the contract's, and the new sealer signs blocks."""
    net = cons.net
    new = sealer_key("lender")
    node = net.add_node(NodeSpec("lender_sealer", new, genesis_signer=False))
    own = Chain.connect(node.url, artifacts=cons.artifacts, fees=FEE_POLICY)
    sync = ValidatorSync(node, cons.deployment, own).start()  # the lender organisation's own service
    cons.syncs["lender"] = sync
    validators = cons.clients("admin_a").validators
    old = cons.sealer_keys["treasury"].address
    registry = cons.clients("admin_a").registry
    admins = [cons.keys[k] for k in ("admin_a", "admin_b", "admin_c")]
    registry.govern(admins, [validators.call_add(new.address, cons.keys["lender"].address), validators.call_remove(old)],
                    "The lender organisation runs a sealer; the settlement bank's sealer leaves")
    expected = sorted([*(cons.sealer_keys[o].address for o in ("admin_a", "admin_b", "admin_c")), new.address])
    assert validators.validators() == expected
    sets = wait_until(lambda: (s := cons.validator_sets()).in_sync and s, 90, "Clique's signers to follow the contract",
                      net=net)
    assert sets.consensus == expected
    # each node applies the last vote when it imports that block: the others may be a block behind
    wait_until(lambda: all(n.signers() == expected for n in net.running()), 30, "every node to run the new signer set",
               net=net)
    changed = head(cons)
    wait_until(lambda: head(cons) >= changed + 12, 60, "12 blocks under the new signer set")
    signers = {net["finance"].rpc("clique_getSigner", [hex(b)]) for b in range(changed + 1, changed + 13)}
    signers = {Web3.to_checksum_address(s) for s in signers}
    assert new.address in signers and old not in signers
    assert all(not r.proposed for r in (s.reconcile() for s in cons.syncs.values()))  # nothing left to vote


def test_backup_restore_and_the_read_model_rebuilt_from_the_chain_is_the_same(cons: Consortium, trade: ChainTrade,
                                                                            follower: Follower, pg_cluster,
                                                                            tmp_path: Path):
    """The lender organisation's node state (read model on PostgreSQL, keystore, documents, geth
    data) is backed up, restored onto a fresh directory and database, the restored geth node
    rejoins with its identity, and the read model rebuilt from the chain equals the restored one."""
    net = cons.net
    settled = head(cons) - cons.confirmations
    wait_until(lambda: indexed_height(follower.db_url) >= settled, 60, "the indexer to index every transaction")
    follower.stop()
    ks = Keystore(tmp_path / "org" / "keystore", scrypt_n=2**12)
    for k in ("lender", "lender_b"):
        ks.import_key(k, cons.keys[k].key, "pw")
    docs = tmp_path / "org" / "documents"
    (docs / "keys").mkdir(parents=True)
    (docs / "keys" / "doc-1.key").write_bytes(b"wrapped document key")
    (docs / "public_keys.json").write_text("{}")
    datadir = net["finance"].datadir
    state = NodeState(follower.db_url, ks.directory, docs, datadir, net.genesis_file)
    with pytest.raises(BackupError):  # a running node's chain data is not copied
        backup(state, tmp_path / "refused")
    assert not (tmp_path / "refused" / "manifest.json").exists()
    net.stop_node("finance")
    manifest = backup(state, tmp_path / "backup")
    assert set(manifest.parts) == {"read_model", "keystore", "documents", "geth", "genesis"} and manifest.chain_data
    assert manifest.checkpoint["block_number"] == indexed_height(follower.db_url)

    target = pg_cluster.create_database()
    restored = restore(tmp_path / "backup", target, tmp_path / "fresh")
    assert compare_read_models(follower.db_url, target).equal
    assert Keystore(restored.keystore_dir).load("lender", "pw").address == cons.keys["lender"].address
    assert (restored.document_dir / "keys" / "doc-1.key").read_bytes() == b"wrapped document key"

    node = GethNode(NodeSpec("finance"), restored.geth_datadir, binary=net.binary)
    node.prepare(restored.genesis_file, net.allowlist)  # new ports; the node key (its identity) is the backup's
    assert node.enode.split("@")[0] == net["finance"].enode.split("@")[0]
    node.start()
    try:
        wait_until(lambda: node.block_number() >= head(cons, "admin_a") - 1, 60, "the restored node to sync")
        scratch = pg_cluster.create_database()
        rebuilt = rebuild_read_model(node.url, cons.deployment, scratch, cons.confirmations, indexer=lambda w3, url:
                                     raw_indexer(w3, url, cons.deployment, cons.artifacts, cons.confirmations))
        assert rebuilt["block_number"] >= manifest.checkpoint["block_number"]
        cmp = compare_read_models(target, scratch)
        assert cmp.equal and cmp.height == manifest.checkpoint["block_number"] and "events" in cmp.tables
    finally:
        node.stop()
        net.start_node("finance")

    damaged = tmp_path / "backup" / manifest.parts["documents"]["file"]
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    with pytest.raises(BackupError):
        load_manifest(tmp_path / "backup")
