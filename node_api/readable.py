"""What people read in the API's answers (issue 13 item 4), built in one place:

- every amount as ``{currency, minor, display}``: exact integer minor units as a decimal string
  and the amount as a person writes it (``USD 1,250,000.00``, :func:`chain.money.fmt`; a
  currency the network added later is shown with the decimals its token declares);
- every time as unix seconds with an ISO-8601 UTC spelling next to it (``due_date`` and
  ``due_date_iso``);
- every party as its address with its legal name and LEI next to it (``seller``,
  ``seller_name``, ``seller_lei``), read from the registry's read model (legal names are on
  chain);
- shipment event codes with their DCSA names, UN/LOCODEs with the place where the node knows it,
  shipment ids with the B/L (transport document) number where the node has seen it.

Readers are built once per request from the read model (:class:`Reader`) so that a page of
rows costs a handful of queries, not one per field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.engine import Engine

from chain.indexer.projections import currency_tokens, participants
from chain.money import MINOR_UNITS
from chain.vocabulary import DOCUMENT_TYPE_NAMES, EVENT_CODE_INFO, Role

#: UN/LOCODEs of the ports and places the demo network and its tests use, by name. Others are
#: shown as their code (the code *is* the text: a UN/LOCODE is readable on its own).
LOCODE_NAMES: Mapping[str, str] = {
    "CNSZX": "Shenzhen, China", "CNSHA": "Shanghai, China", "CNNGB": "Ningbo, China", "HKHKG": "Hong Kong",
    "SGSIN": "Singapore", "NLRTM": "Rotterdam, Netherlands", "DEHAM": "Hamburg, Germany",
    "BEANR": "Antwerp, Belgium", "GBFXT": "Felixstowe, United Kingdom", "USNYC": "New York, United States",
    "USLAX": "Los Angeles, United States", "AEJEA": "Jebel Ali, United Arab Emirates",
    "PTLIS": "Lisbon, Portugal", "DKAAR": "Aarhus, Denmark", "JPTYO": "Tokyo, Japan",
}


def iso(ts: int | None) -> str | None:
    """Unix seconds as ISO-8601 UTC (``2026-12-01T10:00:00Z``)."""
    if ts is None:
        return None
    try:
        return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def display(minor: int, currency: str, decimals: int | None = None) -> str:
    """``USD 1,250,000.00``: the amount in the currency's major unit with thousands separators."""
    digits = MINOR_UNITS.get(currency, decimals if decimals is not None else 0)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(int(minor)), 10**digits)
    return f"{currency} {sign}{whole:,}" + (f".{frac:0{digits}d}" if digits else "")


def money(minor: int | None, currency: str | None, decimals: int | None = None) -> dict[str, str] | None:
    """An amount leaving the API (None stays None)."""
    if minor is None:
        return None
    currency = currency or "???"
    return {"currency": currency, "minor": str(int(minor)), "display": display(int(minor), currency, decimals)}


def event_name(code: str | None) -> str | None:
    """The DCSA name of an attested shipment event code (``DEPA`` -> ``Departed``); an empty code
    is an advance (released at funding)."""
    if code is None:
        return None
    if code == "":
        return "Advance at funding"
    info = EVENT_CODE_INFO.get(code)
    return info.dcsa_name if info else code


def place(locode: str | None) -> str | None:
    """A UN/LOCODE as a place (``NLRTM`` -> ``Rotterdam, Netherlands (NLRTM)``); empty: any port."""
    if locode is None:
        return None
    if locode == "":
        return "any transport call"
    name = LOCODE_NAMES.get(locode)
    return f"{name} ({locode})" if name else locode


def document_type(code: str) -> str:
    return DOCUMENT_TYPE_NAMES.get(code, code)


def short(address: str | None) -> str:
    return "nobody" if not address else f"{address[:6]}..{address[-4:]}"


def bps_text(bps: int) -> str:
    """Basis points as a percentage, exactly (no float): 4000 -> "40%", 8888 -> "88.88%"."""
    return f"{bps // 100}.{bps % 100:02d}%".replace(".00%", "%")


@dataclass
class Member:
    account: str
    legal_name: str
    lei: str
    country: str
    roles: Role
    entity_key: str


@dataclass
class Reader:
    """Names, LEIs, currencies' decimals and known B/L numbers, loaded once per request."""

    members: dict[str, Member] = field(default_factory=dict)
    by_entity: dict[str, Member] = field(default_factory=dict)
    decimals: dict[str, int] = field(default_factory=dict)
    #: shipment id (0x-hex) -> B/L number: a dict, or the node's lookup (node_api.store.ReferenceLookup)
    references: Any = field(default_factory=dict)

    @classmethod
    def load(cls, db: Engine, references: Any = None) -> "Reader":
        r = cls(references={} if references is None else references)
        with db.connect() as c:
            for row in c.execute(select(participants.c.account, participants.c.legal_name, participants.c.lei,
                                        participants.c.country, participants.c.roles,
                                        participants.c.entity_key)):
                m = Member(row.account, row.legal_name, row.lei, row.country, Role(row.roles), row.entity_key)
                r.members[m.account] = m
                r.by_entity.setdefault(m.entity_key.lower(), m)
            for row in c.execute(select(currency_tokens.c.currency, currency_tokens.c.decimals)):
                r.decimals[row.currency] = row.decimals
        return r

    # -- parties -------------------------------------------------------------------------
    def name(self, address: str | None) -> str | None:
        m = self.members.get(address) if address else None
        return m.legal_name if m else None

    def lei(self, address: str | None) -> str | None:
        m = self.members.get(address) if address else None
        return m.lei if m else None

    def who(self, address: str | None) -> str:
        """``0xab12..cdef (Legal Name)`` for sentences."""
        if not address:
            return "nobody"
        name = self.name(address)
        return f"{short(address)} ({name})" if name else short(address)

    def entity(self, key: str | None) -> dict[str, Any]:
        """A risk-rules entity key (an LEI as bytes20, or a contract's address) as a party."""
        if not key:
            return {"entity_key": None, "lei": None, "legal_name": None, "accounts": []}
        m = self.by_entity.get(key.lower())
        lei = m.lei if m else _lei_text(key)
        accounts = sorted(a for a, x in self.members.items() if x.entity_key.lower() == key.lower())
        return {"entity_key": key, "lei": lei, "legal_name": m.legal_name if m else None, "accounts": accounts}

    def entity_name(self, key: str | None) -> str:
        e = self.entity(key)
        return e["legal_name"] or e["lei"] or (key or "nobody")

    # -- values ----------------------------------------------------------------------------
    def money(self, minor: int | None, currency: str | None) -> dict[str, str] | None:
        return money(minor, currency, self.decimals.get(currency or ""))

    def amount(self, minor: int, currency: str | None) -> str:
        return display(minor, currency, self.decimals.get(currency)) if currency else f"{minor:,} minor units"

    def reference(self, shipment_id: str | None) -> str | None:
        return self.references.get(shipment_id.lower()) if shipment_id else None

    # -- rows ------------------------------------------------------------------------------
    def row(self, row: Mapping[str, Any], *, parties: Iterable[str] = (), times: Iterable[str] = (),
            amounts: Mapping[str, str] | None = None, drop: Iterable[str] = ()) -> dict[str, Any]:
        """A read-model row made readable: each party field gets ``_name`` and ``_lei``, each time
        field ``_iso``, each amount field (-> the name of its currency field, or a currency) the
        Money shape; `drop` leaves columns out."""
        dropped = set(drop)
        out = {k: v for k, v in row.items() if k not in dropped}
        for p in parties:
            out[f"{p}_name"] = self.name(row.get(p))
            out[f"{p}_lei"] = self.lei(row.get(p))
        for t in times:
            out[f"{t}_iso"] = iso(row.get(t))
        for a, cur in (amounts or {}).items():
            currency = row.get(cur, cur) if cur in row else cur
            out[a] = self.money(row.get(a), currency)
        return out


def _lei_text(key: str) -> str | None:
    """The LEI an entity key spells (bytes20 of ASCII), or None for a contract's address."""
    try:
        raw = bytes.fromhex(key[2:])
    except ValueError:
        return None
    if raw.isascii() and raw.decode("ascii").isalnum():
        return raw.decode("ascii")
    return None


def entity_key_of_lei(lei: str) -> str:
    return "0x" + lei.encode("ascii").hex()


__all__ = ["LOCODE_NAMES", "Member", "Reader", "bps_text", "display", "document_type", "entity_key_of_lei",
           "event_name", "iso", "money", "place", "short"]


def reference_bytes(text: str) -> bytes:
    """A payment, deposit or payout reference as bytes32: the ASCII text itself, NUL-padded, when
    it fits 32 bytes (so it stays readable on chain), else its keccak256."""
    raw = text.encode("utf-8")
    if text.isascii() and 0 < len(raw) <= 32:
        return raw.ljust(32, b"\0")
    from eth_utils import keccak

    return keccak(raw)


def reference_text(value: str | bytes | None) -> str | None:
    """The text of a bytes32 reference made by :func:`reference_bytes` (None if it is a hash)."""
    if value is None:
        return None
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)
    text = raw.rstrip(b"\0")
    if text and all(32 <= b < 127 for b in text):
        return text.decode("ascii")
    return None
