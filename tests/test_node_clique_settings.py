"""A node (API + indexer) and an oracle operator on a geth Clique network, by configuration only
(issue 14 items 3-4): the node's indexer stays ``indexer_confirmations`` blocks behind the head
(the Clique depth, floor(N/2)+1: docs/deployment.md), and transactions are priced with
``chain.geth.FEE_POLICY`` (``fee_mode = "geth"``) by the node, the oracle operator and the
consortium profile's node settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from pydantic import ValidationError

from chain.anvil import free_port
from chain.geth import FEE_POLICY, clique_confirmations, fee_policy
from chain.tx import FeePolicy
from node_api.read_model import ReadModel
from node_api.server import connect_chain, start_node
from node_api.settings import NodeSettings
from oracle.chain_port import Addresses, OracleChain
from tests.support.api import migrated_db
from tradenet.consortium_net import OrgNode


def settings_on(net, tmp_path: Path, **over) -> NodeSettings:
    return NodeSettings(rpc_url=net.anvil_url, deployment_file=net.deployment.save(tmp_path),
                        database_url=migrated_db(tmp_path), document_dir=tmp_path / "documents", **over)


def test_settings_read_the_clique_depth_and_geths_fee_policy_from_the_environment(tmp_path):
    env = {"TRADENET_DEPLOYMENT_FILE": str(tmp_path / "d.json")}
    plain = NodeSettings.from_env(env)
    assert plain.indexer_confirmations == 0 and plain.fees() == FeePolicy()
    clique = NodeSettings.from_env({**env, "TRADENET_INDEXER_CONFIRMATIONS": "3", "TRADENET_FEE_MODE": "geth"})
    assert clique.indexer_confirmations == clique_confirmations(4) == 3
    assert clique.fees() == FEE_POLICY and clique.fees().min_fee_cap == 10**9
    assert connect_chain(clique).fees == FEE_POLICY
    with pytest.raises(ValidationError, match="fee_mode"):
        NodeSettings.from_env({**env, "TRADENET_FEE_MODE": "free"})
    with pytest.raises(ValidationError, match="indexer_confirmations"):
        NodeSettings.from_env({**env, "TRADENET_INDEXER_CONFIRMATIONS": "-1"})
    with pytest.raises(ValueError, match="unknown fee mode"):
        fee_policy("free")


def test_start_node_indexes_up_to_head_minus_the_configured_depth(net, tmp_path):
    for _ in range(4):
        net.w3.provider.make_request("evm_mine", [])
    node = start_node(settings_on(net, tmp_path, indexer_confirmations=3), net.chain, [], port=free_port())
    try:
        assert node.indexer.confirmations == 3
        head = net.w3.eth.block_number
        assert ReadModel(node.ctx.db).indexed_block() == head - 3  # never the last 3 blocks
    finally:
        node.stop()


def test_start_node_refuses_a_chain_priced_otherwise_than_its_settings(net, tmp_path):
    with pytest.raises(ValueError, match="fee_mode='geth'"):
        start_node(settings_on(net, tmp_path, fee_mode="geth"), net.chain, [], port=free_port())


def test_consortium_node_settings_use_the_clique_depth_and_geths_fees(tmp_path):
    org = OrgNode("finance", "Finance Bank", "LEI", ("lender",), "finance", "http://127.0.0.1:1",
                  "sqlite:///x.db", tmp_path)
    s = org.node_settings(tmp_path / "d.json", 8100, clique_confirmations(4))
    assert s.indexer_confirmations == 3 and s.fee_mode == "geth" and s.fees() == FEE_POLICY


def test_oracle_operator_on_geth_prices_with_geths_fee_policy(net):
    d = net.deployment
    addresses = Addresses(logistics_oracle=d.logistics_oracle, fx_rate_store=d.fx_rate_store, registry=d.registry,
                          deal_engine=d.deal_engine, deal_lens=d.deal_lens, chain_id=d.chain_id)
    port = OracleChain(net.anvil_url, Account.create(), addresses, net.chain.artifacts, fee_mode="geth")
    assert port.chain.fees == FEE_POLICY
    assert OracleChain(net.anvil_url, Account.create(), addresses, net.chain.artifacts).chain.fees == FeePolicy()
