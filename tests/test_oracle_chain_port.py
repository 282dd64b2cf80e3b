"""The operator's view of the chain (``oracle.chain_port.OracleChain``) on the real anvil: what it
reads about an event and its slot is one consistent state of the chain."""

from __future__ import annotations

from oracle.chain_port import Addresses, OracleChain
from chain.clients.oracle import ShipmentEvent
from tests.support.products import ORACLES, c, unique


def _port(net) -> OracleChain:
    d = net.deployment
    addresses = Addresses(logistics_oracle=d.logistics_oracle, fx_rate_store=d.fx_rate_store, registry=d.registry,
                          deal_engine=d.deal_engine, deal_lens=d.deal_lens, chain_id=d.chain_id)
    return OracleChain(net.anvil_url, net.keys["oracle_1"], addresses, net.chain.artifacts)


def test_an_event_confirmed_while_the_operator_reads_its_slot_is_no_conflict(net, monkeypatch):
    """Another operator's report lands between the reads of the event's status and of its slot:
    read at two blocks, the event looked unconfirmed while "another" event (itself) held its slot,
    and the operator closed its own report as a conflict (seen in the restart e2e test)."""
    port = _port(net)
    o = c(net, "carrier").oracle
    ev = ShipmentEvent.from_strings(unique("OCLU"), "DEPA", "CNSZX", net.now() - 60, unique("port-race"))
    sigs = [o.sign_event(net.keys[k], ev) for k in ORACLES]
    rpc, landed = port.chain.rpc, []
    real_call, real_batch = rpc.call, rpc.batch

    def land_once() -> None:
        if not landed:
            landed.append(o.submit_report(ev, sigs))  # mined at once (automine): the next block

    def call(method, params=()):
        out = real_call(method, params)
        if method == "eth_call":
            land_once()
        return out

    def batch(calls):
        out = real_batch(calls)
        if any(m == "eth_call" for m, _ in calls):
            land_once()
        return out

    monkeypatch.setattr(rpc, "call", call)
    monkeypatch.setattr(rpc, "batch", batch)
    seen = port.shipment_status(ev)
    assert landed, "the report was not sent during the read"
    assert not seen.confirmed and not seen.held_by_other(), seen  # the state before the report's block
    after = port.shipment_status(ev)
    assert after.confirmed and not after.held_by_other(), after


def test_the_confirming_and_retracting_transactions_name_their_sender(net):
    """An operator that sent a report and stopped before recording it learns from these logs that
    the deciding transaction was its own (``Engine._sent_unrecorded``)."""
    port = _port(net)
    o = c(net, "carrier").oracle
    ev = ShipmentEvent.from_strings(unique("OCLU"), "ARRI", "SGSIN", net.now() - 60, unique("port-sender"))
    event_id = o.submit_report(ev, [o.sign_event(net.keys[k], ev) for k in ORACLES])
    found = port.find_confirmation(event_id)
    assert found is not None and found.submitter == net.addr("carrier")
    assert found.block_number == net.chain.block_number()
    at = net.now()
    reason = b"\x42" * 32
    receipt = o.submit_retraction(ev, reason, at, [o.sign_retraction(net.keys[k], event_id, reason, at)
                                                   for k in ORACLES])
    retraction = port.find_retraction(event_id)
    assert retraction is not None and retraction.submitter == net.addr("carrier")
    assert retraction.tx_hash == receipt["transactionHash"].to_0x_hex() and retraction.reason_hash == "0x" + "42" * 32
    assert port.find_confirmation(b"\x00" * 32) is None and port.find_retraction(b"\x00" * 32) is None
