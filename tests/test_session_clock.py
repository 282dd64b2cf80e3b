"""The test session's chain keeps wall time across snapshot reverts (anvil's `evm_revert` restores
the snapshot's time too): the oracle operators stamp carrier events with the wall clock, and a
chain behind it by more than 5 minutes refuses every report as in the future."""

from __future__ import annotations

import time

from tests.support.mining import revert_to


def test_a_revert_leaves_the_latest_block_at_wall_time(net):
    snap = net.w3.provider.make_request("evm_snapshot", [])["result"]
    time.sleep(2.2)
    net.w3.provider.make_request("evm_mine", [])
    revert_to(net.w3, snap)
    latest = net.w3.eth.get_block("latest")["timestamp"]
    assert latest >= int(time.time()) - 1
    net.w3.provider.make_request("evm_mine", [])
    assert net.w3.eth.get_block("latest")["timestamp"] - int(time.time()) in (-1, 0, 1)


def test_a_plain_revert_would_leave_the_chain_behind(net):
    """Without the resync the latest block stays at the snapshot's time (what the suite suffered)."""
    base = net.w3.eth.get_block("latest")["timestamp"]
    snap = net.w3.provider.make_request("evm_snapshot", [])["result"]
    time.sleep(2.2)
    net.w3.provider.make_request("evm_mine", [])
    net.w3.provider.make_request("evm_revert", [snap])
    assert net.w3.eth.get_block("latest")["timestamp"] == base
    revert_to(net.w3, net.w3.provider.make_request("evm_snapshot", [])["result"])
