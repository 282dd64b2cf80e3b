"""Releases for every deal (``oracle.keeper``): a report names the deals it concerns, at most
MAX_NOTIFY_PER_REPORT, and its submitter pokes the others (and those whose callback failed),
also after a restart; a retraction names the deals it undoes and pokes the rest only where the
milestone is no longer met."""

from __future__ import annotations

import time

from chain.clients import Notify
from chain.vocabulary import DealState, MilestoneStatus
from oracle import typed_data as td
from oracle.engine import Engine
from oracle.keeper import MAX_NOTIFY_PER_REPORT, DealKeeper
from oracle.samples import transport_event
from oracle.store import State
from tests.support.oracle.stand_ins import NoPeers, FakeChain, FakeDeals, add_signature, operator_on, post_event, \
    run_until

PENDING, RELEASED, PAID_OUT = MilestoneStatus.PENDING, MilestoneStatus.RELEASED, MilestoneStatus.PAID_OUT


def shipment_with_deals(chain: FakeChain, event: td.ShipmentEvent) -> FakeDeals:
    """Deals 1-18 wait for this ARRI at NLRTM, 19 for ARRI at SGSIN, 20 is repaid, 21 waits for ARRI anywhere."""
    deals = FakeDeals(chain)
    s = event.shipment_id
    for deal_id in range(1, 19):
        deals.add(s, deal_id, ("DEPA", "CNSZX", RELEASED), ("ARRI", "NLRTM", PENDING))
    deals.add(s, 19, ("ARRI", "SGSIN", PENDING))
    deals.add(s, 20, ("ARRI", "NLRTM", PENDING), state=DealState.REPAID)
    deals.add(s, 21, ("ARRI", "", PENDING))
    return deals


def arrival(svc, client) -> tuple[str, td.ShipmentEvent]:
    digest = post_event(client, transport_event(code="ARRI", unlocode="NLRTM", when=time.time() - 60))["digest"]
    return digest, td.struct_from_json("shipment", svc.store.report(digest).message)


def test_report_names_sixteen_concerned_deals_and_its_submitter_pokes_the_others(tmp_path):
    chain = FakeChain(failing={3})
    svc, client, engine = operator_on(tmp_path, chain)
    digest, event = arrival(svc, client)
    deals = shipment_with_deals(chain, event)
    engine.keeper = DealKeeper(deals)
    add_signature(svc, client, digest)
    assert run_until(engine, svc, digest, lambda r: r.state == State.CONFIRMED).state == State.CONFIRMED
    assert chain.notified == [[Notify(deals.engine_address, i) for i in range(1, MAX_NOTIFY_PER_REPORT + 1)]]
    # not named: 17, 18 and 21 (19 waits for another port, 20 is repaid); 3's callback failed
    assert deals.poked == [3, 17, 18, 21]
    report = svc.store.report(digest)
    assert report.keeper_done and report.notified == tuple(range(1, 17))
    svc.store.close()


def test_a_poke_pass_cut_short_is_finished_after_a_restart(tmp_path):
    chain = FakeChain()
    svc, client, engine = operator_on(tmp_path, chain)
    digest, event = arrival(svc, client)
    deals = shipment_with_deals(chain, event)
    deals.down = True  # the node fails right after the report was mined
    engine.keeper = DealKeeper(deals)
    add_signature(svc, client, digest)
    run_until(engine, svc, digest, lambda r: r.state == State.CONFIRMED)
    assert deals.poked == [] and not svc.store.report(digest).keeper_done
    deals.down = False
    restarted = Engine(svc, svc.store, NoPeers(), chain, keeper=DealKeeper(deals))
    restarted.tick()
    assert deals.poked == [17, 18, 21] and svc.store.report(digest).keeper_done
    restarted.tick()
    assert deals.poked == [17, 18, 21] and len(chain.submissions) == 1  # done once
    svc.store.close()


def test_retraction_names_the_deals_it_undoes_and_pokes_only_unmet_ones():
    chain = FakeChain()
    event = td.ShipmentEvent(b"\x11" * 32, "ARRI", "NLRTM", int(time.time()) - 60, b"\x22" * 32)
    other_leg = td.ShipmentEvent(event.shipment_id, "ARRI", "SGSIN", event.event_time - 3600, b"\x23" * 32)
    chain.confirm(other_leg)  # ARRI stays confirmed at SGSIN after NLRTM is retracted
    deals = FakeDeals(chain)
    for deal_id in range(1, 18):
        deals.add(event.shipment_id, deal_id, ("ARRI", "NLRTM", RELEASED if deal_id % 2 else PAID_OUT))
    deals.add(event.shipment_id, 18, ("ARRI", "", RELEASED))  # any call: still met at SGSIN
    deals.add(event.shipment_id, 19, ("ARRI", "NLRTM", PENDING))  # nothing to undo
    keeper = DealKeeper(deals)
    named = keeper.notify_list(event, retraction=True)
    assert named == list(range(1, 17))
    assert keeper.to_poke(event, retraction=True, named=named) == [17]
    assert keeper.to_poke(event, retraction=True, named=named, failed=[5]) == [5, 17]
