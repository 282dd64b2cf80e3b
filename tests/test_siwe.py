"""Sign-In with Ethereum (EIP-4361): message format, verification, nonces, sessions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from eth_account import Account

from node_api.auth import (
    AuthError,
    ChainIdMismatchError,
    DomainMismatchError,
    InMemoryNonceStore,
    InMemorySessionStore,
    IssuedInFutureError,
    MalformedSignatureError,
    MessageExpiredError,
    MessageNotYetValidError,
    NonceExpiredError,
    NonceReusedError,
    NonceUnknownError,
    SchemeMismatchError,
    SessionExpiredError,
    SessionNotFoundError,
    SignerMismatchError,
    SiweError,
    SiweMessage,
    SiweMessageError,
    SiweParseError,
    VerifiedLogin,
    build_login_message,
    sign_login_message,
    verify_login,
)
from node_api.auth.rfc3339 import format_rfc3339, parse_rfc3339

DOMAIN = "node.tradenet.test:8443"
URI = "https://node.tradenet.test:8443/auth/login"
CHAIN_ID = 1337
T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)

ALICE = Account.from_key("0x" + "11" * 32)
MALLORY = Account.from_key("0x" + "22" * 32)

# The EIP's own example, verbatim.
EIP_EXAMPLE = (
    "example.com wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ExampleOrg Terms of Service: https://example.com/tos\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json"
)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def nonces() -> InMemoryNonceStore:
    return InMemoryNonceStore()


def make_message(nonce: str, **overrides: object) -> SiweMessage:
    fields: dict[str, object] = dict(
        address=ALICE.address,
        domain=DOMAIN,
        uri=URI,
        chain_id=CHAIN_ID,
        nonce=nonce,
        issued_at=T0,
        lifetime=timedelta(minutes=5),
    )
    fields.update(overrides)
    return build_login_message(**fields)  # type: ignore[arg-type]


def login(
    text: str,
    signature: str,
    store: InMemoryNonceStore,
    *,
    now: datetime = T0 + timedelta(seconds=10),
    **kwargs: object,
) -> VerifiedLogin:
    params: dict[str, object] = dict(
        expected_domain=DOMAIN, expected_uri=URI, expected_chain_id=CHAIN_ID, nonce_store=store, now=now
    )
    params.update(kwargs)
    return verify_login(text, signature, **params)  # type: ignore[arg-type]


def signed(message: SiweMessage, account: object = ALICE) -> tuple[str, str]:
    return message.to_text(), sign_login_message(message, account.key)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# Good login


def test_good_login(nonces: InMemoryNonceStore) -> None:
    message = make_message(nonces.issue())
    text, signature = signed(message)
    result = login(text, signature, nonces)
    assert result == VerifiedLogin(
        address=ALICE.address,
        chain_id=CHAIN_ID,
        issued_at=T0,
        expiration_time=T0 + timedelta(minutes=5),
    )


def test_good_login_accepts_bytes_signature_and_v_0_1(nonces: InMemoryNonceStore) -> None:
    text, signature = signed(make_message(nonces.issue()))
    raw = bytes.fromhex(signature[2:])
    raw = raw[:64] + bytes([raw[64] - 27])  # v in {0, 1}
    assert login(text, raw, nonces).address == ALICE.address


def test_message_text_is_exact_eip4361_layout() -> None:
    message = make_message("abcdEFGH1234", statement=None, lifetime=None)
    assert message.to_text() == (
        f"{DOMAIN} wants you to sign in with your Ethereum account:\n"
        f"{ALICE.address}\n"
        "\n"
        "\n"
        f"URI: {URI}\n"
        "Version: 1\n"
        f"Chain ID: {CHAIN_ID}\n"
        "Nonce: abcdEFGH1234\n"
        "Issued At: 2030-01-01T12:00:00Z"
    )


def test_scheme_is_checked_when_asked(nonces: InMemoryNonceStore) -> None:
    text, signature = signed(make_message(nonces.issue(), scheme="http"))
    with pytest.raises(SchemeMismatchError) as info:
        login(text, signature, nonces, expected_scheme="https")
    assert info.value.field == "scheme"
    # no scheme in the message means https
    text, signature = signed(make_message(nonces.issue()))
    assert login(text, signature, nonces, expected_scheme="https").address == ALICE.address


# ---------------------------------------------------------------------------
# Round trips


OPTIONAL_FIELDS: dict[str, object] = {
    "scheme": "https",
    "statement": "I accept the tradenet terms: https://tradenet.test/tos?v=2#s1",
    "expiration_time": T0 + timedelta(hours=1),
    "not_before": T0 - timedelta(minutes=1),
    "request_id": "req-42:a@b",
    "resources": (
        "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        "https://x.test/a?b=c",
    ),
}


def _base_message() -> SiweMessage:
    return SiweMessage(
        domain=DOMAIN,
        address=ALICE.address,
        uri=URI,
        chain_id=CHAIN_ID,
        nonce="n0nceN0nce",
        issued_at=T0,
    )


@pytest.mark.parametrize(
    "present",
    [(), *[(name,) for name in OPTIONAL_FIELDS], tuple(OPTIONAL_FIELDS)],
    ids=lambda p: "+".join(p) or "none",
)
def test_round_trip_with_and_without_optional_fields(present: tuple[str, ...]) -> None:
    message = replace(_base_message(), **{name: OPTIONAL_FIELDS[name] for name in present})
    text = message.to_text()
    parsed = SiweMessage.parse(text)
    assert parsed == message
    assert parsed.to_text() == text
    for name in OPTIONAL_FIELDS:
        if name not in present:
            assert getattr(parsed, name) in (None, ())


def test_parse_eip_example_verbatim() -> None:
    message = SiweMessage.parse(EIP_EXAMPLE)
    assert message.domain == "example.com"
    assert message.scheme is None
    assert message.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert message.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert message.uri == "https://example.com/login"
    assert message.chain_id == 1
    assert message.nonce == "32891756"
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=timezone.utc)
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )
    assert message.to_text() == EIP_EXAMPLE


def test_parse_explicit_scheme_and_empty_request_id() -> None:
    text = EIP_EXAMPLE.replace("example.com wants", "https://example.com:3388 wants").replace(
        "Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30T16:25:24Z\nRequest ID: "
    )
    message = SiweMessage.parse(text)
    assert (message.scheme, message.domain, message.request_id) == ("https", "example.com:3388", "")
    assert message.to_text() == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-09-30T16:25:24Z", datetime(2021, 9, 30, 16, 25, 24, tzinfo=timezone.utc)),
        ("2021-09-30t16:25:24z", datetime(2021, 9, 30, 16, 25, 24, tzinfo=timezone.utc)),
        ("2021-09-30T16:25:24.5Z", datetime(2021, 9, 30, 16, 25, 24, 500000, tzinfo=timezone.utc)),
        ("2021-09-30T18:25:24+02:00", datetime(2021, 9, 30, 16, 25, 24, tzinfo=timezone.utc)),
        ("2021-09-30T16:25:24.123456789-00:00",
         datetime(2021, 9, 30, 16, 25, 24, 123456, tzinfo=timezone.utc)),
    ],
)
def test_rfc3339_timestamps(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


def test_rfc3339_format_keeps_offset_and_precision() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert format_rfc3339(datetime(2021, 1, 2, 3, 4, 5, tzinfo=plus2)) == (
        "2021-01-02T03:04:05+02:00"
    )
    assert format_rfc3339(datetime(2021, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc)) == (
        "2021-01-02T03:04:05.120Z"
    )
    assert format_rfc3339(datetime(2021, 1, 2, 3, 4, 5, 1, tzinfo=timezone.utc)) == (
        "2021-01-02T03:04:05.000001Z"
    )
    with pytest.raises(ValueError):
        format_rfc3339(datetime(2021, 1, 2, 3, 4, 5))


def test_non_canonical_text_still_verifies(nonces: InMemoryNonceStore) -> None:
    """The signature is checked over the text received, not over a re-rendering."""
    nonce = nonces.issue()
    text = make_message(nonce, lifetime=None).to_text().replace(
        "Issued At: 2030-01-01T12:00:00Z", "Issued At: 2030-01-01T13:00:00.000+01:00"
    )
    assert SiweMessage.parse(text).to_text() != text
    signature = sign_login_message(text, ALICE.key)
    assert login(text, signature, nonces).issued_at == T0


# ---------------------------------------------------------------------------
# Refusals: each names its field


def test_wrong_domain_is_refused_and_does_not_spend_nonce(nonces: InMemoryNonceStore) -> None:
    nonce = nonces.issue()
    text, signature = signed(make_message(nonce, domain="evil.test"))
    with pytest.raises(DomainMismatchError) as info:
        login(text, signature, nonces)
    assert info.value.field == "domain"
    # the nonce was not spent by a message meant for another site
    text, signature = signed(make_message(nonce))
    assert login(text, signature, nonces).address == ALICE.address


def test_wrong_chain_id_is_refused_and_spends_nonce(nonces: InMemoryNonceStore) -> None:
    nonce = nonces.issue()
    text, signature = signed(make_message(nonce, chain_id=1))
    with pytest.raises(ChainIdMismatchError) as info:
        login(text, signature, nonces)
    assert info.value.field == "chain_id"
    text, signature = signed(make_message(nonce))
    with pytest.raises(NonceReusedError):
        login(text, signature, nonces)


def test_reused_nonce_is_refused(nonces: InMemoryNonceStore) -> None:
    text, signature = signed(make_message(nonces.issue()))
    login(text, signature, nonces)
    with pytest.raises(NonceReusedError) as info:
        login(text, signature, nonces)
    assert info.value.field == "nonce"


def test_unknown_nonce_is_refused(nonces: InMemoryNonceStore) -> None:
    text, signature = signed(make_message("NeverIssued1234"))
    with pytest.raises(NonceUnknownError) as info:
        login(text, signature, nonces)
    assert info.value.field == "nonce"


def test_nonce_ttl(nonces: InMemoryNonceStore) -> None:
    clock = FakeClock()
    store = InMemoryNonceStore(ttl=timedelta(minutes=10), clock=clock)
    nonce = store.issue()
    clock.advance(timedelta(minutes=10))
    text, signature = signed(make_message(nonce))
    with pytest.raises(NonceExpiredError) as info:
        login(text, signature, store)
    assert info.value.field == "nonce"


def test_nonce_store_bounds_memory() -> None:
    store = InMemoryNonceStore(max_outstanding=3)
    first = store.issue()
    for _ in range(5):
        store.issue()
    assert len(store) == 3
    with pytest.raises(NonceUnknownError):
        store.consume(first)


def test_expired_message_is_refused(nonces: InMemoryNonceStore) -> None:
    message = make_message(nonces.issue(), lifetime=timedelta(minutes=5))
    text, signature = signed(message)
    with pytest.raises(MessageExpiredError) as info:
        login(text, signature, nonces, now=T0 + timedelta(minutes=5))  # exactly at expiry
    assert info.value.field == "expiration_time"


def test_not_yet_valid_message_is_refused_and_cannot_be_replayed_later(
    nonces: InMemoryNonceStore,
) -> None:
    message = make_message(nonces.issue(), not_before=T0 + timedelta(minutes=2))
    text, signature = signed(message)
    with pytest.raises(MessageNotYetValidError) as info:
        login(text, signature, nonces, now=T0 + timedelta(minutes=1))
    assert info.value.field == "not_before"
    with pytest.raises(NonceReusedError):
        login(text, signature, nonces, now=T0 + timedelta(minutes=3))


def test_not_before_reached_is_accepted(nonces: InMemoryNonceStore) -> None:
    message = make_message(nonces.issue(), not_before=T0 + timedelta(minutes=2))
    text, signature = signed(message)
    assert login(text, signature, nonces, now=T0 + timedelta(minutes=2)).address == ALICE.address


def test_issued_in_future_beyond_skew_is_refused(nonces: InMemoryNonceStore) -> None:
    text, signature = signed(make_message(nonces.issue(), issued_at=T0 + timedelta(seconds=30)))
    assert login(text, signature, nonces, now=T0).address == ALICE.address  # within 60 s skew
    text, signature = signed(make_message(nonces.issue(), issued_at=T0 + timedelta(minutes=5)))
    with pytest.raises(IssuedInFutureError) as info:
        login(text, signature, nonces, now=T0)
    assert info.value.field == "issued_at"


def test_wrong_signer_is_refused(nonces: InMemoryNonceStore) -> None:
    # Mallory signs a message that claims to be Alice's.
    text, signature = signed(make_message(nonces.issue()), account=MALLORY)
    with pytest.raises(SignerMismatchError) as info:
        login(text, signature, nonces)
    assert info.value.field == "signature"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Sign in to the tradenet node", "Sign in to the tradenet NODE"),
        (f"URI: {URI}", "URI: https://node.tradenet.test:8443/elsewhere"),  # same origin: the uri check passes
        ("Issued At: 2030-01-01T12:00:00Z", "Issued At: 2030-01-01T12:00:01Z"),
    ],
)
def test_tampered_text_after_signing_is_refused(
    nonces: InMemoryNonceStore, old: str, new: str
) -> None:
    text, signature = signed(make_message(nonces.issue()))
    assert old in text
    tampered = text.replace(old, new)
    with pytest.raises(SignerMismatchError) as info:
        login(tampered, signature, nonces)
    assert info.value.field == "signature"


def test_tampered_address_is_refused(nonces: InMemoryNonceStore) -> None:
    text, signature = signed(make_message(nonces.issue()))
    with pytest.raises(SignerMismatchError):
        login(text.replace(ALICE.address, MALLORY.address), signature, nonces)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-2],  # 64.5 bytes
        lambda s: s[:-4],  # 64 bytes
        lambda s: "0xzz" + s[4:],  # not hex
        lambda s: s[:2] + "00" * 32 + s[66:],  # r = 0
        lambda s: s[:-2] + "05",  # bad v
        lambda s: s[:66] + "ff" * 32 + s[130:],  # s above n/2
        lambda s: s[:4] + " " + s[4:],  # whitespace smuggled into hex (still 65 bytes)
    ],
)
def test_malformed_signature_is_refused_without_spending_nonce(
    nonces: InMemoryNonceStore, mangle: Callable[[str], str]
) -> None:
    text, signature = signed(make_message(nonces.issue()))
    with pytest.raises(MalformedSignatureError) as info:
        login(text, mangle(signature), nonces)
    assert info.value.field == "signature"
    assert login(text, signature, nonces).address == ALICE.address


def test_high_s_twin_of_a_valid_signature_is_refused(nonces: InMemoryNonceStore) -> None:
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    text, signature = signed(make_message(nonces.issue()))
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    twin = raw[:32] + (n - s).to_bytes(32, "big") + bytes([55 - raw[64]])
    with pytest.raises(MalformedSignatureError):
        login(text, twin, nonces)


# ---------------------------------------------------------------------------
# Malformed messages name the field


def _lines() -> list[str]:
    return make_message(
        "abcdEFGH1234",
        expiration_time=T0 + timedelta(hours=1),
        not_before=T0,
        request_id="r1",
        resources=["https://a.test/1"],
    ).to_text().split("\n")


HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"


def _swap(index: int, value: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: lines[:index] + [value] + lines[index + 1:]


# line indices of _lines(): 0 header, 1 address, 2 "", 3 statement, 4 "", 5 URI,
# 6 Version, 7 Chain ID, 8 Nonce, 9 Issued At, 10 Expiration Time, 11 Not Before,
# 12 Request ID, 13 Resources:, 14 resource
MALFORMED: list[tuple[str, Callable[[list[str]], list[str]], str]] = [
    ("no header suffix", _swap(0, DOMAIN + " wants you to sign in"), "domain"),
    ("space in domain", _swap(0, "evil test" + HEADER_SUFFIX), "domain"),
    ("empty domain", _swap(0, HEADER_SUFFIX), "domain"),
    ("bad scheme", _swap(0, "1http://" + DOMAIN + HEADER_SUFFIX), "scheme"),
    ("lowercase address", _swap(1, ALICE.address.lower()), "address"),
    ("short address", _swap(1, ALICE.address[:-2]), "address"),
    ("address without 0x", _swap(1, "  " + ALICE.address[2:]), "address"),
    ("no blank after address", lambda l: l[:2] + l[3:], "statement"),
    ("statement with quote", _swap(3, 'say "hi"'), "statement"),
    ("statement with non-ASCII", _swap(3, "Sign in to 贸易网"), "statement"),
    ("no blank after statement", lambda l: l[:4] + l[5:], "statement"),
    ("missing URI", lambda l: l[:5] + l[6:], "uri"),
    ("bad URI", _swap(5, "URI: not a uri"), "uri"),
    ("URI tag case", _swap(5, "uri: " + URI), "uri"),
    ("version 2", _swap(6, "Version: 2"), "version"),
    ("chain id not a number", _swap(7, "Chain ID: one"), "chain_id"),
    ("chain id leading zero", _swap(7, "Chain ID: 01337"), "chain_id"),
    ("chain id zero", _swap(7, "Chain ID: 0"), "chain_id"),
    ("nonce too short", _swap(8, "Nonce: abc123"), "nonce"),
    ("nonce not alphanumeric", _swap(8, "Nonce: abcd-EFGH-1234"), "nonce"),
    ("missing nonce", lambda l: l[:8] + l[9:], "nonce"),
    ("issued at not a date", _swap(9, "Issued At: yesterday"), "issued_at"),
    ("issued at month 13", _swap(9, "Issued At: 2030-13-01T00:00:00Z"), "issued_at"),
    ("issued at without zone", _swap(9, "Issued At: 2030-01-01T00:00:00"), "issued_at"),
    ("expiration bad", _swap(10, "Expiration Time: 2030-01-01 00:00:00Z"), "expiration_time"),
    ("not before bad", _swap(11, "Not Before: 2030-02-30T00:00:00Z"), "not_before"),
    ("request id with space", _swap(12, "Request ID: a b"), "request_id"),
    ("bad resource", _swap(14, "- not a uri"), "resources"),
    ("out of order", lambda l: l[:10] + [l[11], l[10]] + l[12:], "expiration_time"),
    ("duplicate nonce", lambda l: l + [l[8]], "nonce"),
    ("CRLF line ends", lambda l: ["\r\n".join(l)], "message"),
    ("trailing LF", lambda l: l + [""], "message"),
    ("trailing garbage", lambda l: l + ["hello"], "message"),
    ("truncated", lambda l: l[:3], "statement"),
    ("empty", lambda l: [""], "domain"),
]


@pytest.mark.parametrize(
    ("mangle", "field"), [(m, f) for _, m, f in MALFORMED], ids=[name for name, _, _ in MALFORMED]
)
def test_malformed_message_names_field(
    mangle: Callable[[list[str]], list[str]], field: str
) -> None:
    text = "\n".join(mangle(_lines()))
    with pytest.raises(SiweParseError) as info:
        SiweMessage.parse(text)
    assert info.value.field == field, info.value.reason
    problem = info.value.problem()
    assert problem["field"] == field and problem["status"] == 400


def test_malformed_message_is_refused_by_verify(nonces: InMemoryNonceStore) -> None:
    nonce = nonces.issue()
    text, signature = signed(make_message(nonce))
    with pytest.raises(SiweParseError) as info:
        login(text.replace("Version: 1", "Version: 2"), signature, nonces)
    assert info.value.field == "version"
    assert login(text, signature, nonces).address == ALICE.address  # nonce not spent


def test_oversized_message_is_refused() -> None:
    with pytest.raises(SiweParseError) as info:
        SiweMessage.parse("x" * 100_000)
    assert info.value.field == "message"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"address": ALICE.address.lower()}, "address"),
        ({"statement": ""}, "statement"),
        ({"statement": "two\nlines"}, "statement"),
        ({"nonce": "short"}, "nonce"),
        ({"chain_id": True}, "chain_id"),
        ({"issued_at": datetime(2030, 1, 1)}, "issued_at"),
        ({"expiration_time": "2030-01-01T00:00:00Z"}, "expiration_time"),
        ({"resources": "https://a.test/"}, "resources"),
        ({"version": "2"}, "version"),
    ],
)
def test_invalid_fields_are_refused_on_construction(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(SiweMessageError) as info:
        replace(_base_message(), **overrides)
    assert info.value.field == field
    assert not isinstance(info.value, SiweParseError)


def test_builder_checksums_address() -> None:
    message = make_message("abcdEFGH1234", address=ALICE.address.lower())
    assert message.address == ALICE.address


# ---------------------------------------------------------------------------
# Error shape


def test_every_verification_error_is_a_siwe_error_with_field_and_problem(
    nonces: InMemoryNonceStore,
) -> None:
    text, signature = signed(make_message("NeverIssued1234"))
    with pytest.raises(SiweError) as info:
        login(text, signature, nonces)
    error = info.value
    assert isinstance(error, AuthError)
    assert error.status == 401
    assert error.problem() == {
        "type": "urn:tradenet:problem:nonce_unknown",
        "title": "Nonce was not issued by this server",
        "status": 401,
        "detail": error.reason,
        "code": "nonce_unknown",
        "field": "nonce",
    }


# ---------------------------------------------------------------------------
# Concurrency


def test_nonce_is_consumed_exactly_once_under_concurrency() -> None:
    store = InMemoryNonceStore()
    nonce = store.issue()
    successes: list[int] = []
    failures: list[Exception] = []
    barrier = threading.Barrier(16)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.consume(nonce)
            successes.append(i)
        except NonceReusedError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(successes) == 1
    assert len(failures) == 15


def test_concurrent_replays_of_one_login_succeed_once() -> None:
    store = InMemoryNonceStore()
    text, signature = signed(make_message(store.issue()))
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            login(text, signature, store)
            results.append("ok")
        except NonceReusedError:
            results.append("reused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["reused"] * 7


def test_issued_nonces_are_unique_and_valid() -> None:
    store = InMemoryNonceStore()
    issued = {store.issue() for _ in range(1000)}
    assert len(issued) == 1000
    assert all(len(n) >= 8 and n.isascii() and n.isalnum() for n in issued)


# ---------------------------------------------------------------------------
# Sessions


def test_session_lookup_and_expiry() -> None:
    clock = FakeClock()
    sessions = InMemorySessionStore(ttl=timedelta(hours=1), clock=clock)
    issued = sessions.create(ALICE.address, CHAIN_ID)
    assert len(issued.token) >= 43
    session = sessions.get(issued.token)
    assert (session.address, session.chain_id) == (ALICE.address, CHAIN_ID)
    assert session.issued_at == T0 and session.expires_at == T0 + timedelta(hours=1)
    assert not hasattr(session, "roles")

    clock.advance(timedelta(minutes=59, seconds=59))
    assert sessions.get(issued.token) == session
    clock.advance(timedelta(seconds=1))
    with pytest.raises(SessionExpiredError) as info:
        sessions.get(issued.token)
    assert info.value.field == "session" and info.value.status == 401
    with pytest.raises(SessionNotFoundError):  # expired sessions are dropped
        sessions.get(issued.token)


def test_session_revoke() -> None:
    sessions = InMemorySessionStore()
    first = sessions.create(ALICE.address, CHAIN_ID)
    second = sessions.create(ALICE.address, CHAIN_ID)
    other = sessions.create(MALLORY.address, CHAIN_ID)
    assert first.token != second.token

    assert sessions.revoke(first.token) is True
    assert sessions.revoke(first.token) is False
    with pytest.raises(SessionNotFoundError):
        sessions.get(first.token)
    assert sessions.get(second.token).address == ALICE.address

    assert sessions.revoke_address(ALICE.address) == 1
    with pytest.raises(SessionNotFoundError):
        sessions.get(second.token)
    assert sessions.get(other.token).address == MALLORY.address


def test_unknown_session_token() -> None:
    sessions = InMemorySessionStore()
    for token in ("", "nope", "x" * 10_000):
        with pytest.raises(SessionNotFoundError):
            sessions.get(token)


def test_session_store_keeps_no_plain_tokens() -> None:
    sessions = InMemorySessionStore()
    issued = sessions.create(ALICE.address, CHAIN_ID)
    assert issued.token not in repr(vars(sessions))  # only its SHA-256 is kept
    assert issued.token not in repr(issued.session)
    assert sessions.get(issued.token) == issued.session


def test_session_from_login_never_outlives_message(nonces: InMemoryNonceStore) -> None:
    clock = FakeClock(T0 + timedelta(seconds=10))
    sessions = InMemorySessionStore(ttl=timedelta(hours=8), clock=clock)
    text, signature = signed(make_message(nonces.issue(), lifetime=timedelta(minutes=30)))
    issued = sessions.start(login(text, signature, nonces))
    assert issued.session.expires_at == T0 + timedelta(minutes=30)
    assert issued.session.address == ALICE.address

    text, signature = signed(make_message(nonces.issue(), lifetime=None))
    issued = sessions.start(login(text, signature, nonces))
    assert issued.session.expires_at == clock.now + timedelta(hours=8)


def test_session_create_validates_input() -> None:
    sessions = InMemorySessionStore()
    with pytest.raises(ValueError):
        sessions.create(ALICE.address.lower(), CHAIN_ID)
    with pytest.raises(ValueError):
        sessions.create(ALICE.address, 0)
