"""What chain.geth and the consortium profile configure, without starting geth: the Clique
genesis, the allowlist config, the confirmation depth, the fee policy's cap, the node plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from chain.consortium import DEMO_PARTICIPANTS
from chain.geth import (
    CHAIN_ID,
    GethNode,
    NodeSpec,
    clique_confirmations,
    clique_extra_data,
    clique_genesis,
)
from chain.tx import FeePolicy
from tradenet.consortium_net import SEALER_ORGS, node_plan, organisations


def key(label: str):
    return Account.from_key(keccak(text=f"geth-config:{label}"))


def test_genesis_is_pure_clique_up_to_london_with_zero_base_fee():
    signers = [key("b").address, key("a").address]
    g = clique_genesis(signers, alloc={key("a").address: 5}, timestamp=1_700_000_000)
    cfg = g["config"]
    assert cfg["chainId"] == CHAIN_ID and cfg["clique"] == {"period": 1, "epoch": 30_000}
    assert cfg["londonBlock"] == 0 and cfg["berlinBlock"] == 0 and cfg["istanbulBlock"] == 0
    # no merge (a beacon client would be expected) and nothing after London (Shanghai brings PUSH0,
    # which the compiler's paris target does not emit and geth 1.13's Clique would not run)
    assert "terminalTotalDifficulty" not in cfg and "shanghaiTime" not in cfg
    assert g["baseFeePerGas"] == "0x0" and int(g["gasLimit"], 16) == 60_000_000
    assert g["alloc"] == {key("a").address[2:].lower(): {"balance": "0x5"}}
    extra = bytes.fromhex(g["extraData"][2:])
    assert len(extra) == 32 + 2 * 20 + 65 and extra[:32] == bytes(32) and extra[-65:] == bytes(65)
    assert [extra[32 + 20 * i:52 + 20 * i].hex() for i in range(2)] == sorted(s[2:].lower() for s in signers)
    with pytest.raises(ValueError):
        clique_extra_data([])


def test_confirmation_depth_is_a_strict_majority_of_signers():
    assert [clique_confirmations(n) for n in (1, 2, 3, 4, 5, 7)] == [1, 2, 2, 3, 3, 4]
    with pytest.raises(ValueError):
        clique_confirmations(0)


def test_allowlist_config_trusts_and_dials_only_the_listed_nodes(tmp_path: Path):
    nodes = [GethNode(NodeSpec(n), tmp_path / n, binary=Path("/nonexistent/geth")) for n in ("a", "b", "c")]
    allowlist = [n.enode for n in nodes]
    nodes[0].write_config(allowlist)
    text = nodes[0].config_file.read_text()
    others = ", ".join(f'"{e}"' for e in allowlist[1:])
    assert "DialRatio = 1" in text  # every peer slot is a dial slot: no untrusted inbound connection
    assert f"TrustedNodes = [{others}]" in text and f"StaticNodes = [{others}]" in text
    assert "NoDiscovery = true" in text and "BootstrapNodes = []" in text
    assert f'ListenAddr = "127.0.0.1:{nodes[0].p2p_port}"' in text
    assert nodes[0].enode not in text.split("TrustedNodes")[1]
    cmd = nodes[0].command()
    assert cmd[cmd.index("--netrestrict") + 1] == "127.0.0.0/8" and "--mine" not in cmd


def test_fee_cap_floor_keeps_zero_base_fee_transactions_mineable():
    class W3:
        class eth:
            @staticmethod
            def get_block(_):
                return {"baseFeePerGas": 0}

    assert FeePolicy().fields(W3) == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    assert FeePolicy(min_fee_cap=10**9).fields(W3) == {"maxFeePerGas": 10**9, "maxPriorityFeePerGas": 0}
    W3.eth.get_block = staticmethod(lambda _: {"baseFeePerGas": 7 * 10**9})
    assert FeePolicy(min_fee_cap=10**9).fields(W3)["maxFeePerGas"] == 14 * 10**9


def test_node_plan_gives_every_organisation_one_node():
    orgs = organisations(DEMO_PARTICIPANTS)
    assert orgs["seller"] == tuple(p for p in DEMO_PARTICIPANTS if p.key in ("seller", "seller_ops"))
    plan = node_plan(orgs)
    assert len(orgs) == 15 and plan == {o: o for o in orgs}
    grouped = node_plan(orgs, rpc_nodes={"rest": [o for o in orgs if o not in SEALER_ORGS]})
    assert {grouped[o] for o in SEALER_ORGS} == set(SEALER_ORGS) and set(grouped.values()) - set(SEALER_ORGS) == {"rest"}
    with pytest.raises(ValueError, match="without a node"):
        node_plan(orgs, rpc_nodes={"few": ["seller"]})
    with pytest.raises(ValueError, match="already has a node"):
        node_plan(orgs, rpc_nodes={"x": ["admin_a"]})
    with pytest.raises(ValueError, match="not among"):
        node_plan(orgs, sealer_orgs=("nobody",))
