"""Conversions between decoded ABI values, their JSON form in ``events.args``, and the
type-tagged JSON used for row images in ``undo_log``.

``events.args`` JSON is meant to be read by people and by other services (node API):

* ``uintN``/``intN`` (and fixed point) -> decimal *string* (so uint256 survives JSON / JS clients),
* ``address`` -> EIP-55 checksummed string, ``bool`` -> bool, ``string`` -> string,
* ``bytes``/``bytesN`` -> ``0x`` hex string,
* arrays -> lists, tuples (structs) -> objects keyed by component name (list if unnamed),
* an *indexed* dynamic value (string, bytes, array, struct) is only present as its keccak topic,
  stored as ``0x`` hex.

Projections never see the JSON form: both the live path and the replay path hand them
``json_to_native(abi, args_json)``, so a projection gets the exact same Python values
(ints, bytes, checksummed str, dicts, lists) whether an event comes from the node or from the
``events`` table. That is what makes replay deterministic.

Strings are stored as the chain gave them, except for the characters a database cannot hold:
PostgreSQL refuses NUL (``\u0000``) in ``text`` and ``jsonb`` (``UntranslatableCharacter``),
and no UTF-8 column holds a lone surrogate. Any contract can emit such a string (a NUL-bearing
invoice number once stopped the PostgreSQL indexer for good), so :func:`storable_text`
replaces each of them with U+FFFD in ``events.args`` (and hence in every projection, on both
paths alike); the engine then keeps the log's raw ``topics`` and ``data`` with the row, so the
exact value stays recoverable (:func:`has_unstorable` says when).
"""
from __future__ import annotations

import base64
import datetime as _dt
import functools
import re
from decimal import Decimal
from typing import Any, Mapping, Sequence

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address as _to_checksum_address
from eth_utils.abi import collapse_if_tuple

#: EIP-55 checksumming costs a keccak; a followed contract sees the same few addresses often.
to_checksum_address = functools.lru_cache(maxsize=1 << 16)(_to_checksum_address)


#: what no database column can store: NUL (PostgreSQL) and lone surrogates (not UTF-8)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """`text` with every character a database cannot store replaced by U+FFFD (length kept)."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def ascii_code(raw: bytes) -> str:
    """A fixed-size ASCII code (``bytes3`` currency, ``bytes20`` LEI...) as storable text: trailing
    NUL padding dropped, non-ASCII bytes and inner NULs as U+FFFD."""
    return storable_text(bytes(raw).rstrip(b"\x00").decode("ascii", errors="replace"))


def has_unstorable(value: Any) -> bool:
    """Whether a decoded value holds a string :func:`storable_text` would change."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_unstorable(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_unstorable(v) for v in value)
    return False


def _is_dynamic_for_topic(param: Mapping[str, Any]) -> bool:
    t = param["type"]
    return t.endswith("]") or t in ("string", "bytes") or t.startswith("tuple")


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value if value.startswith("0x") else "0x" + value
    return "0x" + bytes(value).hex()


def value_to_json(param: Mapping[str, Any], value: Any, *, indexed: bool = False) -> Any:
    """Convert one decoded ABI value to its JSON form (see module doc)."""
    t = param["type"]
    if indexed and _is_dynamic_for_topic(param):
        return _hex(value)
    if t.endswith("]"):
        inner = dict(param, type=t[: t.rindex("[")])
        return [value_to_json(inner, v) for v in value]
    if t == "tuple":
        comps = param.get("components") or []
        if isinstance(value, Mapping):
            vals = [value[c["name"]] for c in comps]
        else:
            vals = list(value)
        if comps and all(c.get("name") for c in comps):
            return {c["name"]: value_to_json(c, v) for c, v in zip(comps, vals)}
        return [value_to_json(c, v) for c, v in zip(comps, vals)]
    if t.startswith(("uint", "int")):
        return str(int(value))
    if t.startswith(("fixed", "ufixed")):
        return str(value)
    if t == "address":
        return to_checksum_address(value)
    if t == "bool":
        return bool(value)
    if t == "string":
        return storable_text(str(value))
    if t.startswith("bytes"):
        return _hex(value)
    raise ValueError(f"unsupported ABI type {t!r}")


def value_from_json(param: Mapping[str, Any], value: Any, *, indexed: bool = False) -> Any:
    """Inverse of :func:`value_to_json`, giving the native Python value handed to projections."""
    t = param["type"]
    if value is None:
        return None
    if indexed and _is_dynamic_for_topic(param):
        return bytes.fromhex(value[2:])
    if t.endswith("]"):
        inner = dict(param, type=t[: t.rindex("[")])
        return [value_from_json(inner, v) for v in value]
    if t == "tuple":
        comps = param.get("components") or []
        if isinstance(value, Mapping):
            return {c["name"]: value_from_json(c, value[c["name"]]) for c in comps}
        return [value_from_json(c, v) for c, v in zip(comps, value)]
    if t.startswith(("uint", "int")):
        return int(value)
    if t.startswith(("fixed", "ufixed")):
        return Decimal(value)
    if t == "address":
        return to_checksum_address(value)
    if t == "bool":
        return bool(value)
    if t == "string":
        return str(value)
    if t.startswith("bytes"):
        return bytes.fromhex(value[2:])
    raise ValueError(f"unsupported ABI type {t!r}")


# --------------------------------------------------------------------------- compiled per ABI
# The live path converts every decoded event twice (to its stored JSON form, and from that form
# to the native values projections get); interpreting the ABI type strings value by value cost
# more than the decoding. `_compile` does it once per parameter: a pair of functions giving
# exactly what value_to_json and value_from_json(value_to_json(...)) give (tested side by side).

def _bytes_native(value: Any) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value) if isinstance(value, str) else bytes(value)


def _compile(param: Mapping[str, Any], indexed: bool = False) -> tuple[Any, Any]:
    """(to_json, native) for one ABI parameter: ``to_json(v) == value_to_json(param, v,
    indexed=indexed)`` and ``native(v) == value_from_json(param, to_json(v), indexed=indexed)``."""
    t = param["type"]
    if indexed and _is_dynamic_for_topic(param):
        return _hex, _bytes_native
    if t.endswith("]"):
        inner_to, inner_native = _compile(dict(param, type=t[: t.rindex("[")]))
        return (lambda v: [inner_to(x) for x in v]), (lambda v: [inner_native(x) for x in v])
    if t == "tuple":
        comps = list(param.get("components") or [])
        pairs = [_compile(c) for c in comps]
        names = [c.get("name") for c in comps]

        def values(v: Any) -> list[Any]:
            return [v[n] for n in names] if isinstance(v, Mapping) else list(v)

        if comps and all(names):
            keyed = list(zip(names, pairs))
            return ((lambda v: {n: to(x) for (n, (to, _)), x in zip(keyed, values(v))}),
                    (lambda v: {n: nat(x) for (n, (_, nat)), x in zip(keyed, values(v))}))
        return ((lambda v: [to(x) for (to, _), x in zip(pairs, values(v))]),
                (lambda v: [nat(x) for (_, nat), x in zip(pairs, values(v))]))
    if t.startswith(("uint", "int")):
        return (lambda v: str(int(v))), int
    if t.startswith(("fixed", "ufixed")):
        return str, (lambda v: Decimal(str(v)))
    if t == "address":
        return to_checksum_address, to_checksum_address
    if t == "bool":
        return bool, bool
    if t == "string":
        text = (lambda v: storable_text(str(v)))
        return text, text
    if t.startswith("bytes"):
        return _hex, _bytes_native
    raise ValueError(f"unsupported ABI type {t!r}")


def _holds_text(param: Mapping[str, Any], indexed: bool = False) -> bool:
    """Whether a decoded value of `param` can hold a string (only those can be unstorable)."""
    if indexed and _is_dynamic_for_topic(param):
        return False
    t = param["type"]
    if t.endswith("]"):
        return _holds_text(dict(param, type=t[: t.rindex("[")]))
    if t == "tuple":
        return any(_holds_text(c) for c in param.get("components") or [])
    return t == "string"


def _arg_name(param: Mapping[str, Any], i: int) -> str:
    return param.get("name") or f"arg{i}"


def args_to_json(event_abi: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, p in enumerate(event_abi.get("inputs", [])):
        name = _arg_name(p, i)
        out[name] = value_to_json(p, args[name], indexed=bool(p.get("indexed")))
    return out


def args_from_json(event_abi: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, p in enumerate(event_abi.get("inputs", [])):
        name = _arg_name(p, i)
        out[name] = value_from_json(p, args.get(name), indexed=bool(p.get("indexed")))
    return out


# --------------------------------------------------------------------------- undo row images
# A row image is a dict column -> tagged value. Plain JSON scalars (str, bool, float, None) are
# kept as they are; everything else is a one-key object so that it round-trips exactly.

def encode_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, _dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, (dict, list)):
        return {"j": value}
    raise TypeError(f"cannot record {type(value).__name__} in the undo log")


def decode_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, v),) = value.items()
    if tag == "i":
        return int(v)
    if tag == "d":
        return Decimal(v)
    if tag == "b":
        return base64.b64decode(v)
    if tag == "dt":
        return _dt.datetime.fromisoformat(v)
    if tag == "date":
        return _dt.date.fromisoformat(v)
    if tag == "j":
        return v
    raise ValueError(f"unknown undo tag {tag!r}")


def encode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: encode_value(v) for k, v in row.items()}


def decode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: decode_value(v) for k, v in row.items()}


def event_signature(event_abi: Mapping[str, Any]) -> str:
    """Canonical signature, e.g. ``Transfer(address,address,uint256)`` (tuples expanded)."""
    types = ",".join(collapse_if_tuple(dict(p)) for p in event_abi.get("inputs", []))
    return f"{event_abi['name']}({types})"


_ZERO_WORD = bytes(32)


def _word_decoder(abi_type: str):
    """A decoder of one 32-byte word of an elementary static ABI type, giving what eth_abi gives,
    or None for a word eth_abi would refuse (bad padding, out of range): the caller then lets
    eth_abi decode it (and raise). None for a type it does not handle."""
    if abi_type == "address":
        return lambda w: "0x" + w[12:].hex() if w[:12] == _ZERO_WORD[:12] else None
    if abi_type == "bool":
        return lambda w: (w[31] == 1) if w[:31] == _ZERO_WORD[:31] and w[31] in (0, 1) else None
    if abi_type.startswith("uint") and abi_type[4:].isdigit():
        bound = 1 << int(abi_type[4:])
        return lambda w: v if (v := int.from_bytes(w, "big")) < bound else None
    if abi_type.startswith("int") and abi_type[3:].isdigit():
        half = 1 << (int(abi_type[3:]) - 1)
        return lambda w: v if -half <= (v := int.from_bytes(w, "big", signed=True)) < half else None
    if abi_type.startswith("bytes") and abi_type[5:].isdigit() and 1 <= int(abi_type[5:]) <= 32:
        n = int(abi_type[5:])
        return lambda w: w[:n] if w[n:] == _ZERO_WORD[n:] else None
    return None


def _string(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # eth_abi refuses it: the caller hands the log to eth_abi
        return None


def _bytes(raw: bytes) -> bytes:
    return raw


#: the dynamic types the word-by-word path decodes (a pointer in the head, the value in the tail)
_DYNAMIC = {"string": _string, "bytes": _bytes}


class EventDecoder:
    """Decodes the topics and data of one (non-anonymous) event ABI with eth_abi directly.

    Returns ``{arg name: decoded value}`` like web3's ``get_event_data`` (addresses may be
    lowercase, structs are tuples, an indexed dynamic value is its 32-byte topic), several times
    faster; :func:`args_to_json` normalizes the result. An event whose arguments are all
    elementary types (addresses, integers, bools, bytesN, and ``string`` / ``bytes`` not indexed:
    most events) is decoded word by word without eth_abi, with eth_abi's checks (data it would
    refuse goes to eth_abi, which raises as before)."""

    def __init__(self, event_abi: Mapping[str, Any]):
        self.abi = event_abi
        inputs = list(event_abi.get("inputs", []))
        self.names = [_arg_name(p, i) for i, p in enumerate(inputs)]
        self.indexed = [(i, p) for i, p in enumerate(inputs) if p.get("indexed")]
        self.plain = [(i, p) for i, p in enumerate(inputs) if not p.get("indexed")]
        self.plain_types = [collapse_if_tuple(dict(p)) for _, p in self.plain]
        self._fast = self._fast_path()
        compiled = [(n, *_compile(p, bool(p.get("indexed")))) for n, p in zip(self.names, inputs)]
        self._to_json = [(n, to) for n, to, _ in compiled]
        self._native = [(n, nat) for n, _, nat in compiled]
        #: whether a decoded event can hold a string a database cannot store (see has_unstorable)
        self.holds_text = any(_holds_text(p, bool(p.get("indexed"))) for p in inputs)

    def to_json(self, decoded: Mapping[str, Any]) -> dict[str, Any]:
        """``args_to_json(abi, decoded)``."""
        return {n: to(decoded[n]) for n, to in self._to_json}

    def native(self, decoded: Mapping[str, Any]) -> dict[str, Any]:
        """``args_from_json(abi, args_to_json(abi, decoded))``, without the JSON form."""
        return {n: nat(decoded[n]) for n, nat in self._native}

    def unstorable(self, decoded: Mapping[str, Any]) -> bool:
        """``has_unstorable(decoded)``, answered at once for an event without strings."""
        return self.holds_text and has_unstorable(decoded)

    def _fast_path(self) -> tuple[list, list] | None:
        topic_decoders = []
        for i, p in self.indexed:
            dec = bytes if _is_dynamic_for_topic(p) else _word_decoder(p["type"])
            if dec is None:
                return None
            topic_decoders.append((i, dec))
        word_decoders = []
        for i, p in self.plain:
            dec = _DYNAMIC.get(p["type"]) or _word_decoder(p["type"])
            if dec is None:
                return None
            word_decoders.append((i, dec))
        self._dynamic = any(dec in _DYNAMIC.values() for _, dec in word_decoders)
        return topic_decoders, word_decoders

    def decode(self, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        if len(topics) != 1 + len(self.indexed):
            raise ValueError(f"expected {1 + len(self.indexed)} topics, got {len(topics)}")
        head = 32 * len(self.plain)
        if self._fast is not None and (len(data) >= head if self._dynamic else len(data) == head):
            values = self._decode_words(topics, data)
            if values is not None:
                return dict(zip(self.names, values))
        values = [None] * len(self.names)
        for (i, p), topic in zip(self.indexed, topics[1:]):
            if _is_dynamic_for_topic(p):
                values[i] = bytes(topic)
            else:
                (values[i],) = abi_decode([collapse_if_tuple(dict(p))], bytes(topic))
        if self.plain:
            for (i, _), v in zip(self.plain, abi_decode(self.plain_types, bytes(data))):
                values[i] = v
        return dict(zip(self.names, values))

    def _decode_words(self, topics: Sequence[bytes], data: bytes) -> list[Any] | None:
        topic_decoders, word_decoders = self._fast  # type: ignore[misc]
        values: list[Any] = [None] * len(self.names)
        for (i, dec), topic in zip(topic_decoders, topics[1:]):
            if dec is bytes:
                values[i] = bytes(topic)
                continue
            if len(topic) != 32 or (v := dec(bytes(topic))) is None:
                return None
            values[i] = v
        data = bytes(data)
        head, size = 32 * len(word_decoders), len(data)
        for k, (i, dec) in enumerate(word_decoders):
            word = data[32 * k:32 * k + 32]
            if dec is _string or dec is _bytes:
                # eth_abi's checks (strict): the pointer past the head and inside the data, the
                # length word and the padded value inside it, zero padding, UTF-8 for a string
                offset = int.from_bytes(word, "big")
                if not head <= offset < size or offset + 32 > size:
                    return None
                length = int.from_bytes(data[offset:offset + 32], "big")
                start, end = offset + 32, offset + 32 + length
                padded = start + (length + 31) // 32 * 32
                if padded > size or data[end:padded].strip(b"\x00"):
                    return None
                v = dec(data[start:end])
            else:
                v = dec(word)
            if v is None:
                return None
            values[i] = v
        return values


__all__: Sequence[str] = (
    "EventDecoder",
    "ascii_code",
    "has_unstorable",
    "storable_text",
    "to_checksum_address",
    "value_to_json",
    "value_from_json",
    "args_to_json",
    "args_from_json",
    "encode_row",
    "decode_row",
    "event_signature",
)
