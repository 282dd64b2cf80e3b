"""Carrier event intake: from a parsed body to recorded (and, if attested, signed) events.

A body is one event or a batch (``oracle.dcsa.split``); each event is classified, and only an
attested one validated strictly (``oracle.normalize``), checked against its carrier's credential
(originating parties, shipments: ``oracle.carrier_policy``), and recorded by the store in one
transaction, which decides what it is (new, replay, retraction, newer or older version: see
``Store.record_carrier_event``). Nothing is answered before it is on disk; a new attested event is
then signed at once.

Answers: 202 ``accepted`` (persisted and signed), 202 ``update`` / ``retraction`` when an intent for
the chain side was recorded (``oracle.intents``), 200 ``duplicate`` / ``ignored`` / ``superseded`` /
``retraction`` (nothing to do on chain), 409 changed content, 403 another carrier's party or
shipment, 422 a field (dotted path). A batch answers 200 with one result per event (204 to a DCSA
subscription callback, as DCSA asks), or, if any event was refused, the first refusal's status as
a problem listing every refused event (``errors``) and what became of each (``results``): the
events that were accepted stay accepted, and a retried batch answers them as duplicates.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from . import dcsa
from . import typed_data as td
from .carrier_policy import ShipmentPolicy
from .credentials import Credential
from .dcsa import V300
from .errors import BatchRefused, ContentConflict, Forbidden, InputError
from .normalize import NormalizedEvent, normalize_carrier_event
from .settings import OracleSettings
from .store import EventEntry, IntakeResult, Store

log = logging.getLogger(__name__)

_PARTY_FIELD = {dcsa.V3_BETA: "metadata.publisher", V300: "eventRouting.originatingParties"}
_STATUS = {"accepted": 202, "update": 202, "duplicate": 200, "ignored": 200, "superseded": 200}


def hex0x(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def json_path(dotted: str) -> str:
    """``events.2.payload.transportCall`` -> ``$.events[2].payload.transportCall`` (DCSA's propertyPath)."""
    out = "$"
    for part in dotted.split(".") if dotted else []:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


class CarrierIntake:
    def __init__(self, store: Store, settings: OracleSettings, domain: Callable[[str], td.Domain],
                 policy: ShipmentPolicy, on_accepted: Callable[[str], str], clock: Callable[[], float],
                 count: Callable[[str], None] = lambda outcome: None):
        self.store = store
        self.count = count  # each event's outcome (metrics)
        self.settings = settings
        self.domain = domain
        self.policy = policy
        self.on_accepted = on_accepted  # signs a new report; returns its state
        self.clock = clock

    # ------------------------------------------------------------------------------ one event
    def ingest(self, raw: dict[str, Any], source: str, credential: Credential | None = None) -> tuple[int, dict[str, Any]]:
        """Classify, validate, persist (before any answer), sign. `credential` is None for the
        operator's own replay files (trusted local input)."""
        try:
            status, body = self._ingest(raw, source, credential)
        except InputError:
            self.count("refused")
            raise
        self.count(str(body.get("status", "accepted")))
        return status, body

    def _ingest(self, raw: dict[str, Any], source: str, credential: Credential | None) -> tuple[int, dict[str, Any]]:
        norm = normalize_carrier_event(raw, now=self.clock(), max_future_skew=self.settings.max_event_future_skew_seconds)
        if credential is not None:
            self._check_credential(credential, norm)
        entry = self._entry(norm, source)
        try:
            result = self.store.record_carrier_event(entry)
        except ContentConflict as exc:
            log.warning("carrier %s: refused event %s (%s): %s", source, entry.event_id, entry.label, exc.detail)
            if "acceptedDigest" in exc.extensions and entry.kind and entry.subject:
                self.store.record_conflict(kind=entry.kind, subject=entry.subject, label=entry.label,
                                           signer=f"carrier:{source}", held_digest=exc.extensions["acceptedDigest"],
                                           other_digest=exc.extensions["postedDigest"], origin="carrier",
                                           detail=f"carrier {source} posted eventID {entry.event_id} with "
                                                  f"different content for an already-signed {entry.label}")
            raise
        return self._answer(norm, entry, result)

    def _check_credential(self, credential: Credential, norm: NormalizedEvent) -> None:
        c = norm.c
        if credential.parties is not None and c.parties:
            foreign = [p for p in c.parties if p not in credential.parties]
            if foreign:
                raise Forbidden(f"carrier {credential.source} may not publish events of {', '.join(foreign)} (its "
                                f"parties: {', '.join(sorted(credential.parties))})", field=_PARTY_FIELD[c.version])
        if norm.struct is not None and norm.reference is not None and norm.reference_field is not None:
            self.policy.check(credential, norm.reference, norm.reference_field)

    def _entry(self, norm: NormalizedEvent, source: str) -> EventEntry:
        c = norm.c
        common = dict(source=source, party=c.party, event_id=norm.event_key, dcsa_version=c.version,
                      versioned=c.version == V300, updated_at=c.updated_at, evidence=hex0x(norm.evidence),
                      canonical=norm.canonical.decode("utf-8"), code=norm.code, reference=norm.reference,
                      location=norm.location, transport_call=norm.transport_call, ignored_reason=c.ignored,
                      retracts=c.retracts)
        if norm.struct is None:
            return EventEntry(label=f"{norm.code} {c.event_type.lower()} event {norm.event_key}", **common)
        call = norm.transport_call or {}
        leg = call.get("id") or call.get("reference")
        label = f"{norm.code} at {norm.struct.location} for {norm.reference}" + (f" (call {leg})" if leg else "")
        return EventEntry(kind="shipment", subject=norm.struct.subject, message=norm.struct.to_json(), label=label[:200],
                          digest=hex0x(td.digest(norm.struct, self.domain("shipment"))), **common)

    def _answer(self, norm: NormalizedEvent, entry: EventEntry, result: IntakeResult) -> tuple[int, dict[str, Any]]:
        rec = result.record
        body: dict[str, Any] = {"eventID": norm.c.event_id, "originatingParty": norm.c.party or None,
                                "dcsaVersion": norm.c.version, "evidenceHash": rec.evidence, "eventCode": norm.code,
                                "shipmentReference": norm.reference, "location": norm.location,
                                "transportCall": norm.transport_call, "status": result.outcome,
                                "detail": result.detail or None}
        status = _STATUS.get(result.outcome, 200)
        if result.intent is not None:
            status = 202
            body["intent"] = {"id": result.intent.id, "kind": result.intent.kind,
                              "originalDigest": result.intent.original_digest,
                              "replacementDigest": result.intent.replacement_digest}
        if result.outcome == "duplicate":
            body["digest"] = rec.report_digest
        elif result.outcome == "accepted":
            message = entry.message or {}
            log.info("carrier %s: accepted %s (event %s, digest %s)", entry.source, entry.label, entry.event_id,
                     entry.digest)
            body.update(digest=entry.digest, shipmentId=message.get("shipmentId"), eventTime=message.get("eventTime"),
                        state=self.on_accepted(entry.digest))
        else:
            log.info("carrier %s: event %s (%s) %s: %s", entry.source, entry.event_id, entry.label, result.outcome,
                     result.detail)
        return status, {k: v for k, v in body.items() if v is not None}

    # ------------------------------------------------------------------------------ a body
    def ingest_body(self, doc: Any, source: str, credential: Credential | None, *,
                    dcsa_callback: bool = False) -> tuple[int, dict[str, Any] | None]:
        batch = dcsa.split(doc, self.settings.http.max_batch_events)
        if batch.shape == "event":
            return self.ingest(batch.items[0][1], source, credential)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        first: InputError | None = None
        for prefix, raw in batch.items:
            try:
                status, answer = self.ingest(raw, source, credential)
                results.append({"propertyPath": json_path(prefix), "httpStatus": status, **answer})
            except InputError as exc:
                exc = dcsa.prefixed(exc, prefix)
                first = first or exc
                problem = exc.problem()
                errors.append({"field": exc.field, "status": exc.status, "code": exc.code, "detail": exc.detail})
                results.append({"propertyPath": json_path(prefix), "httpStatus": exc.status, "status": "refused",
                                "problem": problem})
        feedback = [{"severity": "ERROR" if r["status"] == "refused" else "INFO",
                     "message": r.get("detail") or (r["problem"]["detail"] if "problem" in r else r["status"]),
                     "propertyPath": r["propertyPath"]} for r in results]
        if first is not None:
            raise BatchRefused(f"{len(errors)} of {len(results)} events refused ({first.field}: {first.detail}); "
                               f"the others were processed", status=first.status, field=first.field,
                               errors=errors, results=results, feedbackElements=feedback)
        if dcsa_callback:
            return 204, None  # DCSA: "When the POST request is accepted by the receiver a 204 MUST be returned"
        return 200, {"results": results, "feedbackElements": feedback}

