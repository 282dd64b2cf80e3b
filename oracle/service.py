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
from .errors import BodyTooLarge, ContentConflict, NotReady, SignatureRejected, ValidationFailed
from .hmac_auth import SecretBook
from .normalize import normalize_carrier_event, normalize_fx, parse_json_object
from .settings import OracleSettings
from .store import Conflict, Store

log = logging.getLogger(__name__)

_HEX_SIG = re.compile(r"^0x[0-9a-fA-F]{130}$")


def hex0x(b: bytes) -> str:
    return "0x" + bytes(b).hex()


class OperatorService:
    def __init__(self, settings: OracleSettings, store: Store, account: LocalAccount, secrets: SecretBook,
                 domains: Mapping[str, td.Domain], clock: Callable[[], float] = time.time):
        self.settings = settings
        self.store = store
        self.account = account
        self.address = account.address
        self.secrets = secrets
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
        """The on-chain set (None until read: no submission before that)."""
        with self._lock:
            return self._onchain.get(kind)

    def known_operators(self, kind: str) -> tuple[str, ...]:
        ops = self.operator_set(kind)
        return ops.operators if ops is not None else self._configured.operators

    def domain(self, kind: str) -> td.Domain:
        d = self.domains.get(kind)
        if d is None:
            what = "LogisticsOracle" if kind == "shipment" else "FxRateStore"
            raise NotReady(f"no {what} address configured: this operator cannot sign {kind} reports")
        return d

    # ------------------------------------------------------------------------------ carrier input
    def _check_size(self, body: bytes) -> None:
        if len(body) > self.settings.max_body_bytes:
            raise BodyTooLarge(f"body of {len(body)} bytes exceeds {self.settings.max_body_bytes}")

    def post_carrier_event(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        self._check_size(body)
        source = self.secrets.verify(headers, body, now=self.clock(), max_skew=self.settings.hmac_max_skew_seconds)
        return self.ingest_carrier_event(parse_json_object(body), source)

    def ingest_carrier_event(self, raw: dict[str, Any], source: str) -> tuple[int, dict[str, Any]]:
        """Validate, persist (before any answer), sign. Returns (HTTP status, body)."""
        norm = normalize_carrier_event(raw, now=self.clock(),
                                       max_future_skew=self.settings.max_event_future_skew_seconds)
        event_id = norm.event.event_id_key
        kind = subject = digest = message = None
        label = f"{norm.code} for {norm.reference}"
        if norm.struct is not None:
            domain = self.domain("shipment")
            kind, subject, message = "shipment", norm.struct.subject, norm.struct.to_json()
            digest = hex0x(td.digest(norm.struct, domain))
            label = f"{norm.code} at {norm.struct.location} for {norm.reference}"
        try:
            created, rec = self.store.accept_carrier_event(
                event_id=event_id, source=source, evidence=hex0x(norm.evidence),
                canonical=norm.canonical.decode("utf-8"), reference=norm.reference, code=norm.code,
                ignored_reason=norm.ignored_reason, kind=kind, subject=subject, digest=digest, message=message,
                label=label)
        except ContentConflict as exc:
            log.warning("carrier %s: refused event %s (%s): %s", source, event_id, label, exc.detail)
            if "acceptedDigest" in exc.extra and kind and subject:
                self.store.record_conflict(kind=kind, subject=subject, label=label, signer=f"carrier:{source}",
                                           held_digest=exc.extra["acceptedDigest"],
                                           other_digest=exc.extra["postedDigest"], origin="carrier",
                                           detail=f"carrier {source} posted eventID {event_id} with different "
                                                  f"content for an already-signed {label}")
            raise
        body: dict[str, Any] = {"eventID": event_id, "evidenceHash": rec.evidence, "shipmentReference": norm.reference,
                                "eventCode": norm.code}
        if not created:
            body.update(status="duplicate", detail="this event was already accepted with the same content; "
                                                   "it is not signed again", digest=rec.report_digest)
            return 200, body
        if norm.struct is None:
            log.info("carrier %s: event %s (%s) acknowledged, not attested: %s", source, event_id, label,
                     norm.ignored_reason)
            body.update(status="ignored", detail=norm.ignored_reason)
            return 200, body
        log.info("carrier %s: accepted %s (event %s, digest %s)", source, label, event_id, digest)
        self._sign_after_accept(digest)
        self._wake()
        body.update(status="accepted", digest=digest, shipmentId=message["shipmentId"], location=message["location"],
                    eventTime=message["eventTime"], state=self._state(digest))
        return 202, body

    def _state(self, digest: str) -> str:
        r = self.store.report(digest)
        return r.state.value if r else "unknown"

    # ------------------------------------------------------------------------------ FX input
    def post_fx_rate(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        self._check_size(body)
        source = self.secrets.verify(headers, body, now=self.clock(), max_skew=self.settings.hmac_max_skew_seconds)
        return self.ingest_fx_rate(parse_json_object(body), source)

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
        if not isinstance(payload, dict):
            raise ValidationFailed("expected a JSON object", field="body")
        kind = payload.get("kind")
        if kind not in td.STRUCTS:
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
            "reports": reports,
        }
