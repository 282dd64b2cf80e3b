"""DCSA Track & Trace input, as published: v2.2, v3.0.0-Beta-1 and v3.0.0.

``split`` takes a parsed request body apart into events: one event object, a JSON array of events
(v2.2's subscription callback, v3.0.0-Beta-1's callback: a bare array of ``{metadata, payload}``),
or v3.0.0's ``POST /events`` body ``{"events": [...]}``. ``version_of`` tells the version of one
event from its shape; ``classify`` and ``facts`` are the version's two steps (``common``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ValidationFailed
from . import v22, v3beta, v300
from .common import (DOCUMENT_EVENT_LOCATION, V3_BETA, V22, V300, Classification, Facts, dotted,
                     pydantic_failure)

__all__ = ["DOCUMENT_EVENT_LOCATION", "V22", "V300", "V3_BETA", "Batch", "Classification", "Facts", "classify",
           "dotted", "facts", "pydantic_failure", "split", "version_of"]

_V300_KEYS = frozenset({"eventClassification", "eventRouting", "eventUpdatedDateTime", "isRetracted"})
_MODULES: dict[str, Any] = {V22: v22, V3_BETA: v3beta, V300: v300}


def version_of(event: dict[str, Any]) -> str:
    if "metadata" in event:
        return V3_BETA
    if _V300_KEYS & event.keys():
        return V300
    return V22


def classify(event: dict[str, Any]) -> Classification:
    return _MODULES[version_of(event)].classify(event)


def facts(event: dict[str, Any], c: Classification) -> Facts:
    return _MODULES[c.version].facts(event, c)


@dataclass(frozen=True)
class Batch:
    shape: str  # "event" (one object) | "array" (a JSON array of events) | "events" ({"events": [...]})
    items: list[tuple[str, dict[str, Any]]]  # (field prefix, event): "", "3", "events.3"


def split(body: Any, max_events: int) -> Batch:
    if isinstance(body, dict) and set(body) == {"events"}:
        events, prefix, shape = body["events"], "events", "events"
        if not isinstance(events, list):
            raise ValidationFailed("must be an array of events", field="events")
    elif isinstance(body, list):
        events, prefix, shape = body, "", "array"
    elif isinstance(body, dict):
        return Batch("event", [("", body)])
    else:
        raise ValidationFailed("must be an event object, an array of events or {\"events\": [...]}", field="body")
    if len(events) > max_events:
        raise ValidationFailed(f"{len(events)} events in one request; at most {max_events}", field=prefix or "body")
    items: list[tuple[str, dict[str, Any]]] = []
    for i, event in enumerate(events):
        where = f"{prefix}.{i}" if prefix else str(i)
        if not isinstance(event, dict):
            raise ValidationFailed("must be an event object", field=where)
        items.append((where, event))
    return Batch(shape, items)


def prefixed(exc: ValidationFailed, prefix: str, factory: Callable[..., Any] | None = None) -> Any:
    """`exc` with every field path put under `prefix` (the event's place in a batch)."""
    if not prefix:
        return exc
    field = f"{prefix}.{exc.field}" if exc.field else prefix
    ext = dict(exc.extensions)
    if "errors" in ext:
        ext["errors"] = [{**e, "field": f"{prefix}.{e['field']}"} for e in ext["errors"]]
    return (factory or type(exc))(exc.detail, field=field, **ext)
