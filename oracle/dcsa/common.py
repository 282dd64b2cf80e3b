"""What every DCSA Track & Trace version reduces to, and the field types they share.

Each version module (``v22``, ``v3beta``, ``v300``) reads an event in two steps:

1. :class:`Classification` (``classify``): only the fields that decide *whether* the event is
   attested: who published it and its id, its type, classifier and code, whether it retracts
   another. An event that is not attested (planned, estimated, a code that is no milestone, an IoT
   reading...) is answered "200 ignored" after this step, whatever its other fields hold.
2. :class:`Facts` (``facts``): for an attested kind only, the strict validation of everything the
   operator signs or keys on: the shipment reference, the UN/LOCODE, the event time, the
   transport call. Every violation is a 422 naming the field by its dotted path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from ..errors import ValidationFailed

V22 = "2.2"
V3_BETA = "3.0.0-Beta-1"
V300 = "3.0.0"
Version = Literal["2.2", "3.0.0-Beta-1", "3.0.0"]

#: The location of a document event (ISSU / RECE / CONF): shipment events carry a document, not a
#: place, but the on-chain struct has a bytes5 location. "ZZ" is ISO 3166's user-assigned "no
#: country": ZZZZZ can never be a real UN/LOCODE, so a document milestone is keyed
#: (shipment, code, ZZZZZ): one per document and code.
DOCUMENT_EVENT_LOCATION = "ZZZZZ"

# UN/LOCODE: 2 letters (country) + 3 letters or digits (DCSA 3: digits 2-9; tradenet accepts 0-9,
# as the contract does)
UNLocode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9]{3}$")]
# a document reference as it is hashed into the shipment id: printable ASCII, single inner blanks
Reference = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\x21-\x7E]( ?[\x21-\x7E])*$")]
Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# DCSA 3 transportCallReference: no leading/trailing blanks
CallReference = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^\S+(\s+\S+)*$")]
ModeOfTransport = Literal["VESSEL", "RAIL", "TRUCK", "BARGE"]


class Open(BaseModel):
    """A DCSA object: the fields the operator reads are typed, the others kept as they came
    (they are part of the evidence the evidence hash covers)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False, strict=False)


@dataclass(frozen=True)
class Classification:
    version: str
    event_id: str | None  # canonical (a v2.2 UUID in lower case); None if the event has none
    id_field: str  # where the id is: "eventID" / "metadata.eventID"
    party: str  # the originating party's key ("" in v2.2): part of the event's identity in v3
    parties: tuple[str, ...]  # "<codeListProvider>:<partyCode>" of every originating party
    event_type: str
    classifier: str | None  # ACT / EST / PLN / REQ
    code: str | None  # the four-letter code (None: a code no version maps to one)
    code_label: str  # the code as the event spells it, for messages
    updated_at: float | None = None  # v3.0.0 eventUpdatedDateTime (versions of one event)
    retracts: str | None = None  # the eventID this event retracts (same party)
    ignored: str | None = None  # why it is not attested; None: an attested kind


@dataclass(frozen=True)
class Facts:
    """What an attested event is signed as (the struct) and keyed on."""

    references: dict[str, list[tuple[str, str]]]  # "TRD"/"BKG" -> [(value, dotted path)]
    location: str
    location_field: str
    event_time: float
    event_time_field: str
    recorded_at: float | None  # when the carrier recorded it (created / updated time)
    recorded_field: str
    transport_call: dict[str, Any] | None  # {"id" | "reference", "sequence", "mode"}


def references() -> dict[str, list[tuple[str, str]]]:
    return {"TRD": [], "BKG": []}


_UNION_TAGS = {"int", "str", "float", "bool", "datetime", "date", "bytes", "list", "dict", "none"}


def dotted(loc: tuple, prefix: str = "") -> str:
    """Dotted field path; pydantic's union-member tags (``constrained-str``, ``datetime``...) dropped."""
    parts = [str(p) for p in loc
             if isinstance(p, int) or not ("[" in p or "-" in p or p in _UNION_TAGS or p.startswith("function-"))]
    path = ".".join(parts)
    return ".".join(x for x in (prefix, path) if x) or "body"


def pydantic_failure(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    merged: dict[str, list[str]] = {}
    for e in exc.errors(include_url=False):
        msgs = merged.setdefault(dotted(e["loc"], prefix), [])
        if e["msg"] not in msgs:
            msgs.append(e["msg"])
    errors = [{"field": f, "detail": "; or ".join(m)} for f, m in merged.items()]
    first = errors[0]
    return ValidationFailed(first["detail"], field=first["field"], errors=errors)


def validate(model: type[BaseModel], data: Any, prefix: str = "") -> Any:
    if data is None or not isinstance(data, dict):
        raise ValidationFailed("must be an object", field=prefix or "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise pydantic_failure(exc, prefix) from None


def first_location(candidates: list[tuple[str | None, str]], *, must_agree: bool, missing_field: str) -> tuple[str, str]:
    """The UN/LOCODE of the event: the first of `candidates` ((value, dotted path)) that is set.
    With `must_agree`, every other one that is set must be the same place (one event, one place:
    two parsers must not read two locations out of one body)."""
    present = [(v, f) for v, f in candidates if v]
    if not present:
        raise ValidationFailed("the event has no UN/LOCODE (" + ", ".join(f for _, f in candidates) + ")",
                               field=missing_field)
    value, field = present[0]
    if must_agree:
        for other, other_field in present[1:]:
            if other != value:
                raise ValidationFailed(f"contradicts {field} ({value}): one event has one location",
                                       field=other_field)
    return value, field
