"""Masking of bank and identity numbers in API responses, by content.

Free text reaches the API from many places (invoice numbers, dispute and cancellation reasons,
receipt commodities and grades, proposal descriptions, event arguments), so the mask does not
rely on key names: every string of a response is scanned for

- IBANs (ISO 13616: country code, length of that country, mod-97 checksum), with or without
  spaces;
- payment card numbers (13-19 digits, optionally grouped, Luhn checksum);
- UK sort code + account number (``20-00-00 55779911``, or after "sort code");
- US social security numbers (``123-45-6789``, or 9 digits after "SSN");
- passport and national ID numbers after such a word (``passport no. X1234567``);
- long account numbers after "account", "acct", "a/c" (6+ digits).

Only the last four characters of a number are kept (``NL91ABNA0417164300`` ->
``**************4300``). What the API itself emits is left alone: hex strings (addresses,
hashes), base32 CIDs and plain digit strings (amounts, ids), since a number alone in a field is an
amount, not an account; ISO dates do not match any pattern. Values under a sensitive key name
(``iban``, ``account_number``...) are masked whole, as before.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "SENSITIVE_KEYS",
    "mask_identifier",
    "mask_account_number",
    "mask_text",
    "mask_sensitive",
    "iban_valid",
    "luhn_valid",
]

VISIBLE = 4
MASK_CHAR = "*"

#: normalised key names (lower case, no separators) whose values are masked
SENSITIVE_KEYS = frozenset({
    "iban", "accountnumber", "accountno", "bankaccount", "bankaccountnumber",
    "nationalid", "nationalidnumber", "idnumber", "passportnumber", "passportno",
    "taxid", "taxidentificationnumber", "vatnumber", "ssn", "socialsecuritynumber",
})

#: IBAN length per country (ISO 13616 register)
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

_SEPARATORS = re.compile(r"[\s\-]+")
_NON_ALNUM = re.compile(r"[^0-9a-z]")
#: strings the API emits itself and that are never masked: hex, plain digits, base32 CIDs
_MACHINE = re.compile(r"0x[0-9a-fA-F]*|[0-9]+|b[a-z2-7]{20,}")


def mask_identifier(value: object) -> str:
    """``"DE89 3704 0044 0532 0130 00"`` -> ``"******************3000"``."""
    compact = _SEPARATORS.sub("", str(value))
    if len(compact) <= VISIBLE:
        return MASK_CHAR * len(compact)
    return MASK_CHAR * (len(compact) - VISIBLE) + compact[-VISIBLE:]


def mask_account_number(value: object) -> str:
    """Mask an IBAN or bank account number (same rule as :func:`mask_identifier`)."""
    return mask_identifier(value)


# --- checksums -------------------------------------------------------------------------------

def iban_valid(compact: str) -> bool:
    """ISO 13616: the country's length and ISO 7064 mod 97-10 == 1."""
    iban = compact.upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum() or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# --- detectors: each rewrites the sensitive spans of a text -------------------------------------

_IBAN_START = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}")


def _mask_ibans(text: str) -> str:
    out, pos = [], 0
    for m in _IBAN_START.finditer(text):
        if m.start() < pos:
            continue
        length = IBAN_LENGTHS.get(m.group()[:2].upper())
        if length is None:
            continue
        # collect `length` alphanumerics from the start, allowing single spaces between them
        chars, i = [], m.start()
        while i < len(text) and len(chars) < length:
            c = text[i]
            if c.isascii() and c.isalnum():
                chars.append(c)
            elif not (c == " " and chars and i + 1 < len(text) and text[i + 1].isalnum()):
                break
            i += 1
        if len(chars) != length or (i < len(text) and text[i].isascii() and text[i].isalnum()):
            continue
        if iban_valid("".join(chars)):
            out += [text[pos:m.start()], mask_identifier("".join(chars))]
            pos = i
    return "".join(out) + text[pos:] if out else text


def _sub(pattern: str, mask: Callable[[re.Match[str]], str], flags: int = 0) -> Callable[[str], str]:
    rx = re.compile(pattern, flags)
    return lambda text: rx.sub(mask, text)


def _mask_group(group: int | str) -> Callable[[re.Match[str]], str]:
    def f(m: re.Match[str]) -> str:
        s, e = m.span(group)
        return m.group()[: s - m.start()] + mask_identifier(m.group(group)) + m.group()[e - m.start():]
    return f


def _sort_code_and_account(m: re.Match[str]) -> str:
    whole, start = m.group(), m.start()
    (s1, e1), (s2, e2) = m.span("sort"), m.span("acct")
    return (whole[: s1 - start] + "**-**-**" + whole[e1 - start: s2 - start] + mask_identifier(m.group("acct"))
            + whole[e2 - start:])


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", m.group())
    return mask_identifier(digits) if 13 <= len(digits) <= 19 and luhn_valid(digits) else m.group()


_ACCOUNT_WORD = r"(?:account|acct|a/c|acc)\.?(?:\s*(?:no\.?|number|num|#))?"

_DETECTORS: tuple[Callable[[str], str], ...] = (
    _mask_ibans,
    # UK sort code + account: "20-00-00 55779911", "sort code 200000, account no 55779911"
    _sub(r"(?<![0-9A-Za-z-])(?P<sort>\d{2}[- ]?\d{2}[- ]?\d{2})(?![0-9-])[\s,;/:]*(?:" + _ACCOUNT_WORD
         + r"[\s:#]*)?(?P<acct>\d{8})(?![0-9])", _sort_code_and_account, re.IGNORECASE),
    _sub(r"sort[\s-]*code[\s:#]*(\d{2}[- ]?\d{2}[- ]?\d{2})(?![0-9])", _mask_group(1), re.IGNORECASE),
    # US SSN
    _sub(r"(?<![0-9A-Za-z-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![0-9-])",
         lambda m: "***-**-" + m.group()[-4:]),
    _sub(r"\b(?:ssn|social\s+security(?:\s+(?:no\.?|number))?)[\s:#.]*(\d{9})(?![0-9])", _mask_group(1),
         re.IGNORECASE),
    # passports and national identity documents, after the word
    _sub(r"\b(?:passport|national\s+id|id\s+card|identity\s+card)(?:\s*(?:no\.?|number|num|#))?[\s:#.]*"
         r"((?=[A-Za-z]*\d)[A-Za-z0-9]{6,12})\b", _mask_group(1), re.IGNORECASE),
    # long account numbers after "account" / "acct" / "a/c"
    _sub(r"\b" + _ACCOUNT_WORD + r"[\s:#]*((?=(?:\D*\d){6})\d[\d -]{4,32}\d)(?![0-9])", _mask_group(1),
         re.IGNORECASE),
    # payment cards (Luhn)
    _sub(r"(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])", _card),
)


#: strings up to this length keep their masked form in a bounded cache: an answer repeats the same
#: names, codes, dates and amounts (a page of 50 invoices: 1,450 strings, 217 distinct), and the
#: detectors were half of such a request's time
CACHED_TEXT_MAX = 256
CACHED_TEXTS = 16_384


def mask_text(text: str) -> str:
    """`text` with every bank or identity number in it masked (see the module docstring)."""
    if len(text) < 6:
        return text
    if len(text) <= CACHED_TEXT_MAX:
        return _mask_short_text(text)
    return _mask_text(text)


def _mask_text(text: str) -> str:
    if _MACHINE.fullmatch(text):
        return text
    for detect in _DETECTORS:
        text = detect(text)
    return text


_mask_short_text = functools.lru_cache(maxsize=CACHED_TEXTS)(_mask_text)


# --- structures --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4_096)
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


_PLAIN = frozenset({int, float, bool, type(None)})


def mask_sensitive(data: Any, extra_keys: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like structure with every bank and identity number masked: strings by
    content (:func:`mask_text`), everything under a sensitive key name whole. Keys are matched
    case-insensitively ignoring ``_``, ``-`` and spacing (``iban``, ``accountNumber``...);
    ``extra_keys`` adds further sensitive key names."""
    keys = SENSITIVE_KEYS | {_normalize_key(k) for k in extra_keys}

    def walk(node: Any) -> Any:
        kind = type(node)  # the exact JSON types first: isinstance on the ABCs is slow at this volume
        if kind in _PLAIN:
            return node
        if kind is str or isinstance(node, str):
            return mask_text(node)
        if kind is dict or isinstance(node, Mapping):
            return {k: _mask_value(v) if _normalize_key(k) in keys else walk(v) for k, v in node.items()}
        if kind is list or isinstance(node, (list, tuple)):
            return [walk(v) for v in node]
        return node

    return walk(data)
