"""The operator's background work, one thread: sign what was accepted but not signed, deliver
signatures to peers until they acknowledge, and drive each open report to a final state.

Per open report, every tick:
1. if the chain says the subject is confirmed: ``confirmed`` (same content) or ``conflict``
   (another content won); checked at most every ``confirm_poll_seconds``;
2. once k signatures from on-chain operators agree on its digest: ``quorum``;
3. when it is this operator's turn in the digest's rotation (``oracle.leader``): check
   ``isConfirmed`` again, submit one transaction with k signatures, and record the result.
   A revert because the event is already confirmed counts as success; a stale report is
   ``rejected``; anything else is retried with exponential backoff.

Everything it decides is written to the database first, so a restarted operator resumes where it
stopped: open reports are re-shared, re-checked on chain and only then submitted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from chain.errors import ContractRevert

from . import typed_data as td
from .chain_port import OracleChain
from .errors import ChainUnavailable, ConfigError
from .leader import turn_delay
from .peers import PeerClient, signature_payload
from .service import OperatorService
from .store import OPEN_STATES, Report, State, Store

log = logging.getLogger(__name__)

# reverts after which this report can never be accepted (after checking the chain did not
# already take it): too old, already processed, or content the contract refuses
TERMINAL_REVERTS = frozenset({"StaleReport", "EventReplayed", "ObservationNotNewer", "InvalidEventCode",
                              "InvalidShipmentId", "MissingEvidence", "InvalidLocode", "InvalidCurrencyCode",
                              "SameCurrency", "ZeroRate"})
# wall clock vs block time: give up on an unconfirmed report only this long after the window closed
STALE_MARGIN_SECONDS = 300
# anything else (InsufficientSignatures, NotOperator, OperatorNotActive, FutureReport,
# QuorumNotConfigured...) may pass later (operator set or clock changes): retried with backoff


class Engine:
    def __init__(self, service: OperatorService, store: Store, peers: PeerClient, chain: OracleChain | None):
        self.service = service
        self.store = store
        self.peers = peers
        self.chain = chain
        self.settings = service.settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_check: dict[str, float] = {}
        self._last_refresh = 0.0
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

    def wake(self) -> None:
        self._wake.set()

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
        for report in self.store.reports(OPEN_STATES):
            if self._stop.is_set():
                return
            try:
                self.progress(report)
            except ChainUnavailable as exc:
                self._chain_down(exc)
                return

    def _chain_down(self, exc: Exception) -> None:
        if self.service.chain_state.get("reachable") is not False:
            log.warning("chain unreachable: %s (retrying)", exc)
        self.service.chain_state.update(reachable=False, last_error=str(exc)[:300], checked_at=time.time())

    def _chain_up(self) -> None:
        if self.service.chain_state.get("reachable") is False:
            log.info("chain reachable again")
        self.service.chain_state.update(reachable=True, last_error=None, checked_at=time.time())

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
        ops = self.service.operator_set(report.kind)
        if ops is None or ops.threshold <= 0:
            return
        observed = struct.event_time if report.kind == "shipment" else struct.observed_at
        if ops.staleness_window and observed < now - ops.staleness_window - STALE_MARGIN_SECONDS:
            # the contract would refuse it as stale: stop polling it for ever
            self.store.update_report(report.digest, state=State.REJECTED,
                                     last_error=f"stale: older than the contract's {ops.staleness_window}s window "
                                                f"before reaching a quorum / confirmation")
            log.warning("%s expired without confirmation (older than %ss)", report.label, ops.staleness_window)
            return
        valid = self._valid_signatures(report.digest, ops.operators)
        if report.state == State.SIGNED:
            if len(valid) < ops.threshold:
                return
            self.store.update_report(report.digest, state=State.QUORUM, quorum_at=now)
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
        """Finalise the report if the chain already decided its subject. True if final."""
        assert self.chain is not None
        if report.kind == "shipment":
            st = self.chain.shipment_status(struct)
            self._chain_up()
            if not st.confirmed:
                return False
            if st.matches(bytes.fromhex(report.digest[2:])) is False:
                self._finish_conflict(report, f"the chain confirmed another content for {report.label}: "
                                              f"eventId 0x{st.event_id.hex()}, this operator signed {report.digest}")
            else:
                self._finish_confirmed(report, onchain_id=report.digest)
            return True
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
            self.store.update_report(report.digest, state=State.REJECTED,
                                     last_error=f"superseded on chain by an observation at {latest.observed_at}")
            log.info("%s superseded on chain by a newer observation", report.label)
        return True

    def _finish_confirmed(self, report: Report, tx_hash: str | None = None, onchain_id: str | None = None,
                          by_me: bool = False) -> None:
        fields: dict[str, Any] = {"state": State.CONFIRMED, "last_error": None}
        if tx_hash:
            fields["tx_hash"] = tx_hash
        if onchain_id:
            fields["onchain_id"] = onchain_id
        if by_me:
            fields["confirmed_by"] = self.service.address
        self.store.update_report(report.digest, **fields)
        self._last_check.pop(report.digest, None)
        log.info("CONFIRMED on chain: %s (digest %s%s)", report.label, report.digest,
                 f", submitted by this operator in {tx_hash}" if by_me else "")

    def _finish_conflict(self, report: Report, detail: str) -> None:
        self.store.update_report(report.digest, state=State.CONFLICT, last_error=detail)
        self.store.record_conflict(kind=report.kind, subject=report.subject, label=report.label, signer="chain",
                                   held_digest=report.digest, other_digest="onchain", origin="chain", detail=detail)
        self._last_check.pop(report.digest, None)
        log.warning("CONFLICT: %s (our digest %s)", detail, report.digest)

    def submit(self, report: Report, struct: Any, valid: dict[str, str], k: int, delay: float) -> None:
        assert self.chain is not None
        if self.check_final(report, struct):  # never submit what the chain already decided
            return
        chosen = sorted(valid.items(), key=lambda kv: int(kv[0], 16))[:k]
        sigs = [bytes.fromhex(sig[2:]) for _, sig in chosen]
        role = "leader" if delay == 0 else f"fallback after {delay:.0f}s"
        log.info("submitting %s as %s with signatures of %s", report.label, role, ", ".join(s for s, _ in chosen))
        self.store.update_report(report.digest, state=State.SUBMITTED, submitted_at=time.time(),
                                 attempts=report.attempts + 1)
        try:
            if report.kind == "shipment":
                sub = self.chain.submit_shipment(struct, sigs)
            else:
                sub = self.chain.submit_rate(struct, sigs)
        except ContractRevert as exc:
            if exc.tx_hash:  # mined and reverted: it was a submission
                self.store.update_report(report.digest, submissions_inc=1)
            self._after_revert(report, struct, exc)
            return
        except ChainUnavailable as exc:
            self._retry(report, f"chain unavailable: {exc}", state=State.QUORUM)
            raise
        self.store.update_report(report.digest, submissions_inc=1, tx_hash=sub.tx_hash)
        if sub.event_id and report.kind == "shipment" and sub.event_id != report.digest:  # pragma: no cover
            log.error("the contract confirmed eventId %s for %s, this operator computed %s", sub.event_id,
                      report.label, report.digest)
        self._finish_confirmed(report, tx_hash=sub.tx_hash, onchain_id=sub.event_id, by_me=True)

    def _after_revert(self, report: Report, struct: Any, exc: ContractRevert) -> None:
        name = exc.error_name.lower()
        # whatever the error, ask the chain: another operator may have confirmed it meanwhile
        try:
            if self.check_final(report, struct):
                log.info("submission of %s reverted with %s but the chain already holds it: done", report.label, exc)
                return
        except ChainUnavailable:
            pass
        if exc.error_name == "EventReplayed":  # this very digest was processed before
            try:
                if self.chain.event_status(bytes.fromhex(report.digest[2:])) == 1:
                    self._finish_confirmed(report)
                    return
            except ChainUnavailable:
                pass
        if exc.error_name in TERMINAL_REVERTS or "stale" in name:
            detail = "retracted on chain earlier" if exc.error_name == "EventReplayed" else str(exc)
            self.store.update_report(report.digest, state=State.REJECTED, last_error=detail)
            log.error("report %s rejected by the contract for good: %s", report.label, exc)
            return
        self._retry(report, f"reverted: {exc}", state=State.QUORUM)

    def _retry(self, report: Report, error: str, state: State) -> None:
        attempts = report.attempts + 1
        backoff = min(self.settings.submit_backoff_max_seconds, 1.0 * 2 ** min(attempts, 8))
        self.store.update_report(report.digest, state=state, last_error=error[:500],
                                 next_attempt_at=time.time() + backoff)
        log.warning("submission of %s failed (attempt %d), retry in %.0fs: %s", report.label, attempts, backoff, error)
