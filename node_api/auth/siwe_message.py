"""EIP-4361 (Sign-In with Ethereum) messages: model, rendering, strict parser.

The message format, from the EIP's ABNF::

    sign-in-with-ethereum =
        [ scheme "://" ] domain %s" wants you to sign in with your Ethereum account:" LF
        address LF
        LF
        [ statement LF ]
        LF
        %s"URI: " uri LF
        %s"Version: " version LF
        %s"Chain ID: " chain-id LF
        %s"Nonce: " nonce LF
        %s"Issued At: " issued-at
        [ LF %s"Expiration Time: " expiration-time ]
        [ LF %s"Not Before: " not-before ]
        [ LF %s"Request ID: " request-id ]
        [ LF %s"Resources:" resources ]

    scheme     = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )     ; RFC 3986
    domain     = authority                                       ; RFC 3986
    address    = "0x" 40*40HEXDIG                                ; EIP-55 checksummed
    statement  = *( reserved / unreserved / " " )                ; RFC 3986, no LF
    uri        = URI                                             ; RFC 3986
    version    = "1"
    chain-id   = 1*DIGIT                                         ; EIP-155
    nonce      = 8*( ALPHA / DIGIT )
    issued-at / expiration-time / not-before = date-time         ; RFC 3339
    request-id = *pchar                                          ; RFC 3986
    resources  = *( LF resource )
    resource   = "- " URI

Choices where the ABNF leaves room (all stricter, never looser):

* lines end in LF only; a CR anywhere, or a trailing LF, is refused;
* a present statement must be non-empty (an empty statement line would make
  the text ambiguous to read), so ``statement`` is ``None`` or non-empty;
* ``chain-id`` must be canonical (no leading zeros), positive, and fit in
  uint256;
* the address must be exactly its EIP-55 checksummed form;
* messages longer than :data:`MAX_MESSAGE_LENGTH` characters are refused.

Timestamps are held as timezone-aware :class:`datetime` objects, so
``parse(text).to_text() == text`` for every text in canonical form (timestamps
as :func:`~node_api.auth.rfc3339.format_rfc3339` writes them, no empty
``Resources:`` section) and ``parse(message.to_text()) == message`` always.
Signatures are always checked against the text actually received, never a
re-rendering, so a non-canonical but valid text still verifies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Final

from eth_utils import to_checksum_address

from .errors import SiweMessageError, SiweParseError
from .rfc3339 import format_rfc3339, parse_rfc3339

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "SIWE_VERSION",
    "SiweMessage",
    "parse_message",
]

SIWE_VERSION: Final = "1"
MAX_MESSAGE_LENGTH: Final = 16 * 1024
_MAX_CHAIN_ID: Final = 2**256 - 1

_HEADER_SUFFIX: Final = " wants you to sign in with your Ethereum account:"
_TAG_URI: Final = "URI: "
_TAG_VERSION: Final = "Version: "
_TAG_CHAIN_ID: Final = "Chain ID: "
_TAG_NONCE: Final = "Nonce: "
_TAG_ISSUED_AT: Final = "Issued At: "
_TAG_EXPIRATION_TIME: Final = "Expiration Time: "
_TAG_NOT_BEFORE: Final = "Not Before: "
_TAG_REQUEST_ID: Final = "Request ID: "
_TAG_RESOURCES: Final = "Resources:"
_RESOURCE_PREFIX: Final = "- "

# --------------------------------------------------------------------------
# RFC 3986 building blocks (ASCII only)

_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})"
_IP_LITERAL = rf"\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\]"
_PORT = r"[0-9]*"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_AUTHORITY = rf"(?:{_USERINFO}@)?(?:{_IP_LITERAL}|{_REG_NAME}*)(?::{_PORT})?"
_NONEMPTY_AUTHORITY = rf"(?:{_USERINFO}@)?(?:{_IP_LITERAL}|{_REG_NAME}+)(?::{_PORT})?"
_HIER_PART = (
    rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*"  # "//" authority path-abempty
    rf"|/?(?:{_PCHAR}+(?:/{_PCHAR}*)*)?)"  # path-absolute / path-rootless / path-empty
)
_QUERY_OR_FRAGMENT = rf"(?:{_PCHAR}|[/?])*"

_SCHEME_RE = re.compile(_SCHEME, re.ASCII)
_DOMAIN_RE = re.compile(_NONEMPTY_AUTHORITY, re.ASCII)
_URI_RE = re.compile(
    rf"{_SCHEME}:{_HIER_PART}(?:\?{_QUERY_OR_FRAGMENT})?(?:#{_QUERY_OR_FRAGMENT})?",
    re.ASCII,
)
_STATEMENT_RE = re.compile(rf"[{_UNRESERVED}:/?#\[\]@{_SUB_DELIMS} ]+", re.ASCII)
_ADDRESS_RE = re.compile(r"0x[0-9A-Fa-f]{40}", re.ASCII)
_NONCE_RE = re.compile(r"[A-Za-z0-9]{8,}", re.ASCII)
_CHAIN_ID_RE = re.compile(r"[1-9][0-9]{0,77}", re.ASCII)
_REQUEST_ID_RE = re.compile(rf"{_PCHAR}*", re.ASCII)


# --------------------------------------------------------------------------
# Field validators: each raises SiweMessageError(field, reason)


def _check_scheme(value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _SCHEME_RE.fullmatch(value):
        raise SiweMessageError("scheme", f"not an RFC 3986 URI scheme: {value!r}")


def _check_domain(value: str) -> None:
    if not isinstance(value, str) or not _DOMAIN_RE.fullmatch(value):
        raise SiweMessageError(
            "domain", f"not an RFC 3986 authority ([userinfo@]host[:port]): {value!r}"
        )


def _check_address(value: str) -> None:
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        raise SiweMessageError("address", f"not a 0x-prefixed 20-byte hex address: {value!r}")
    expected = to_checksum_address(value)
    if value != expected:
        raise SiweMessageError(
            "address", f"not EIP-55 checksummed: {value!r} (expected {expected})"
        )


def _check_statement(value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or value == "":
        raise SiweMessageError("statement", "must be omitted (None) rather than empty")
    if not _STATEMENT_RE.fullmatch(value):
        raise SiweMessageError(
            "statement",
            "may only contain RFC 3986 reserved/unreserved ASCII characters and spaces "
            "(no line breaks)",
        )


def _check_uri(value: str, field_name: str) -> None:
    if not isinstance(value, str) or not _URI_RE.fullmatch(value):
        raise SiweMessageError(field_name, f"not an RFC 3986 URI: {value!r}")


def _check_version(value: str) -> None:
    if value != SIWE_VERSION:
        raise SiweMessageError("version", f"must be {SIWE_VERSION!r}, got {value!r}")


def _check_chain_id(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SiweMessageError("chain_id", f"must be an integer, got {type(value).__name__}")
    if not 1 <= value <= _MAX_CHAIN_ID:
        raise SiweMessageError("chain_id", f"must be a positive uint256, got {value}")


def _check_nonce(value: str) -> None:
    if not isinstance(value, str) or not _NONCE_RE.fullmatch(value):
        raise SiweMessageError(
            "nonce", "must be at least 8 ASCII letters or digits (ALPHA / DIGIT)"
        )


def _check_datetime(value: datetime | None, field_name: str, *, required: bool) -> None:
    if value is None:
        if required:
            raise SiweMessageError(field_name, "is required")
        return
    if not isinstance(value, datetime):
        raise SiweMessageError(field_name, f"must be a datetime, got {type(value).__name__}")
    try:
        format_rfc3339(value)
    except ValueError as exc:
        raise SiweMessageError(field_name, str(exc)) from None


def _check_request_id(value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _REQUEST_ID_RE.fullmatch(value):
        raise SiweMessageError("request_id", "may only contain RFC 3986 pchar characters")


# --------------------------------------------------------------------------
# The message


@dataclass(frozen=True, kw_only=True, slots=True)
class SiweMessage:
    """One EIP-4361 message. Fields are validated on construction.

    Invalid values raise :class:`SiweMessageError` naming the field.
    """

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    version: str = SIWE_VERSION
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)
    scheme: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.resources, tuple):
            if isinstance(self.resources, (str, bytes)):
                raise SiweMessageError("resources", "must be a sequence of URIs, not a string")
            object.__setattr__(self, "resources", tuple(self.resources))
        # ABNF order, so the first invalid field is the one reported.
        _check_scheme(self.scheme)
        _check_domain(self.domain)
        _check_address(self.address)
        _check_statement(self.statement)
        _check_uri(self.uri, "uri")
        _check_version(self.version)
        _check_chain_id(self.chain_id)
        _check_nonce(self.nonce)
        _check_datetime(self.issued_at, "issued_at", required=True)
        _check_datetime(self.expiration_time, "expiration_time", required=False)
        _check_datetime(self.not_before, "not_before", required=False)
        _check_request_id(self.request_id)
        for resource in self.resources:
            _check_uri(resource, "resources")

    # ------------------------------------------------------------------
    def to_text(self) -> str:
        """Render the exact EIP-4361 text that the wallet signs."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme is not None else self.domain
        lines = [origin + _HEADER_SUFFIX, self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        else:
            lines.append("")
        lines += [
            _TAG_URI + self.uri,
            _TAG_VERSION + self.version,
            _TAG_CHAIN_ID + str(self.chain_id),
            _TAG_NONCE + self.nonce,
            _TAG_ISSUED_AT + format_rfc3339(self.issued_at),
        ]
        if self.expiration_time is not None:
            lines.append(_TAG_EXPIRATION_TIME + format_rfc3339(self.expiration_time))
        if self.not_before is not None:
            lines.append(_TAG_NOT_BEFORE + format_rfc3339(self.not_before))
        if self.request_id is not None:
            lines.append(_TAG_REQUEST_ID + self.request_id)
        if self.resources:
            lines.append(_TAG_RESOURCES)
            lines += [_RESOURCE_PREFIX + resource for resource in self.resources]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Parse EIP-4361 text strictly; raise :class:`SiweParseError` naming the field."""
        return _Parser(text).parse()


def parse_message(text: str) -> SiweMessage:
    """Module-level alias of :meth:`SiweMessage.parse`."""
    return SiweMessage.parse(text)


# --------------------------------------------------------------------------
# Parser


_OPTIONAL_TAGS: Final = (
    ("expiration_time", _TAG_EXPIRATION_TIME),
    ("not_before", _TAG_NOT_BEFORE),
    ("request_id", _TAG_REQUEST_ID),
    ("resources", _TAG_RESOURCES),
)
_ALL_TAGS: Final = (
    ("uri", _TAG_URI),
    ("version", _TAG_VERSION),
    ("chain_id", _TAG_CHAIN_ID),
    ("nonce", _TAG_NONCE),
    ("issued_at", _TAG_ISSUED_AT),
    *_OPTIONAL_TAGS,
)


class _Parser:
    """Line cursor over a message; one method per ABNF production."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise SiweParseError("message", f"must be text, got {type(text).__name__}")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise SiweParseError("message", f"longer than {MAX_MESSAGE_LENGTH} characters")
        if "\r" in text:
            raise SiweParseError("message", "lines must end in LF only (CR found)")
        self._lines = text.split("\n")
        self._pos = 0

    # -- cursor helpers -------------------------------------------------
    def _peek(self) -> str | None:
        return self._lines[self._pos] if self._pos < len(self._lines) else None

    def _next(self, field_name: str, what: str) -> str:
        line = self._peek()
        if line is None:
            raise SiweParseError(field_name, f"message ends where {what} was expected")
        self._pos += 1
        return line

    def _expect_blank(self, field_name: str, after: str) -> None:
        line = self._next(field_name, f"an empty line after {after}")
        if line != "":
            raise SiweParseError(
                field_name, f"expected an empty line after {after} (line {self._pos})"
            )

    def _tagged(self, field_name: str, tag: str) -> str:
        line = self._next(field_name, repr(tag.strip()))
        if not line.startswith(tag):
            raise SiweParseError(
                field_name, f"expected a line starting with {tag!r} (line {self._pos})"
            )
        return line[len(tag):]

    @staticmethod
    def _validate(check: Callable[..., None], *args: object) -> None:
        try:
            check(*args)
        except SiweMessageError as exc:
            raise SiweParseError(exc.field, exc.reason) from None

    @staticmethod
    def _timestamp(field_name: str, value: str) -> datetime:
        try:
            return parse_rfc3339(value)
        except ValueError as exc:
            raise SiweParseError(field_name, str(exc)) from None

    # -- productions ----------------------------------------------------
    def parse(self) -> SiweMessage:
        scheme, domain = self._header()
        address = self._next("address", "the address")
        self._validate(_check_address, address)
        self._expect_blank("statement", "the address")
        statement = self._statement()

        uri = self._tagged("uri", _TAG_URI)
        self._validate(_check_uri, uri, "uri")
        version = self._tagged("version", _TAG_VERSION)
        self._validate(_check_version, version)
        chain_id = self._chain_id(self._tagged("chain_id", _TAG_CHAIN_ID))
        nonce = self._tagged("nonce", _TAG_NONCE)
        self._validate(_check_nonce, nonce)
        issued_at = self._timestamp("issued_at", self._tagged("issued_at", _TAG_ISSUED_AT))

        expiration_time = not_before = None
        request_id = None
        resources: tuple[str, ...] = ()
        for field_name, tag in _OPTIONAL_TAGS:
            line = self._peek()
            if line is None or not line.startswith(tag):
                continue
            self._pos += 1
            value = line[len(tag):]
            if field_name == "expiration_time":
                expiration_time = self._timestamp(field_name, value)
            elif field_name == "not_before":
                not_before = self._timestamp(field_name, value)
            elif field_name == "request_id":
                self._validate(_check_request_id, value)
                request_id = value
            else:
                if value != "":
                    raise SiweParseError("resources", "expected a line break after 'Resources:'")
                resources = self._resources()
        self._expect_end()
        try:
            return SiweMessage(
                scheme=scheme,
                domain=domain,
                address=address,
                statement=statement,
                uri=uri,
                version=version,
                chain_id=chain_id,
                nonce=nonce,
                issued_at=issued_at,
                expiration_time=expiration_time,
                not_before=not_before,
                request_id=request_id,
                resources=resources,
            )
        except SiweMessageError as exc:  # pragma: no cover - fields were checked above
            raise SiweParseError(exc.field, exc.reason) from None

    def _header(self) -> tuple[str | None, str]:
        line = self._next("domain", "the header line")
        if not line.endswith(_HEADER_SUFFIX):
            raise SiweParseError(
                "domain",
                f"first line must be '[scheme://]<domain>{_HEADER_SUFFIX}'",
            )
        origin = line[: -len(_HEADER_SUFFIX)]
        scheme: str | None = None
        if "://" in origin:
            scheme, origin = origin.split("://", 1)
            self._validate(_check_scheme, scheme)
        self._validate(_check_domain, origin)
        return scheme, origin

    def _statement(self) -> str | None:
        line = self._next("statement", "the statement or an empty line")
        if line == "":
            return None
        self._validate(_check_statement, line)
        self._expect_blank("statement", "the statement")
        return line

    def _chain_id(self, value: str) -> int:
        if not _CHAIN_ID_RE.fullmatch(value):
            raise SiweParseError(
                "chain_id", f"must be a positive decimal integer without leading zeros: {value!r}"
            )
        chain_id = int(value)
        self._validate(_check_chain_id, chain_id)
        return chain_id

    def _resources(self) -> tuple[str, ...]:
        resources: list[str] = []
        while (line := self._peek()) is not None and line.startswith(_RESOURCE_PREFIX):
            self._pos += 1
            resource = line[len(_RESOURCE_PREFIX):]
            self._validate(_check_uri, resource, "resources")
            resources.append(resource)
        return tuple(resources)

    def _expect_end(self) -> None:
        line = self._peek()
        if line is None:
            return
        for field_name, tag in _ALL_TAGS:
            if line.startswith(tag.rstrip()):
                raise SiweParseError(
                    field_name,
                    f"{tag.strip()!r} is duplicated or out of order (line {self._pos + 1})",
                )
        if line == "" and self._pos == len(self._lines) - 1:
            raise SiweParseError("message", "trailing line break after the last field")
        raise SiweParseError("message", f"unexpected content at line {self._pos + 1}")
