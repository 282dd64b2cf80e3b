"""Releases for every deal: whom a report names, and whom its submitter pokes afterwards.

LogisticsOracle keeps no list of waiting deals: a deal reads the oracle when it is poked, and a
report may name up to ``MAX_NOTIFY_PER_REPORT`` (escrow, deal id) pairs to call in the same
transaction. The submitter of a report:

1. **names** the deals the event concerns, read from the DealEngine's ``DealFunded`` logs for the
   shipment (``DealsPort.funded_deals``, cached): for a confirmation, the funded deals with a
   pending milestone of this event code at this location (or at any transport call); for a
   retraction, the deals with a released (or paid-out) milestone the event had met. At most
   16, in deal-id order;
2. after the transaction, **pokes** the others: for a confirmation every funded deal of the
   shipment the report did not name (or whose callback failed, ``ListenerFailed``) with a
   milestone ``DealLens.releasable`` says is met; for a retraction every concerned deal not named
   (or failed) whose released milestone is no longer met (``poke`` applies the deal's retraction
   rule: undo if the funds have not moved on, else Contested).

So releases (and their undoing) are automatic for every deal, however many wait on a shipment.
The engine records the named deals on the report before the poke pass and marks the pass done
after it, so a restarted submitter finishes it. Whom to name changes nothing a deal can lose: an
unnamed deal is released by its next poke, by anyone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Sequence

from chain.clients import Notify
from chain.clients.deals import Deal, MilestoneState
from chain.errors import ContractRevert
from chain.vocabulary import DealState, MilestoneStatus

from .chain_port import DealsPort
from .typed_data import ShipmentEvent

log = logging.getLogger(__name__)

#: ``LogisticsOracle.MAX_NOTIFY_PER_REPORT``
MAX_NOTIFY_PER_REPORT = 16
_RELEASED = (MilestoneStatus.RELEASED, MilestoneStatus.PAID_OUT)


def _meets(m: MilestoneState, ev: ShipmentEvent) -> bool:
    return m.event_code == ev.event_code and m.location in (ev.location, "")


@dataclass(frozen=True)
class Poked:
    deal_id: int
    tx_hash: str | None  # None: the deal had nothing to sync after all


class DealKeeper:
    def __init__(self, deals: DealsPort, max_notify: int = MAX_NOTIFY_PER_REPORT):
        self.deals = deals
        self.max_notify = max_notify

    def _records(self, ev: ShipmentEvent) -> list[Deal]:
        return self.deals.deals(self.deals.funded_deals(ev.shipment_id))

    def concerned(self, ev: ShipmentEvent, *, retraction: bool) -> list[int]:
        """The deals of the shipment this confirmation would release, or this retraction touch."""
        out = []
        for d in self._records(ev):
            if retraction:
                if d.state in (DealState.NONE, DealState.ACCEPTED, DealState.CANCELLED):
                    continue
                if any(_meets(m, ev) and m.status in _RELEASED for m in self.deals.milestones(d.deal_id)):
                    out.append(d.deal_id)
            elif d.state == DealState.FUNDED and any(_meets(m, ev) and m.status == MilestoneStatus.PENDING
                                                     for m in self.deals.milestones(d.deal_id)):
                out.append(d.deal_id)
        return sorted(out)

    def notify_list(self, ev: ShipmentEvent, *, retraction: bool) -> list[int]:
        """The deal ids a report names (at most ``max_notify``)."""
        return self.concerned(ev, retraction=retraction)[:self.max_notify]

    def notify(self, deal_ids: Iterable[int]) -> list[Notify]:
        return [Notify(self.deals.engine_address, d) for d in deal_ids]

    def to_poke(self, ev: ShipmentEvent, *, retraction: bool, named: Sequence[int],
                failed: Sequence[int] = ()) -> list[int]:
        """After the report: the deals it did not (successfully) name that still need a poke."""
        skip = set(named) - set(failed)
        if retraction:
            out = []
            for deal_id in self.concerned(ev, retraction=True):
                if deal_id in skip:
                    continue
                released = [m for m in self.deals.milestones(deal_id) if _meets(m, ev) and m.status in _RELEASED]
                if any(not self.deals.slot_met(ev.shipment_id, m.event_code, m.location) for m in released):
                    out.append(deal_id)
            return out
        return [d.deal_id for d in self._records(ev)
                if d.deal_id not in skip and d.state == DealState.FUNDED and self.deals.releasable(d.deal_id)]

    def poke_rest(self, ev: ShipmentEvent, *, retraction: bool, named: Sequence[int],
                  failed: Sequence[int] = ()) -> list[Poked]:
        """Poke every deal :meth:`to_poke` returns; a deal that refuses the poke is logged and
        skipped (ChainUnavailable propagates: the engine retries the whole pass)."""
        done = []
        for deal_id in self.to_poke(ev, retraction=retraction, named=named, failed=failed):
            try:
                sub = self.deals.poke(deal_id)
            except ContractRevert as exc:
                log.warning("poke of deal %d refused: %s", deal_id, exc)
                continue
            done.append(Poked(deal_id, sub.tx_hash if sub else None))
            log.info("poked deal %d after the %s of %s%s", deal_id, "retraction" if retraction else "confirmation",
                     ev.label(), f" ({sub.tx_hash})" if sub else ": nothing to sync")
        return done
