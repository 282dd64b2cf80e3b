"""The operator's background work, one thread: sign what was accepted but not signed, deliver
signatures to peers until they acknowledge, and drive each open report to a final state.

Reports are shipment events, FX observations and retractions (``oracle.typed_data``). Per open
report, every tick:
1. if the chain already decided it: ``confirmed`` (same content; for a retraction: the event is
   retracted), ``retracted`` (a confirmed event retracted since), or ``conflict`` (another content
   fills the slot); checked at most every ``confirm_poll_seconds``;
2. once k signatures from on-chain operators agree on its digest: ``quorum``;
3. when it is this operator's turn in the digest's rotation (``oracle.leader``): check the chain
   again, name the deals concerned (``oracle.keeper``), submit one transaction with k signatures,
   record the result, then poke the deals the report could not name. A revert because the chain
   already holds it counts as success; a stale report is ``rejected``; anything else is retried
   with exponential backoff.

Besides, every ``confirm_poll_seconds`` the engine reads the oracle's ``EventRetracted`` logs, so
an operator learns of a retraction another operator submitted (its report becomes ``retracted``),
and it hands the pending intents (carriers' retractions and updates) to the intent handler
(``oracle.intents``), which creates retraction and replacement reports that this same machinery
signs, shares and submits.

Everything it decides is written to the database first, so a restarted operator resumes where it
stopped: open reports are re-shared, re-checked on chain and only then submitted; an unfinished
poke pass is run again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from chain.errors import ContractRevert

from . import refusals
from . import typed_data as td
from .chain_port import ChainPort, Submission
from .errors import ChainUnavailable, ConfigError
from .intents import IntentHandler, RetractAndReplace, process_intents
from .keeper import DealKeeper
from .leader import turn_delay
from .peers import PeerClient, signature_payload
from .service import OperatorService
from .store import OPEN_STATES, Report, State, Store

log = logging.getLogger(__name__)

# reverts after which this report can never be accepted (after checking the chain did not
# already take it): too old, already processed, or content the contract refuses
TERMINAL_REVERTS = refusals.FINAL
# wall clock vs block time: give up on an unconfirmed report only this long after the window closed
STALE_MARGIN_SECONDS = 300
# anything else (InsufficientSignatures, NotOperator, OperatorNotActive, FutureReport,
# QuorumNotConfigured...) may pass later (operator set or clock changes): retried with backoff
RETRACTIONS_SCANNED = "retractions_scanned_block"


def observed_at(struct: Any) -> int:
    """The time the contract checks for freshness."""
    if struct.kind == "shipment":
        return struct.event_time
    if struct.kind == "retraction":
        return struct.retracted_at
    return struct.observed_at


class Engine:
    def __init__(self, service: OperatorService, store: Store, peers: PeerClient, chain: ChainPort | None,
                 intent_handler: IntentHandler | None = None, keeper: DealKeeper | None = None):
        self.service = service
        self.store = store
        self.peers = peers
        self.chain = chain
        self.keeper = keeper  # None: reports name no deal and nothing is poked
        # what to do about carriers' retractions and updates (oracle.intents)
        self.intent_handler: IntentHandler = intent_handler or RetractAndReplace(service, chain)
        self.settings = service.settings
        self.metrics = service.metrics
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_check: dict[str, float] = {}
        self._last_refresh = 0.0
        self._last_scan = 0.0
        self._last_head = 0.0
        self.ticks = 0

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        n = self.store.requeue_deliveries()
        if n:
            log.info("resuming: %d signature deliveries re-queued for open reports", n)
        self.service.set_wakeup(self._wake.set)
        self._thread = threading.Thread(target=self._run, name="oracle-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop must survive anything; the next tick retries
                log.exception("engine tick failed")
            self._wake.wait(self.settings.poll_interval_seconds)
            self._wake.clear()

    # ------------------------------------------------------------------------------ one round
    def tick(self) -> None:
        self.ticks += 1
        self.refresh_operator_sets()
        for report in self.store.reports([State.ACCEPTED]):
            self.service.sign_report(report.digest)
        self.deliver_due()
        try:
            self.sample_head()
            self.scan_retractions()
            for report in self.store.reports(OPEN_STATES):
                if self._stop.is_set():
                    return
                self.progress(report)
            self.finish_keeper_passes()
        except ChainUnavailable as exc:
            self._chain_down(exc)
            return
        process_intents(self.store, self.intent_handler)

    def _chain_down(self, exc: Exception) -> None:
        if self.service.chain_state.get("reachable") is not False:
            log.warning("chain unreachable: %s (retrying)", exc)
        self.service.chain_state.update(reachable=False, last_error=str(exc)[:300], checked_at=time.time())
        self.metrics.chain_reachable.set(0)

    def _chain_up(self) -> None:
        if self.service.chain_state.get("reachable") is False:
            log.info("chain reachable again")
        self.service.chain_state.update(reachable=True, last_error=None, checked_at=time.time())
        self.metrics.chain_reachable.set(1)

    def refresh_operator_sets(self, force: bool = False) -> None:
        if self.chain is None:
            return
        now = time.time()
        if not force and now - self._last_refresh < self.settings.chain_refresh_seconds:
            return
        self._last_refresh = now
        try:
            for kind in ("shipment", "fx"):
                if kind in self.service.domains:
                    self.service.set_operator_set(kind, self.chain.operator_set(kind))
            self._chain_up()
        except ChainUnavailable as exc:
            self._last_refresh = now - self.settings.chain_refresh_seconds + 1.0  # retry in a second
            self._chain_down(exc)
        except (ContractRevert, ConfigError) as exc:
            log.error("cannot read the operator set: %s", exc)

    # ------------------------------------------------------------------------------ sharing
    def deliver_due(self) -> None:
        now = time.time()
        for d in self.store.due_deliveries(now):
            if self._stop.is_set():
                return
            report = self.store.report(d.digest)
            payload = signature_payload(kind=d.kind, message=d.message, digest=d.digest, signer=self.service.address,
                                        signature=d.signature, label=report.label if report else "",
                                        sender=self.settings.name)
            result = self.peers.deliver(d.peer, payload)
            self.metrics.signatures_sent.labels(peer=d.peer, result="ok" if result.ok else "failed").inc()
            if result.ok:
                self.store.delivery_done(d.id)
                log.debug("delivered signature for %s to %s", d.digest, d.peer)
                returned = (result.body or {}).get("signature")
                if isinstance(returned, dict):  # the peer's own signature over the same digest
                    try:
                        self.service.receive_signature({"kind": d.kind, "message": d.message, "digest": d.digest,
                                                        **returned, "from": d.peer})
                    except Exception as exc:
                        log.warning("peer %s returned an unusable signature for %s: %s", d.peer, d.digest, exc)
                continue
            attempts = self.store.delivery_attempts(d.id) + 1
            cap = self.settings.delivery_backoff_max_seconds
            backoff = cap if result.permanent else min(cap, 0.25 * 2 ** min(attempts, 10))
            self.store.delivery_failed(d.id, result.error or "failed", backoff)
            level = logging.WARNING if result.permanent or attempts in (1, 5, 20) else logging.DEBUG
            log.log(level, "delivery of %s to %s failed (attempt %d, retry in %.1fs): %s", d.digest, d.peer,
                    attempts, backoff, result.error)

    def sample_head(self) -> None:
        """The latest block, for the metrics (at most every ``confirm_poll_seconds``)."""
        if self.chain is None or not hasattr(self.chain, "head"):
            return
        now = time.time()
        if now - self._last_head < self.settings.confirm_poll_seconds:
            return
        self._last_head = now
        self.metrics.head(*self.chain.head())
        self._chain_up()

    # ------------------------------------------------------------------------------ retractions seen on chain
    def scan_retractions(self, force: bool = False) -> int:
        """Read the oracle's EventRetracted logs since the last scan: our reports of a retracted
        event become ``retracted`` and our proposals to retract it ``confirmed``, whoever
        submitted the retraction. Returns how many reports changed."""
        if self.chain is None or not hasattr(self.chain, "retractions_since") or "shipment" not in self.service.domains:
            return 0
        now = time.time()
        if not force and now - self._last_scan < self.settings.confirm_poll_seconds:
            return 0
        self._last_scan = now
        start = int(self.store.meta(RETRACTIONS_SCANNED) or 0)
        logs, next_block = self.chain.retractions_since(max(0, start - 12))  # re-read a few: reorgs
        changed = 0
        for entry in logs:
            changed += self._retracted_on_chain(entry.event_id, entry.tx_hash, entry.block_number, entry.submitter)
        self.store.set_meta(RETRACTIONS_SCANNED, str(next_block))
        return changed

    def _learn_retraction(self, event_id: str) -> int:
        """The chain says `event_id` is retracted: find the retraction's log and apply it."""
        found = self.chain.find_retraction(bytes.fromhex(event_id[2:]))
        if found is None:
            return self._retracted_on_chain(event_id, None, None)
        return self._retracted_on_chain(event_id, found.tx_hash, found.block_number, found.submitter)

    def _retracted_on_chain(self, event_id: str, tx_hash: str | None, block: int | None,
                            submitter: str | None = None) -> int:
        changed = 0
        for r in self.store.reports_by_digest([event_id]):
            if r.kind == "shipment" and r.state != State.RETRACTED:
                confirmed: dict[str, Any] = {}
                if not r.tx_hash:  # retracted before this operator saw the confirmation: say which it was
                    found = self._confirmation_of(r)
                    if found is not None:
                        confirmed = {"tx_hash": found.tx_hash, "block_number": r.block_number or found.block_number}
                self.store.update_report(r.digest, state=State.RETRACTED, retracted_tx=tx_hash, retracted_block=block,
                                         last_error=None, **confirmed)
                self.metrics.carrier_events.labels(state="retracted").inc()
                log.info("RETRACTED on chain: %s (eventId %s, in %s)", r.label, r.digest, tx_hash)
                changed += 1
        for r in self.store.reports_for_slot("retraction", event_id):
            if r.state != State.CONFIRMED:
                mine: dict[str, Any] = {}
                if self._sent_unrecorded(r, submitter):
                    mine = {"submissions_inc": 1, "confirmed_by": self.service.address}
                self.store.update_report(r.digest, state=State.CONFIRMED, tx_hash=r.tx_hash or tx_hash,
                                         block_number=r.block_number or block, last_error=None, **mine)
                self._observe_confirmation(r)
                changed += 1
        return changed

    # ------------------------------------------------------------------------------ reports
    def progress(self, report: Report) -> None:
        if self.chain is None:
            return
        struct = td.struct_from_json(report.kind, report.message)
        now = time.time()
        if now - self._last_check.get(report.digest, 0.0) >= self.settings.confirm_poll_seconds:
            self._last_check[report.digest] = now
            if self.check_final(report, struct):
                return
        if report.held_reason:  # retracted by the carrier: never submitted by us
            return
        ops = self.service.operator_set(td.CONTRACT_OF[report.kind])
        if ops is None or ops.threshold <= 0:
            return
        observed = observed_at(struct)
        if ops.staleness_window and observed < now - ops.staleness_window - STALE_MARGIN_SECONDS:
            # the contract would refuse it as stale: stop polling it for ever, and say why
            refusal = refusals.stale(observed, ops.staleness_window, self._chain_time(now), predicted=True)
            self.store.record_refusal(report.digest, refusal)
            self._reject(report, refusal.sentence)
            log.warning("%s expired without confirmation: %s", report.label, refusal.sentence)
            return
        valid = self._valid_signatures(report.digest, ops.operators)
        if report.state == State.SIGNED:
            if len(valid) < ops.threshold:
                return
            self.store.update_report(report.digest, state=State.QUORUM, quorum_at=now)
            first = self.store.first_signature_at(report.digest)
            if first is not None:
                self.metrics.quorum_seconds.labels(kind=report.kind).observe(max(0.0, now - first))
            log.info("quorum for %s: %d agreeing signatures, k=%d (%s)", report.label, len(valid), ops.threshold,
                     ", ".join(sorted(valid)))
            report = self.store.report(report.digest)
        if len(valid) < ops.threshold or now < report.next_attempt_at:
            return
        delay = turn_delay(report.digest, ops.operators, self.service.address, self.settings.leader_timeout_seconds)
        if delay is None:
            return
        if report.state == State.SUBMITTED and report.submitted_at and \
                now - report.submitted_at < self.settings.chain.receipt_timeout_seconds:
            return  # our earlier submission (before a restart) may still be pending
        if now < (report.quorum_at or now) + delay:
            return
        self.submit(report, struct, valid, ops.threshold, delay)

    def _valid_signatures(self, digest: str, operators: tuple[str, ...]) -> dict[str, str]:
        allowed = set(operators)
        return {s: sig for s, sig in self.store.signatures(digest).items() if s in allowed}

    def check_final(self, report: Report, struct: Any) -> bool:
        """Finalise the report if the chain already decided it. True if final."""
        assert self.chain is not None
        if report.kind == "shipment":
            return self._check_shipment(report, struct)
        if report.kind == "retraction":
            return self._check_retraction(report, struct)
        return self._check_rate(report, struct)

    def _check_shipment(self, report: Report, struct: td.ShipmentEvent) -> bool:
        st = self.chain.shipment_status(struct)
        self._chain_up()
        if st.confirmed:
            self._finish_confirmed(report, onchain_id=report.digest)
            return True
        if st.retracted:  # confirmed by someone, then retracted, before we looked
            self._learn_retraction(report.digest)
            return True
        if st.held_by_other():
            self._finish_conflict(report, f"the chain confirmed another event for {report.label} in the same slot "
                                          f"(event tag {st.slot_tag:#012x}); this operator signed {report.digest}")
            return True
        return False

    def _check_retraction(self, report: Report, struct: td.Retraction) -> bool:
        if not self.chain.is_retracted(struct.event_id):
            self._chain_up()
            return False
        self._learn_retraction("0x" + struct.event_id.hex())
        return True

    def _check_rate(self, report: Report, struct: td.FxRate) -> bool:
        latest = self.chain.latest_rate(struct.base, struct.quote)
        self._chain_up()
        if latest is None or latest.observed_at < struct.observed_at:
            return False
        if latest.observed_at == struct.observed_at:
            if latest.rate == struct.rate:
                self._finish_confirmed(report)
            else:
                self._finish_conflict(report, f"the chain holds rate {latest.rate} for {report.subject}, "
                                              f"this operator signed {struct.rate}")
        else:
            self._reject(report, f"superseded on chain by an observation at {latest.observed_at}")
            log.info("%s superseded on chain by a newer observation", report.label)
        return True

    def _chain_time(self, fallback: float) -> float | None:
        try:
            return float(self.chain.chain_time()) if self.chain is not None else fallback
        except Exception:  # only for a sentence: the operator's clock will do
            return fallback

    def _observe_confirmation(self, report: Report) -> None:
        first = self.store.first_signature_at(report.digest)
        if first is not None:
            self.metrics.confirmation_seconds.labels(kind=report.kind).observe(max(0.0, time.time() - first))
        if report.kind == "shipment":
            self.metrics.carrier_events.labels(state="confirmed").inc()

    def _reject(self, report: Report, error: str) -> None:
        self.store.update_report(report.digest, state=State.REJECTED, last_error=error)
        self._last_check.pop(report.digest, None)
        if report.kind == "shipment":
            self.metrics.carrier_events.labels(state="rejected").inc()

    def _finish_confirmed(self, report: Report, tx_hash: str | None = None, onchain_id: str | None = None,
                          by_me: bool = False, block_number: int | None = None) -> None:
        fields: dict[str, Any] = {"state": State.CONFIRMED, "last_error": None}
        if tx_hash is None and report.kind == "shipment" and not report.tx_hash:
            found = self._confirmation_of(report)  # confirmed by another operator: its transaction, for the carrier
            if found is not None:
                tx_hash, block_number = found.tx_hash, found.block_number
                if self._sent_unrecorded(report, found.submitter):
                    by_me = True
                    fields["submissions_inc"] = 1
        if block_number is not None:
            fields["block_number"] = block_number
        if tx_hash:
            fields["tx_hash"] = tx_hash
        if onchain_id:
            fields["onchain_id"] = onchain_id
        if by_me:
            fields["confirmed_by"] = self.service.address
        self.store.update_report(report.digest, **fields)
        self._last_check.pop(report.digest, None)
        self._observe_confirmation(report)
        log.info("CONFIRMED on chain: %s (digest %s%s)", report.label, report.digest,
                 f", submitted by this operator in {tx_hash}" if by_me else "")

    def _sent_unrecorded(self, report: Report, submitter: str | None) -> bool:
        """The chain's deciding transaction is one this operator sent but never saw the outcome
        of (it stopped, or the receipt did not come, between sending and recording)."""
        return (report.attempts > 0 and not report.tx_hash and submitter is not None
                and submitter.lower() == self.service.address.lower())

    def _confirmation_of(self, report: Report) -> Any:
        """The EventConfirmed log of a shipment report (its transaction and block), or None when
        the chain has none or cannot be read now (the carrier's status then shows no hash yet)."""
        if self.chain is None:
            return None
        try:
            return self.chain.find_confirmation(bytes.fromhex(report.digest[2:]))
        except Exception as exc:
            log.debug("confirmation of %s not looked up: %s", report.digest, exc)
            return None

    def _finish_conflict(self, report: Report, detail: str) -> None:
        self.store.update_report(report.digest, state=State.CONFLICT, last_error=detail)
        self.store.record_conflict(kind=report.kind, subject=report.slot, label=report.label, signer="chain",
                                   held_digest=report.digest, other_digest="onchain", origin="chain", detail=detail)
        self._last_check.pop(report.digest, None)
        log.warning("CONFLICT: %s (our digest %s)", detail, report.digest)

    # ------------------------------------------------------------------------------ submission
    def _event_of(self, report: Report, struct: Any) -> td.ShipmentEvent | None:
        """The shipment event a report confirms or retracts."""
        if report.kind == "shipment":
            return struct
        if report.kind == "retraction":
            message = self.store.message("0x" + struct.event_id.hex())
            return None if message is None else td.ShipmentEvent.from_json(message)
        return None

    def _names(self, report: Report, event: td.ShipmentEvent | None) -> list[int]:
        if self.keeper is None or event is None:
            return []
        try:
            return self.keeper.notify_list(event, retraction=report.kind == "retraction")
        except (ContractRevert, ConfigError) as exc:  # reads failed: submit without naming (deals are poked)
            log.warning("cannot read the deals waiting on %s: %s", event.label(), exc)
            return []

    def submit(self, report: Report, struct: Any, valid: dict[str, str], k: int, delay: float) -> None:
        assert self.chain is not None
        if self.check_final(report, struct):  # never submit what the chain already decided
            return
        chosen = sorted(valid.items(), key=lambda kv: int(kv[0], 16))[:k]
        sigs = [bytes.fromhex(sig[2:]) for _, sig in chosen]
        event = self._event_of(report, struct)
        if report.kind == "retraction" and event is None:
            self._reject(report, "the retracted event's content is unknown to this operator")
            return
        named = self._names(report, event)
        notify = self.keeper.notify(named) if self.keeper is not None else []
        role = "leader" if delay == 0 else f"fallback after {delay:.0f}s"
        log.info("submitting %s as %s with signatures of %s%s", report.label, role, ", ".join(s for s, _ in chosen),
                 f", naming deals {named}" if named else "")
        self.store.update_report(report.digest, state=State.SUBMITTED, submitted_at=time.time(),
                                 attempts=report.attempts + 1, notified=named, keeper_done=False)
        try:
            if report.kind == "shipment":
                sub = self.chain.submit_shipment(struct, sigs, notify)
            elif report.kind == "retraction":
                sub = self.chain.submit_retraction(event, struct, sigs, notify)
            else:
                sub = self.chain.submit_rate(struct, sigs)
        except ContractRevert as exc:
            if exc.tx_hash:  # mined and reverted: it was a submission
                self.store.update_report(report.digest, submissions_inc=1)
            self.metrics.submissions.labels(kind=report.kind, result="reverted").inc()
            self._after_revert(report, struct, exc)
            return
        except ChainUnavailable as exc:
            self.metrics.submissions.labels(kind=report.kind, result="unavailable").inc()
            self._retry(report, f"chain unavailable: {exc}", state=State.QUORUM)
            raise
        self.metrics.submissions.labels(kind=report.kind, result="mined").inc()
        self.store.update_report(report.digest, submissions_inc=1, tx_hash=sub.tx_hash)
        if sub.event_id and report.kind == "shipment" and sub.event_id != report.digest:  # pragma: no cover
            log.error("the contract confirmed eventId %s for %s, this operator computed %s", sub.event_id,
                      report.label, report.digest)
        self._finish_confirmed(report, tx_hash=sub.tx_hash, onchain_id=sub.event_id, by_me=True,
                               block_number=sub.block_number)
        if report.kind == "retraction":
            self._retracted_on_chain("0x" + struct.event_id.hex(), sub.tx_hash, sub.block_number)
        if sub.gas_used:
            log.info("%s: gas used %d", report.label, sub.gas_used)
        self._keeper_pass(self.store.report(report.digest), event, sub)

    def _keeper_pass(self, report: Report | None, event: td.ShipmentEvent | None, sub: Submission | None) -> None:
        """Poke the deals the submission could not name; marks the pass done (ChainUnavailable:
        retried by :meth:`finish_keeper_passes`)."""
        if report is None:
            return
        if self.keeper is not None and event is not None:
            failed = sub.failed_listeners if sub is not None else ()
            try:
                pokes = self.keeper.poke_rest(event, retraction=report.kind == "retraction",
                                              named=report.notified or (), failed=failed)
            except (ContractRevert, ConfigError) as exc:  # the deals cannot be read: they are poked by others
                log.warning("poke pass after %s abandoned: %s", report.label, exc)
                pokes = []
            for p in pokes:
                self.metrics.pokes.labels(result="sent" if p.tx_hash else "nothing").inc()
        self.store.update_report(report.digest, keeper_done=True)

    def finish_keeper_passes(self) -> None:
        """After a restart (or a chain outage mid-pass): finish the poke pass of every report this
        operator submitted."""
        if self.keeper is None:
            return
        for report in self.store.unfinished_keeper_passes(self.service.address):
            struct = td.struct_from_json(report.kind, report.message)
            self._keeper_pass(report, self._event_of(report, struct), None)

    def _after_revert(self, report: Report, struct: Any, exc: ContractRevert) -> None:
        # whatever the error, ask the chain: another operator may have confirmed it meanwhile
        try:
            if self.check_final(report, struct):
                log.info("submission of %s reverted with %s but the chain already holds it: done", report.label, exc)
                return
        except ChainUnavailable:
            pass
        if exc.error_name == "EventReplayed":  # this very digest was processed before, then retracted
            try:
                if self.chain.is_retracted(bytes.fromhex(report.digest[2:])):
                    self._learn_retraction(report.digest)
                    return
            except ChainUnavailable:
                pass
        ops = self.service.operator_set(td.CONTRACT_OF[report.kind])
        refusal = refusals.explain(exc, window=ops.staleness_window if ops else None,
                                   code=getattr(struct, "event_code", None), location=getattr(struct, "location", None))
        self.store.record_refusal(report.digest, refusal)  # the carrier sees it in GET /events/{eventID}
        if refusal.final:
            self._reject(report, refusal.sentence)
            log.error("report %s rejected by the contract for good: %s (%s)", report.label, refusal.sentence, exc)
            return
        self._retry(report, f"reverted: {refusal.sentence}", state=State.QUORUM)

    def _retry(self, report: Report, error: str, state: State) -> None:
        attempts = report.attempts + 1
        backoff = min(self.settings.submit_backoff_max_seconds, 1.0 * 2 ** min(attempts, 8))
        self.store.update_report(report.digest, state=state, last_error=error[:500],
                                 next_attempt_at=time.time() + backoff)
        log.warning("submission of %s failed (attempt %d), retry in %.0fs: %s", report.label, attempts, backoff, error)
