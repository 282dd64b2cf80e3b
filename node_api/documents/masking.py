"""Masking of bank and identity numbers in API responses.

Only the last four characters of an identifier are kept; everything before is replaced by ``*``
(spaces and dashes used as separators are dropped first, so grouping does not leak structure).
Identifiers of four characters or fewer are masked completely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "SENSITIVE_KEYS",
    "mask_identifier",
    "mask_account_number",
    "mask_sensitive",
]

VISIBLE = 4
MASK_CHAR = "*"

#: normalised key names (lower case, no separators) whose values are masked
SENSITIVE_KEYS = frozenset({
    "iban", "accountnumber", "accountno", "bankaccount", "bankaccountnumber",
    "nationalid", "nationalidnumber", "idnumber", "passportnumber", "passportno",
    "taxid", "taxidentificationnumber", "vatnumber", "ssn", "socialsecuritynumber",
})

_SEPARATORS = re.compile(r"[\s\-]+")
_NON_ALNUM = re.compile(r"[^0-9a-z]")


def mask_identifier(value: object) -> str:
    """``"DE89 3704 0044 0532 0130 00"`` -> ``"******************3000"``."""
    compact = _SEPARATORS.sub("", str(value))
    if len(compact) <= VISIBLE:
        return MASK_CHAR * len(compact)
    return MASK_CHAR * (len(compact) - VISIBLE) + compact[-VISIBLE:]


def mask_account_number(value: object) -> str:
    """Mask an IBAN or bank account number (same rule as :func:`mask_identifier`)."""
    return mask_identifier(value)


def _normalize_key(key: object) -> str:
    return _NON_ALNUM.sub("", str(key).lower())


def _mask_value(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (str, int)):
        return mask_identifier(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_value(v) for v in value]
    return mask_identifier(value)


def mask_sensitive(data: Any, extra_keys: Iterable[str] = ()) -> Any:
    """Return a copy of a JSON-like structure with sensitive values masked.

    Keys are matched case-insensitively ignoring ``_``, ``-`` and spacing, so ``iban``, ``IBAN``,
    ``accountNumber`` and ``account-number`` are all recognised. Everything under a sensitive key
    is masked (also nested lists/dicts); other values are copied unchanged. ``extra_keys`` adds
    further sensitive key names.
    """
    keys = SENSITIVE_KEYS | {_normalize_key(k) for k in extra_keys}

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: _mask_value(v) if _normalize_key(k) in keys else walk(v)
                    for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(v) for v in node]
        return node

    return walk(data)
