"""The operator's request-side logic: accept carrier events and FX observations, sign them,
accept peers' signatures, report status. Transport-free (the FastAPI app and the replay feed
call it); the background work (sharing, quorum, submission) is ``oracle.engine``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Callable, Mapping

from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from . import typed_data as td
from .chain_port import OperatorSet
from .errors import ContentConflict, NotFound, NotReady, SignatureRejected, ValidationFailed
from .carrier_policy import ReferencePrefixPolicy, ShipmentPolicy
from .credentials import Credential, CredentialStore, Kind
from .event_status import EventStatusView
from .hmac_auth import Principal, authenticate, request_target
from .membership import MembershipCache
from .http_guard import GuardStats
from .intake import CarrierIntake
from .metrics import OperatorMetrics
from .normalize import normalize_fx, parse_json, parse_json_object
from .settings import OracleSettings
from .store import Conflict, Store

log = logging.getLogger(__name__)

_HEX_SIG = re.compile(r"^0x[0-9a-fA-F]{130}$")


def hex0x(b: bytes) -> str:
    return "0x" + bytes(b).hex()


class OperatorService:
    def __init__(self, settings: OracleSettings, store: Store, account: LocalAccount, credentials: CredentialStore,
                 domains: Mapping[str, td.Domain], membership: MembershipCache,
                 shipment_policy: ShipmentPolicy | None = None, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.store = store
        self.account = account
        self.address = account.address
        self.credentials = credentials
        self.membership = membership
        self.shipment_policy: ShipmentPolicy = shipment_policy or ReferencePrefixPolicy()
        self.domains = dict(domains)  # kind -> Domain; a kind without a contract is absent
        self.clock = clock
        self.started_at = clock()
        self._wake: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        configured = tuple(sorted({self.address, *(p.address for p in settings.peers)}, key=str.lower))
        self._configured = OperatorSet(configured, 0, "config")
        self._onchain: dict[str, OperatorSet] = {}
        self.chain_state: dict[str, Any] = {"reachable": None, "last_error": None, "checked_at": None}
        self.peer_names = [p.name for p in settings.peers]
        self.http_stats = GuardStats()
        self.metrics = OperatorMetrics(store.metrics_snapshot)
        self.intake = CarrierIntake(store, settings, self.domain, self.shipment_policy, self._accepted, clock,
                                    count=lambda outcome: self.metrics.carrier_events.labels(state=outcome).inc())
        names = {self.address: settings.name, **{p.address: p.name for p in settings.peers}}
        self.status_view = EventStatusView(store, names, lambda: (self.operator_set("shipment") or self._configured)
                                           .threshold or None)

    # ------------------------------------------------------------------------------ operators
    def set_wakeup(self, fn: Callable[[], None]) -> None:
        self._wake = fn

    def set_operator_set(self, kind: str, ops: OperatorSet) -> None:
        with self._lock:
            previous = self._onchain.get(kind)
            self._onchain[kind] = ops
        if previous != ops:
            log.info("%s operator set from chain: %d-of-%s %s", kind, ops.threshold, len(ops.operators),
                     ", ".join(ops.operators))
            if self.address not in ops.operators:
                log.warning("this operator %s is not in the on-chain %s operator set", self.address, kind)

    def operator_set(self, kind: str) -> OperatorSet | None:
        """The on-chain set of the contract `kind` is signed for (None until read: no submission
        before that)."""
        with self._lock:
            return self._onchain.get(td.CONTRACT_OF.get(kind, kind))

    def known_operators(self, kind: str) -> tuple[str, ...]:
        ops = self.operator_set(kind)
        return ops.operators if ops is not None else self._configured.operators

    def domain(self, kind: str) -> td.Domain:
        d = self.domains.get(td.CONTRACT_OF.get(kind, kind))
        if d is None:
            what = "FxRateStore" if kind == "fx" else "LogisticsOracle"
            raise NotReady(f"no {what} address configured: this operator cannot sign {kind} reports")
        return d

    # ------------------------------------------------------------------------------ carrier input
    def post_carrier_events(self, body: bytes, headers: Mapping[str, str], cap: int) -> tuple[int, dict[str, Any] | None]:
        """``/carrier-events`` and ``/events``: one DCSA event, a DCSA callback array, or a v3
        ``{"events": [...]}`` body (``oracle.intake``)."""
        # authenticate the raw bytes first: an unauthenticated body is never parsed
        principal = self.authorize(headers, body, Kind.CARRIER)
        doc = parse_json(body, max_bytes=cap, max_depth=self.settings.http.max_json_depth)
        return self.intake.ingest_body(doc, principal.source, principal.credential,
                                       dcsa_callback=principal.scheme == "dcsa-notification")

    def authorize(self, headers: Mapping[str, str], signed: bytes, kind: Kind) -> Principal:
        """Who sent this, and may they send it: the credential's MAC and kind (401 / 403), and for
        a carrier its standing as an active LOGISTICS member (403, or 503 if it cannot be read)."""
        principal = authenticate(self.credentials.current(), headers, signed, kind=kind, now=self.clock(),
                                 max_skew=self.settings.hmac_max_skew_seconds,
                                 allow_notification=kind is Kind.CARRIER)
        self.membership.require_active(principal.credential)
        return principal

    def event_status(self, headers: Mapping[str, str], method: str, target: str, event_id: str) -> dict[str, Any]:
        """``GET /events/{eventID}`` for the carrier whose credential signed `method target`."""
        principal = self.authorize(headers, request_target(method, target), Kind.CARRIER)
        found = self.status_view.find(principal.source, event_id)
        if found is None:
            raise NotFound(f"no event {event_id!r} from {principal.source} at operator {self.settings.name}",
                           field="eventID")
        found["operator"] = self.settings.name
        return found

    def ingest_carrier_event(self, raw: dict[str, Any], source: str,
                             credential: Credential | None = None) -> tuple[int, dict[str, Any]]:
        """One carrier event (also the replay files' intake)."""
        return self.intake.ingest(raw, source, credential)

    def _accepted(self, digest: str) -> str:
        self._sign_after_accept(digest)
        self._wake()
        return self._state(digest)

    def _state(self, digest: str) -> str:
        r = self.store.report(digest)
        return r.state.value if r else "unknown"

    # ------------------------------------------------------------------------------ FX input
    def post_fx_rate(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        source = self.authorize(headers, body, Kind.FX).source
        return self.ingest_fx_rate(self._json_object(body, self.settings.http.max_small_body_bytes), source)

    def _json_object(self, body: bytes, cap: int) -> dict[str, Any]:
        return parse_json_object(body, max_bytes=cap, max_depth=self.settings.http.max_json_depth)

    def ingest_fx_rate(self, raw: dict[str, Any], source: str) -> tuple[int, dict[str, Any]]:
        rate = normalize_fx(raw, now=self.clock(), max_future_skew=self.settings.max_event_future_skew_seconds)
        digest = hex0x(td.digest(rate, self.domain("fx")))
        try:
            created = self.store.accept_struct(kind="fx", subject=rate.subject, digest=digest, message=rate.to_json(),
                                               label=rate.label(), reference=source)
        except ContentConflict as exc:
            log.warning("FX source %s: refused %s: %s", source, rate.label(), exc.detail)
            raise
        body = {"pair": f"{rate.base}/{rate.quote}", "rate": str(rate.rate), "decimals": td.FxRate.DECIMALS,
                "observedAt": rate.observed_at, "digest": digest}
        if not created:
            body.update(status="duplicate", detail="this observation was already accepted; not signed again")
            return 200, body
        log.info("FX source %s: accepted %s (digest %s)", source, rate.label(), digest)
        self._sign_after_accept(digest)
        self._wake()
        body.update(status="accepted", state=self._state(digest))
        return 202, body

    # ------------------------------------------------------------------------------ signing
    def _sign_after_accept(self, digest: str) -> None:
        """The event is already persisted: the ack stands even if signing fails now (the engine
        signs reports left `accepted`)."""
        try:
            self.sign_report(digest)
        except Exception:
            log.exception("signing %s failed; the engine will retry", digest)

    def sign_new(self, digest: str) -> None:
        """A report this operator created itself (a retraction proposal, an update's replacement):
        sign it and wake the engine."""
        self._sign_after_accept(digest)
        self._wake()

    def sign_report(self, digest: str) -> None:
        """accepted -> signed. Idempotent; the engine calls it again for reports left `accepted`."""
        report = self.store.report(digest)
        if report is None or report.own_signature:
            return
        struct = td.struct_from_json(report.kind, report.message)
        domain = self.domain(report.kind)
        if hex0x(td.digest(struct, domain)) != digest:  # pragma: no cover - DB from another domain
            raise RuntimeError(f"stored report {digest} does not hash to its digest under {domain}")
        signature = hex0x(td.sign(self.account, struct, domain))
        conflicts = self.store.save_own_signature(digest, self.address, signature, self.peer_names)
        self._log_conflicts(conflicts)
        log.debug("signed %s (%s)", report.label, digest)

    def _log_conflicts(self, conflicts: list[Conflict]) -> None:
        for c in conflicts:
            log.warning("CONFLICT on %s: %s signed digest %s while digest %s is held (%s)", c.label, c.signer,
                        c.other_digest, c.held_digest, c.detail)

    # ------------------------------------------------------------------------------ peer signatures
    def receive_signature(self, payload: Any) -> tuple[int, dict[str, Any]]:
        kind = payload.get("kind") if isinstance(payload, dict) else None
        # a JSON kind may be an object or array (unhashable): only a known name is a label
        label = kind if isinstance(kind, str) and kind in td.STRUCTS else "unknown"
        try:
            status, answer = self._receive_signature(payload)
        except Exception:
            self.metrics.signatures_received.labels(kind=label, result="refused").inc()
            raise
        self.metrics.signatures_received.labels(kind=label, result=answer.get("status", "stored")).inc()
        return status, answer

    def _receive_signature(self, payload: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(payload, dict):
            raise ValidationFailed("expected a JSON object", field="body")
        kind = payload.get("kind")
        if not isinstance(kind, str) or kind not in td.STRUCTS:
            raise ValidationFailed(f"must be one of {sorted(td.STRUCTS)}", field="kind")
        try:
            struct = td.struct_from_json(kind, payload.get("message"))
        except (td.StructError, TypeError) as exc:
            text = str(exc)
            field = "message." + text.split(":", 1)[0] if ":" in text else "message"
            raise ValidationFailed(text.split(":", 1)[-1].strip(), field=field) from None
        signer = payload.get("signer")
        if not isinstance(signer, str) or not is_address(signer):
            raise ValidationFailed("must be an Ethereum address", field="signer")
        signer = to_checksum_address(signer)
        sig = payload.get("signature")
        if not isinstance(sig, str) or not _HEX_SIG.fullmatch(sig):
            raise ValidationFailed("must be a 65-byte 0x-hex signature", field="signature")
        domain = self.domain(kind)
        digest = hex0x(td.digest(struct, domain))
        claimed = payload.get("digest")
        if claimed is not None and str(claimed).lower() != digest:
            raise ValidationFailed(f"the message hashes to {digest} under this operator's domain "
                                   f"(chainId {domain.chain_id}, contract {domain.verifying_contract}), "
                                   f"not {claimed}: is the peer configured for another chain or contract?",
                                   field="digest")
        try:
            recovered = td.recover(struct, domain, bytes.fromhex(sig[2:]))
        except Exception:
            raise SignatureRejected("the signature cannot be recovered", field="signature") from None
        if recovered != signer:
            raise SignatureRejected(f"the signature recovers to {recovered}, not to the claimed signer {signer}",
                                    field="signature")
        if signer not in self.known_operators(kind):
            raise SignatureRejected(f"{signer} is not an oracle operator", field="signer")
        label = str(payload.get("label") or struct.label())[:200]
        answer: dict[str, Any] = {"digest": digest}
        own = self.store.report(digest)
        if own is not None and own.own_signature:
            answer["signature"] = {"signer": self.address, "signature": own.own_signature}
        if signer == self.address:
            answer.update(status="own", detail="this is this operator's own signature")
            return 200, answer
        outcome = self.store.save_peer_signature(kind=kind, subject=struct.subject, digest=digest,
                                                 message=struct.to_json(), label=label, signer=signer,
                                                 signature=sig.lower())
        self._log_conflicts(outcome.conflicts)
        if outcome.new:
            log.info("signature from %s (%s) for %s, digest %s", payload.get("from") or signer, signer, label, digest)
            self._wake()
        answer.update(status="stored" if outcome.new else "duplicate",
                      signatures=len(self.store.signatures(digest)), conflict=bool(outcome.conflicts))
        return 200, answer

    # ------------------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        counts = self.store.counts()
        deliveries = self.store.peer_delivery_stats()
        reports = []
        for r in self.store.reports(limit=50, newest_first=True):
            reports.append({"kind": r.kind, "label": r.label, "reference": r.reference, "digest": r.digest,
                            "subject": r.subject, "state": r.state.value, "signers": sorted(self.store.signatures(r.digest)),
                            "conflicted": r.conflicted, "txHash": r.tx_hash, "onchainId": r.onchain_id,
                            "submissions": r.submissions, "lastError": r.last_error, "message": r.message,
                            "blockNumber": r.block_number, "held": r.held_reason, "generation": r.generation,
                            "retractedTx": r.retracted_tx, "notified": list(r.notified or ()),
                            "refusal": None if r.refusal is None else {"error": r.refusal.name,
                                                                       "sentence": r.refusal.sentence,
                                                                       "final": r.refusal.final},
                            # wall-clock times (unix seconds) of this operator's milestones for the report
                            "signedAt": r.signed_at, "quorumAt": r.quorum_at, "submittedAt": r.submitted_at,
                            "finishedAt": r.finished_at})
        sets = {}
        for kind in ("shipment", "fx"):
            ops = self.operator_set(kind)
            sets[kind] = None if ops is None else {"operators": list(ops.operators), "threshold": ops.threshold}
        return {
            "operator": self.settings.name,
            "address": self.address,
            "uptimeSeconds": round(self.clock() - self.started_at, 1),
            "domains": {k: d.as_dict() for k, d in self.domains.items()},
            "operatorSets": sets,
            "chain": dict(self.chain_state),
            "counts": counts,
            "peers": {p.name: {"url": p.url, "address": p.address, **deliveries.get(p.name, {})}
                      for p in self.settings.peers},
            "conflicts": [c.__dict__ for c in self.store.conflicts()],
            "intents": [i.__dict__ for i in self.store.intents(["pending", "failed"])][-50:],
            "credentials": self.credentials.status(),
            "members": self.membership.status(),
            "http": {"inFlight": self.http_stats.in_flight, "refused": dict(self.http_stats.refused)},
            "reports": reports,
        }
