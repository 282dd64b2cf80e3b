"""From carrier input to the signed structs: canonical JSON, evidence hash, shipment id, and the
cross-field rules every attested event obeys, whatever its DCSA version (``oracle.dcsa``).

Evidence hash: **sha256** of the RFC 8785-style canonical JSON of the carrier event exactly as
received (object keys sorted by code point, no insignificant whitespace, UTF-8, no escaping of
non-ASCII; numbers as Python's ``json`` writes them). Anyone holding the carrier's event JSON
recomputes it with standard tools (``jq -cS . | sha256sum`` gives the same bytes for ASCII
input without floats). In a batch, each event is hashed on its own. keccak is kept for on-chain
identifiers (shipmentId).

Order of the checks: the event is first *classified* (is it an attested kind?); an event that is
not is ignored without reading its other fields. Only an attested event is validated strictly and
turned into a struct.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from chain import jsonsafe
from chain.clients import shipment_id
from chain.jsonsafe import DEFAULT_MAX_DEPTH

from . import dcsa
from .dcsa.codes import ATTESTED_CLASSIFIER
from .errors import BodyTooLarge, MalformedBody, ValidationFailed
from .fx_input import FxRateInput
from .typed_data import FxRate, ShipmentEvent

__all__ = ["NormalizedEvent", "canonical_json", "evidence_hash", "normalize_carrier_event", "normalize_fx",
           "parse_json", "parse_json_object", "shipment_id"]


def parse_json(raw: bytes, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Untrusted JSON (``chain.jsonsafe``): size and nesting bounded before the C scanner runs,
    UTF-8, no duplicate keys (two parsers must not see two events), no NaN / Infinity."""
    try:
        return jsonsafe.loads(raw, max_bytes=max_bytes, max_depth=max_depth)
    except jsonsafe.JsonTooLarge as exc:
        raise BodyTooLarge(exc.detail) from None
    except jsonsafe.JsonInputError as exc:
        raise MalformedBody(exc.detail, field=exc.field) from None


def parse_json_object(raw: bytes, *, max_bytes: int = 16 * 1024 * 1024, max_depth: int = DEFAULT_MAX_DEPTH
                      ) -> dict[str, Any]:
    """:func:`parse_json`, and the body must be one object."""
    obj = parse_json(raw, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(obj, dict):
        raise MalformedBody("body must be a JSON object")
    return obj


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def evidence_hash(obj: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(obj)).digest()


_NO_REFERENCE_FIELD = {dcsa.V22: "documentReferences", dcsa.V3_BETA: "payload.relatedDocumentReferences",
                       dcsa.V300: "shipmentDetails.documentReference"}


@dataclass(frozen=True)
class NormalizedEvent:
    """A classified carrier event and, if it is attested, its facts and the struct to sign."""

    raw: dict[str, Any]
    canonical: bytes
    evidence: bytes
    c: dcsa.Classification
    facts: dcsa.Facts | None
    reference: str | None  # transport document (or booking) reference
    reference_type: str | None  # "TRD" or "BKG"
    reference_field: str | None  # where in the event the reference was read
    struct: ShipmentEvent | None  # None: valid but not attested, or a retraction

    @property
    def ignored_reason(self) -> str | None:
        return self.c.ignored

    @property
    def code(self) -> str:
        return self.c.code or self.c.code_label

    @property
    def event_key(self) -> str:
        """The event's id within its party, or (an event without eventID) its evidence hash."""
        return self.c.event_id if self.c.event_id is not None else "sha256:" + self.evidence.hex()

    @property
    def location(self) -> str | None:
        return self.facts.location if self.facts else None

    @property
    def transport_call(self) -> dict[str, Any] | None:
        return self.facts.transport_call if self.facts else None


def _reference(refs: dict[str, list[tuple[str, str]]], version: str) -> tuple[str, str, str]:
    """(reference, type, field) by precedence TRD over BKG; contradictory references are refused."""
    for kind in ("TRD", "BKG"):
        values = refs[kind]
        if values:
            value, field = values[0]
            for other, other_field in values[1:]:
                if other != value:
                    raise ValidationFailed(f"contradictory {kind} references: {sorted({value, other})} "
                                           f"(in {field}, {other_field})", field=other_field)
            return value, kind, field
    raise ValidationFailed("no transport document reference or booking reference: the shipment cannot be "
                           "identified", field=_NO_REFERENCE_FIELD[version])


def normalize_carrier_event(raw: dict[str, Any], *, now: float | None = None,
                            max_future_skew: int = 300) -> NormalizedEvent:
    """Classify a carrier event; if it is attested, validate it strictly and build its struct."""
    c = dcsa.classify(raw)
    canonical = canonical_json(raw)
    evidence = hashlib.sha256(canonical).digest()
    if c.ignored is not None:
        return NormalizedEvent(raw, canonical, evidence, c, None, None, None, None, None)
    f = dcsa.facts(raw, c)
    reference, ref_type, ref_field = _reference(f.references, c.version)
    now = time.time() if now is None else now
    event_time = int(f.event_time)
    if event_time < 0:
        raise ValidationFailed("before 1970", field=f.event_time_field)
    if c.classifier == ATTESTED_CLASSIFIER:
        if event_time > now + max_future_skew:
            raise ValidationFailed("an actual (ACT) event cannot lie in the future", field=f.event_time_field)
        if f.recorded_at is not None and f.recorded_at + max_future_skew < event_time:
            raise ValidationFailed("an actual (ACT) event cannot be recorded before it happened",
                                   field=f.recorded_field)
    struct = ShipmentEvent(shipment_id(reference), c.code, f.location, event_time, evidence)
    return NormalizedEvent(raw, canonical, evidence, c, f, reference, ref_type, ref_field, struct)


def _epoch(value: datetime | int) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else int(value)


def normalize_fx(raw: dict[str, Any], *, now: float | None = None, max_future_skew: int = 300) -> FxRate:
    try:
        inp = FxRateInput.model_validate(raw)
    except ValidationError as exc:
        raise dcsa.pydantic_failure(exc) from None
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
