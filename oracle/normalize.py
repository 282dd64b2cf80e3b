"""From carrier input to the signed structs: canonical JSON, evidence hash, shipment id, and
the cross-field rules of the DCSA event.

Evidence hash: **sha256** of the RFC 8785-style canonical JSON of the carrier event exactly as
received (object keys sorted by code point, no insignificant whitespace, UTF-8, no escaping of
non-ASCII; numbers as Python's ``json`` writes them). Anyone holding the carrier's event JSON
recomputes it with standard tools (``jq -cS . | sha256sum`` gives the same bytes for ASCII
input without floats). keccak is kept for on-chain identifiers (shipmentId).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from eth_utils import keccak
from pydantic import ValidationError

from .codes import ATTESTED_CLASSIFIER, ATTESTED_CODES, CODE_FIELD
from .dcsa import CarrierEvent, FxRateInput
from .errors import MalformedBody, ValidationFailed
from .typed_data import FxRate, ShipmentEvent


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise MalformedBody(f"duplicate key {key!r} in a JSON object", field=key)
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise MalformedBody(f"{name} is not valid JSON")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Strict JSON: UTF-8, one object, no duplicate keys (two parsers must not see two events)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("body is not UTF-8") from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise MalformedBody("body must be a JSON object")
    return obj


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def evidence_hash(obj: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(obj)).digest()


def shipment_id(reference: str) -> bytes:
    """keccak256 of the UTF-8 transport document reference (or carrier booking reference)."""
    return keccak(text=reference)


_UNION_TAGS = {"int", "str", "float", "bool", "datetime", "date", "bytes", "list", "dict", "none"}


def _loc(loc: tuple) -> str:
    """Dotted field path; pydantic's union-member tags (``constrained-str``, ``datetime``...) dropped."""
    parts = [str(p) for p in loc
             if isinstance(p, int) or not ("[" in p or "-" in p or p in _UNION_TAGS)]
    return ".".join(parts) or "body"


def pydantic_failure(exc: ValidationError) -> ValidationFailed:
    merged: dict[str, list[str]] = {}
    for e in exc.errors(include_url=False):
        msgs = merged.setdefault(_loc(e["loc"]), [])
        if e["msg"] not in msgs:
            msgs.append(e["msg"])
    errors = [{"field": f, "detail": "; or ".join(m)} for f, m in merged.items()]
    first = errors[0]
    return ValidationFailed(first["detail"], field=first["field"], errors=errors)


@dataclass(frozen=True)
class NormalizedEvent:
    """A validated carrier event and, if it is attested, the struct to sign."""

    event: CarrierEvent
    raw: dict[str, Any]
    canonical: bytes
    evidence: bytes
    reference: str  # transport document (or booking) reference
    reference_type: str  # "TRD" or "BKG"
    code: str
    struct: ShipmentEvent | None  # None: valid but not attested (PLN/EST/REQ or a non-milestone code)
    ignored_reason: str | None


def _reference(ev: CarrierEvent) -> tuple[str, str, str]:
    """(reference, type, field) by precedence TRD over BKG; contradictory references are refused."""
    found: dict[str, list[tuple[str, str]]] = {"TRD": [], "BKG": []}
    if ev.transportDocumentReference:
        found["TRD"].append((ev.transportDocumentReference, "transportDocumentReference"))
    if ev.carrierBookingReference:
        found["BKG"].append((ev.carrierBookingReference, "carrierBookingReference"))
    for i, ref in enumerate(ev.documentReferences or []):
        found[ref.documentReferenceType].append((ref.documentReferenceValue,
                                                 f"documentReferences.{i}.documentReferenceValue"))
    if ev.documentTypeCode in ("TRD", "BKG") and ev.documentID:
        found[ev.documentTypeCode].append((ev.documentID, "documentID"))
    for kind in ("TRD", "BKG"):
        values = found[kind]
        if values:
            distinct = {v for v, _ in values}
            if len(distinct) > 1:
                raise ValidationFailed(f"contradictory {kind} references: {sorted(distinct)} "
                                       f"(in {', '.join(f for _, f in values)})", field=values[1][1])
            value, field = values[0]
            return value, kind, field
    raise ValidationFailed("no transport document reference or carrier booking reference "
                           "(transportDocumentReference, carrierBookingReference or documentReferences)",
                           field="documentReferences")


def _location(ev: CarrierEvent) -> str:
    tc = ev.transportCall
    for value in (
        tc.location.UNLocationCode if tc and tc.location else None,
        tc.UNLocationCode if tc else None,
        ev.eventLocation.UNLocationCode if ev.eventLocation else None,
        ev.location.UNLocationCode if ev.location else None,
    ):
        if value:
            return value
    field = "location.UNLocationCode" if ev.eventType in ("CUSTOMS", "WAREHOUSE") else "transportCall.location.UNLocationCode"
    raise ValidationFailed("the event has no UN/LOCODE (transportCall.location, transportCall, eventLocation "
                           "or location)", field=field)


def _code(ev: CarrierEvent) -> str:
    wanted = CODE_FIELD[ev.eventType]
    for etype, field in CODE_FIELD.items():
        value = getattr(ev, field)
        if field == wanted and value is None:
            raise ValidationFailed(f"required for eventType {ev.eventType}", field=field)
        if field != wanted and value is not None:
            raise ValidationFailed(f"not allowed for eventType {ev.eventType} (belongs to {etype} events)",
                                   field=field)
    return getattr(ev, wanted)


def normalize_carrier_event(raw: dict[str, Any], *, now: float | None = None,
                            max_future_skew: int = 300) -> NormalizedEvent:
    """Validate a carrier event and build the ShipmentEvent to sign (or say why it is not attested)."""
    try:
        ev = CarrierEvent.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_failure(exc) from None
    code = _code(ev)
    reference, ref_type, _ = _reference(ev)
    location = _location(ev)
    now = time.time() if now is None else now
    event_time = int(ev.eventDateTime.timestamp())
    if event_time < 0:
        raise ValidationFailed("before 1970", field="eventDateTime")
    if ev.eventClassifierCode == ATTESTED_CLASSIFIER:
        if event_time > now + max_future_skew:
            raise ValidationFailed("an actual (ACT) event cannot lie in the future", field="eventDateTime")
        if ev.eventCreatedDateTime.timestamp() + max_future_skew < event_time:
            raise ValidationFailed("an actual (ACT) event cannot be recorded before it happened",
                                   field="eventCreatedDateTime")
    canonical = canonical_json(raw)
    evidence = hashlib.sha256(canonical).digest()
    ignored: str | None = None
    if ev.eventClassifierCode != ATTESTED_CLASSIFIER:
        ignored = f"eventClassifierCode {ev.eventClassifierCode} is not attested (only ACT events are)"
    elif code not in ATTESTED_CODES[ev.eventType]:
        ignored = f"{ev.eventType} event {code} is not an attested milestone"
    struct = None if ignored else ShipmentEvent(shipment_id(reference), code, location, event_time, evidence)
    return NormalizedEvent(ev, raw, canonical, evidence, reference, ref_type, code, struct, ignored)


def _epoch(value: datetime | int) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else int(value)


def normalize_fx(raw: dict[str, Any], *, now: float | None = None, max_future_skew: int = 300) -> FxRate:
    try:
        inp = FxRateInput.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_failure(exc) from None
    if inp.baseCurrency == inp.quoteCurrency:
        raise ValidationFailed("must differ from baseCurrency", field="quoteCurrency")
    rate = int(Decimal(str(inp.rate)) * 10**FxRate.DECIMALS)
    if rate <= 0:
        raise ValidationFailed("must be positive", field="rate")
    observed = _epoch(inp.observedAt)
    now = time.time() if now is None else now
    if observed > now + max_future_skew:
        raise ValidationFailed("lies in the future", field="observedAt")
    return FxRate(inp.baseCurrency, inp.quoteCurrency, rate, observed)
