"""Parsing untrusted JSON without letting it crash or stall the process.

Python's C JSON scanner recurses once per nesting level. ``py_ecc`` (imported by eth-account)
raises the interpreter's recursion limit to 100,000 at import, so a body of nested arrays
(``"[" * 100000``) overflows the C stack and kills the process instead of raising
``RecursionError``. :func:`loads` therefore measures the nesting depth with a non-recursive scan
*before* handing the text to the scanner, and refuses:

- bodies over ``max_bytes`` (callers also bound what they read: see the services' body limits);
- nesting deeper than ``max_depth`` (arrays and objects);
- invalid UTF-8, duplicate object keys (``{"minor": "100", "minor": "7"}`` would otherwise be
  last-wins) and the non-standard constants ``NaN`` / ``Infinity``.

Every refusal is a :class:`JsonInputError` (a 400 or 413 problem) naming what was wrong.
"""

from __future__ import annotations

import json
from typing import Any

from .problems import ProblemError

#: Deepest nesting any tradenet request needs (DCSA events nest about 6 levels).
DEFAULT_MAX_DEPTH = 32

_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class JsonInputError(ProblemError):
    """The body is not acceptable JSON."""

    status = 400
    code = "malformed_body"
    title = "Malformed JSON body"


class JsonTooLarge(JsonInputError):
    status = 413
    code = "body_too_large"
    title = "Request body too large"


def nesting_depth(data: bytes, limit: int) -> int:
    """The deepest array/object nesting of `data` (strings skipped), stopping at `limit` + 1."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in _CLOSE:
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonInputError(f"duplicate key {key!r} in a JSON object", field=key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not valid JSON")


def loads(data: bytes | str, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse `data` as strict JSON within the limits above; raise :class:`JsonInputError`."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise JsonTooLarge(f"the body has {len(raw):,} bytes; at most {max_bytes:,} are accepted")
    depth = nesting_depth(raw, max_depth)
    if depth > max_depth:
        raise JsonInputError(f"the body nests deeper than {max_depth} levels")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except JsonInputError:
        raise
    except (ValueError, RecursionError) as exc:
        raise JsonInputError(f"invalid JSON: {exc}") from None
