"""Retractions and updates of attested events, carried to the chain.

When a carrier retracts an event this operator attested (DCSA 3.0.0 ``isRetracted: true``,
3.0.0-Beta-1 ``metadata.retractedEventID``), or sends a newer version of it (3.0.0: same
originating party and eventID, later ``eventUpdatedDateTime``, different content), the store
records an **intent** (``intents`` table) in the same transaction as the event: ``kind``
(``retraction`` | ``update``), the original event and its report digest (the on-chain eventId),
for an update the digest of the replacement struct (kept with the event row: ``Store.proposed``),
and ``reason_hash``: the evidence hash of the retracting / updating message, the ``reasonHash`` of
the on-chain ``Retraction(eventId, reasonHash, retractedAt)``.

Each engine tick hands every pending intent to an :class:`IntentHandler`; the default,
:class:`RetractAndReplace`, does what the standard means, with the guards of any report (k of n
signatures, freshness):

- **The original is not confirmed yet.** A retraction *holds* it: this operator never submits it.
  If another operator (one the carrier did not tell) confirms it anyway, it is retracted as below.
  An update does not hold it: the operators' signatures over the original can only be voided on
  chain, so the original goes to the chain like any attested event and is then retracted and
  replaced (the newer version wins in the end; a deal may see the older one for two blocks).
- **The original is confirmed.** The operators sign a k-of-n retraction report. Its
  ``retractedAt`` must be fresh on chain and the same for k operators, so one operator proposes
  it: the first in the rotation of the eventId (``oracle.leader``; the next one after
  ``leader_timeout`` if it stays silent) signs ``Retraction(eventId, reasonHash, chain time)`` and
  shares it; every other operator holding a pending intent with the same ``reasonHash`` (it
  received the same retraction from the carrier) signs a fresh proposal it receives, never one it
  has no carrier message for. The engine then submits it like any report (quorum, leader,
  ``submitRetraction`` naming the deals concerned, pokes for the rest: ``oracle.keeper``); the deals
  apply their retraction rule (undo a release whose funds have not moved on, else Contested). A
  proposal that went stale is proposed again.
- **The original is retracted on chain** (by us or another operator, seen in the logs): a
  retraction intent is done. For an update, the replacement is now signed as the slot's next
  content (``Store.create_report``: a slot takes a new content only once its previous one is
  dead) and confirmed like any report; the intent is done when it is confirmed, failed if the
  chain refuses it (stale, or another content took the slot).
- **The original ended unconfirmed** (stale, refused): nothing to retract; an update's replacement
  is signed afresh.

Every decision is stored with a sentence (``GET /events/{eventID}`` shows it with the reports'
transactions and blocks).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from . import typed_data as td
from .errors import ChainUnavailable, ContentConflict
from .leader import rotation, turn_delay
from .store import OPEN_STATES, IntentRecord, Report, State, Store

if TYPE_CHECKING:  # pragma: no cover
    from .service import OperatorService

log = logging.getLogger(__name__)

IntentState = Literal["pending", "done", "failed", "obsolete"]

#: a proposal is signed only if it stays fresh this long (the contract's own skew for the future)
FRESHNESS_MARGIN_SECONDS = 60
MAX_CLOCK_SKEW_SECONDS = 300  # QuorumSigners.MAX_CLOCK_SKEW
#: proposals of one retraction that may go stale before the intent is given up
MAX_PROPOSALS = 5


@dataclass(frozen=True)
class IntentDecision:
    state: IntentState
    detail: str


class IntentHandler(Protocol):
    def handle(self, intent: IntentRecord, original: Report | None, store: Store) -> IntentDecision | None:
        """Act on `intent` (submit, or check a submission); the decision is stored. None: no change."""


def _tx(report: Report, tx: str | None, block: int | None) -> str:
    return f"transaction {tx} (block {block})" if tx else f"a transaction not found yet ({report.digest})"


class RetractAndReplace:
    """The default handler (see the module docstring)."""

    def __init__(self, service: "OperatorService", chain: Any | None):
        self.service = service
        self.chain = chain

    @staticmethod
    def _decide(intent: IntentRecord, state: IntentState, detail: str) -> IntentDecision | None:
        if intent.state == state and intent.detail == detail:
            return None
        log.info("intent #%d (%s of %s from %s): %s: %s", intent.id, intent.kind, intent.event_id, intent.source,
                 state, detail)
        return IntentDecision(state, detail)

    def handle(self, intent: IntentRecord, original: Report | None, store: Store) -> IntentDecision | None:
        if original is None:
            return self._decide(intent, "obsolete", "the original report is unknown to this operator")
        if original.state == State.RETRACTED:
            where = _tx(original, original.retracted_tx, original.retracted_block)
            if intent.kind == "retraction":
                return self._decide(intent, "done", f"retracted on chain in {where}")
            return self._replace(intent, store, f"the original was retracted on chain in {where}")
        if original.state in (State.REJECTED, State.CONFLICT):
            if intent.kind == "retraction":
                return self._decide(intent, "obsolete", f"the original report ended {original.state.value} "
                                                        f"without being confirmed: nothing to retract")
            if original.dead:
                return self._replace(intent, store, f"the original ended {original.state.value} unconfirmed")
            return self._decide(intent, "failed", f"the original ended {original.state.value} and its slot holds "
                                                  f"another content: the newer version cannot be confirmed there")
        if original.state == State.CONFIRMED:
            if self.chain is None:
                return self._decide(intent, "pending", "confirmed on chain; no chain connection to retract it")
            try:
                return self._retract(intent, original, store)
            except ChainUnavailable as exc:
                return self._decide(intent, "pending", f"waiting for the chain: {exc}"[:300])
        if intent.kind == "retraction":
            return self._decide(intent, "pending", "held: not confirmed, and this operator does not submit it; "
                                                   "waiting for the on-chain retraction if another operator confirms it")
        return self._decide(intent, "pending", "the original is being confirmed on chain; it is then retracted and "
                                               "the newer version confirmed")

    # ------------------------------------------------------------------ retraction report
    def _retract(self, intent: IntentRecord, original: Report, store: Store) -> IntentDecision | None:
        event_id = original.digest
        mine = store.reports_for_slot("retraction", event_id)
        live = [r for r in mine if r.state in (State.ACCEPTED, *OPEN_STATES)]
        if any(r.state == State.CONFIRMED for r in mine):
            return self._decide(intent, "pending", "retraction confirmed on chain; updating the original")
        if live:
            r = live[-1]
            signers = len(store.signatures(r.digest))
            return self._decide(intent, "pending", f"retraction report {r.digest} {r.state.value} "
                                                   f"({signers} signature{'s' if signers != 1 else ''})")
        if sum(r.state == State.REJECTED for r in mine) >= MAX_PROPOSALS:
            return self._decide(intent, "failed", f"{MAX_PROPOSALS} retraction proposals expired without a quorum")
        ops = self.service.operator_set("shipment")
        if ops is None:
            return self._decide(intent, "pending", "waiting for the on-chain operator set")
        signed = {r.digest for r in mine}
        candidates = [(d, td.Retraction.from_json(m)) for d, m in sorted(store.messages_for("retraction",
                                                                                            event_id).items())
                      if d not in signed]
        # only the retraction the carrier sent us (same reasonHash)
        candidates = [(d, p) for d, p in candidates if "0x" + p.reason_hash.hex() == intent.reason_hash]
        chain_now = int(self.chain.chain_time()) if candidates else None
        for digest, proposal in candidates:
            window = ops.staleness_window or 0
            if chain_now - window + FRESHNESS_MARGIN_SECONDS <= proposal.retracted_at \
                    <= chain_now + MAX_CLOCK_SKEW_SECONDS:
                self._sign(store, proposal, digest, original)
                return self._decide(intent, "pending", f"signed the retraction proposed by a peer (retractedAt "
                                                       f"{proposal.retracted_at}): {digest}")
        delay = turn_delay(event_id, ops.operators, self.service.address, self.service.settings.leader_timeout_seconds)
        if delay is None:
            return self._decide(intent, "pending", "this operator is not in the on-chain operator set")
        ready_at = max(intent.created_at, original.finished_at or 0.0)
        if time.time() < ready_at + delay:
            leader = rotation(event_id, ops.operators)[0]
            return self._decide(intent, "pending", f"waiting for {leader} to propose the retraction")
        chain_now = int(self.chain.chain_time()) if chain_now is None else chain_now
        proposal = td.Retraction(bytes.fromhex(event_id[2:]), bytes.fromhex(intent.reason_hash[2:]), chain_now)
        digest = "0x" + td.digest(proposal, self.service.domain("retraction")).hex()
        self._sign(store, proposal, digest, original)
        return self._decide(intent, "pending", f"proposed the retraction (retractedAt {chain_now}): {digest}")

    def _sign(self, store: Store, proposal: td.Retraction, digest: str, original: Report) -> None:
        store.create_report(kind="retraction", slot=proposal.subject, digest=digest, message=proposal.to_json(),
                            label=f"retraction of {original.label}"[:200], reference=original.reference)
        self.service.sign_new(digest)

    # ------------------------------------------------------------------ replacement (updates)
    def _replace(self, intent: IntentRecord, store: Store, how: str) -> IntentDecision | None:
        proposed = store.proposed(intent.trigger_event)
        if intent.replacement_digest is None or proposed is None:
            return self._decide(intent, "done", f"{how}; the newer version is not an attested event: nothing "
                                                f"to confirm")
        digest, message, label = proposed
        report = store.report(digest)
        if report is None:
            struct = td.ShipmentEvent.from_json(message)
            try:
                store.create_report(kind="shipment", slot=struct.subject, digest=digest, message=message, label=label,
                                    reference=store.event_reference(intent.trigger_event),
                                    event_row=intent.trigger_event)
            except ContentConflict as exc:
                return self._decide(intent, "failed", f"{how}; the newer version cannot be signed: {exc.detail}")
            self.service.sign_new(digest)
            return self._decide(intent, "pending", f"{how}; the newer version is signed: {digest}")
        if report.state == State.CONFIRMED:
            return self._decide(intent, "done", f"{how}; the newer version is confirmed in "
                                                f"{_tx(report, report.tx_hash, report.block_number)}")
        if report.state == State.RETRACTED:
            return self._decide(intent, "done", f"{how}; the newer version was confirmed, then retracted")
        if report.state in (State.REJECTED, State.CONFLICT):
            why = report.refusal.sentence if report.refusal else report.last_error
            return self._decide(intent, "failed", f"{how}; the newer version ended {report.state.value}: {why}")
        return self._decide(intent, "pending", f"{how}; the newer version is {report.state.value}: {digest}")


def process_intents(store: Store, handler: IntentHandler) -> int:
    """One pass over the pending intents; returns how many changed."""
    changed = 0
    for intent in store.intents(["pending"]):
        try:
            decision = handler.handle(intent, store.report(intent.original_digest), store)
        except Exception:  # a handler failure must not stop the engine; retried next tick
            log.exception("intent #%d: handler failed", intent.id)
            continue
        if decision is not None:
            store.update_intent(intent.id, decision.state, decision.detail)
            changed += 1
    return changed
