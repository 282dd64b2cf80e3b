"""Tests of node_api.documents: encryption, key wrapping, CIDs, stores, masking.

Tests named ``*kubo*`` talk to a real kubo daemon started by ``tests/support/kubo.py`` (built
from source on first use). They run by default and are marked ``slow`` so they can be deselected
with ``-m "not slow"`` (or ``-k "not kubo"``).
"""

from __future__ import annotations

import hashlib
import logging

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from node_api.documents import (
    CHUNK_SIZE,
    MAX_LINKS,
    DecryptionError,
    DocumentNotFoundError,
    DocumentService,
    FileKeyRing,
    InvalidCIDError,
    KeyUnwrapError,
    KuboDocumentStore,
    LocalDocumentStore,
    NotAPartyError,
    TamperedDocumentError,
    WrappedKey,
    WrongKeyError,
    compute_cid,
    generate_document_key,
    mask_account_number,
    mask_identifier,
    mask_sensitive,
    parse_cid,
    public_key_from_private_key,
    recover_public_key,
    unwrap_key,
    wrap_key,
)

CONTEXT = b"tradenet-doc-v1"

# ipfshttpclient 0.7's requests adapter passes urllib3 a deprecated argument on every request.
pytestmark = pytest.mark.filterwarnings("ignore:The 'strict' parameter is no longer needed:FutureWarning")


def pattern(n: int) -> bytes:
    """Deterministic test content; period 251 makes every 256 KiB chunk different."""
    return (bytes(range(251)) * (n // 251 + 1))[:n]


class Party:
    def __init__(self) -> None:
        acct = Account.create()
        self.address = acct.address
        self.key = acct.key  # HexBytes, 32 bytes, as eth-account gives it
        self.pubkey = public_key_from_private_key(acct.key)


@pytest.fixture(scope="module")
def seller() -> Party:
    return Party()


@pytest.fixture(scope="module")
def lender() -> Party:
    return Party()


@pytest.fixture(scope="module")
def outsider() -> Party:
    return Party()


@pytest.fixture
def store(tmp_path) -> LocalDocumentStore:
    return LocalDocumentStore(tmp_path / "docs")


@pytest.fixture
def service(store) -> DocumentService:
    return DocumentService(store)


# --- encryption, wrapping, access ---------------------------------------------------------------

def test_round_trip_for_every_reader(service, store, seller, lender):
    plaintext = b"%PDF-1.7 invoice INV-001 " + pattern(5000)
    doc = service.upload(plaintext, {seller.address: seller.pubkey, lender.address: lender.pubkey},
                         CONTEXT)
    stored = store.get(doc.cid)
    assert plaintext not in stored
    assert len(stored) == doc.size == 12 + len(plaintext) + 16
    assert doc.sha256 == "0x" + hashlib.sha256(stored).hexdigest()
    assert doc.keccak == "0x" + keccak(stored).hex()
    assert doc.cid == compute_cid(stored)
    assert set(doc.readers) == {seller.address, lender.address}
    for party in (seller, lender):
        assert service.download(doc.cid, doc.sha256, party.address, party.key, CONTEXT) == plaintext


def test_every_upload_uses_fresh_key_and_nonce(service, seller):
    readers = {seller.address: seller.pubkey}
    a, b = service.upload(b"same bytes", readers), service.upload(b"same bytes", readers)
    assert a.cid != b.cid and a.sha256 != b.sha256
    assert a.wrapped_keys[0].ephemeral_public_key != b.wrapped_keys[0].ephemeral_public_key
    key_a = unwrap_key(a.wrapped_keys[0], seller.key)
    key_b = unwrap_key(b.wrapped_keys[0], seller.key)
    assert key_a != key_b and len(key_a) == 32


def test_non_party_cannot_read(service, seller, lender, outsider):
    doc = service.upload(b"confidential", {seller.address: seller.pubkey})
    with pytest.raises(NotAPartyError):
        service.download(doc.cid, doc.sha256, outsider.address, outsider.key)
    with pytest.raises(NotAPartyError):  # keys passed explicitly (e.g. from the chain record)
        service.download(doc.cid, doc.sha256, lender.address, lender.key,
                         wrapped_keys=doc.wrapped_keys)


def test_wrong_private_key_is_refused(service, seller, lender, outsider):
    doc = service.upload(b"confidential", {seller.address: seller.pubkey, lender.address: lender.pubkey})
    # claims to be the seller but holds another key
    with pytest.raises(WrongKeyError):
        service.download(doc.cid, doc.sha256, seller.address, outsider.key)
    with pytest.raises(WrongKeyError):
        unwrap_key(doc.wrapped_keys[0], lender.key if doc.wrapped_keys[0].recipient == seller.address
                   else seller.key)
    # an outsider relabelling someone else's wrapped key as its own still cannot open it
    stolen = WrappedKey.from_dict({**doc.wrapped_keys[0].to_dict(), "recipient": outsider.address})
    with pytest.raises(KeyUnwrapError):
        unwrap_key(stolen, outsider.key)


def test_corrupted_wrapped_key_is_refused(seller):
    wrapped = wrap_key(generate_document_key(), seller.pubkey)
    ct = bytearray(wrapped.ciphertext)
    ct[0] ^= 1
    bad = WrappedKey(wrapped.recipient, wrapped.ephemeral_public_key, wrapped.nonce, bytes(ct))
    with pytest.raises(KeyUnwrapError):
        unwrap_key(bad, seller.key)


def test_wrong_context_is_refused(service, seller):
    doc = service.upload(b"bound to context", {seller.address: seller.pubkey}, CONTEXT)
    with pytest.raises(DecryptionError):
        service.download(doc.cid, doc.sha256, seller.address, seller.key, b"tradenet-doc-v2")


def test_tampered_store_file_is_refused(service, store, seller):
    doc = service.upload(b"pay to IBAN DE89370400440532013000", {seller.address: seller.pubkey})
    path = store.path_for(doc.cid)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedDocumentError):
        store.get(doc.cid)
    with pytest.raises(TamperedDocumentError):
        service.download(doc.cid, doc.sha256, seller.address, seller.key)


def test_hash_not_matching_anchor_is_refused(service, seller):
    doc = service.upload(b"document A", {seller.address: seller.pubkey})
    other = service.upload(b"document B", {seller.address: seller.pubkey})
    with pytest.raises(TamperedDocumentError):
        service.download(doc.cid, other.sha256, seller.address, seller.key)


def test_upload_checks_public_key_belongs_to_address(service, seller, lender):
    with pytest.raises(ValueError, match="belongs to"):
        service.upload(b"x", {seller.address: lender.pubkey})


def test_wrapped_key_serialisation(seller):
    wrapped = wrap_key(generate_document_key(), seller.pubkey)
    assert WrappedKey.from_json(wrapped.to_json()) == wrapped
    assert WrappedKey.from_dict({**wrapped.to_dict(), "recipient": seller.address.lower()}) == wrapped
    assert wrapped.to_dict()["recipient"] == seller.address  # checksummed
    with pytest.raises(ValueError):
        WrappedKey.from_dict({**wrapped.to_dict(), "nonce": "0x00"})


def test_public_key_formats_and_recovery(seller):
    acct = Account.from_key(seller.key)
    signed = acct.sign_message(encode_defunct(text="Sign in to tradenet"))
    assert recover_public_key("Sign in to tradenet", signed.signature) == seller.pubkey
    uncompressed = b"\x04" + seller.pubkey
    prefix = b"\x02" if seller.pubkey[-1] % 2 == 0 else b"\x03"
    for form in (seller.pubkey, uncompressed, prefix + seller.pubkey[:32], "0x" + seller.pubkey.hex()):
        assert unwrap_key(wrap_key(b"k" * 32, form), seller.key) == b"k" * 32
    with pytest.raises(ValueError):
        wrap_key(b"k" * 32, b"\x04" + b"\x01" * 64)  # not on the curve


def test_file_keyring_survives_restart(tmp_path, seller, lender):
    store = LocalDocumentStore(tmp_path / "docs")
    doc = DocumentService(store, FileKeyRing(tmp_path / "keys")).upload(
        b"persisted", {seller.address: seller.pubkey, lender.address: lender.pubkey})
    fresh = DocumentService(LocalDocumentStore(tmp_path / "docs"), FileKeyRing(tmp_path / "keys"))
    assert fresh.download(doc.cid, doc.sha256, lender.address, lender.key) == b"persisted"


# --- local store ---------------------------------------------------------------------------------

def test_local_store_basics(store):
    cid = store.put(b"abc")
    assert store.has(cid) and store.get(cid) == b"abc"
    assert store.put(b"abc") == cid  # idempotent
    missing = compute_cid(b"never stored")
    assert not store.has(missing)
    with pytest.raises(DocumentNotFoundError):
        store.get(missing)
    with pytest.raises(InvalidCIDError):
        store.get("../../etc/passwd")
    assert not list(store.root.rglob(".tmp-*"))


# --- CIDs ----------------------------------------------------------------------------------------

# CIDs printed by kubo v0.43.0 for `ipfs add --cid-version=1` of pattern(size) (see the kubo tests
# below, which recompute them against the live daemon).
KUBO_VECTORS = {
    0: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    1: "bafkreidogqfzz75tpkmjzjke425xqcrmpcib2p5tg44hnbirumdbpl5adu",
    CHUNK_SIZE: "bafkreibruh455iawsviqslif5c7uurdcfdemh22mtnytyzvnzn75kpejxy",
    CHUNK_SIZE + 1: "bafybeiexg2oqkfnj56l7fcmawswqbijt5shq4b5rg6a546uwpkqqzwjioi",
    1 << 20: "bafybeiedpcapwld4tkgtzwahfofgn4wex5ryysf4se6hwpmlrsh4ntnrau",
    (1 << 20) + 12345: "bafybeig2apkvunuygipxgl4glznvv3zl2uhthrcbxtuey7cgvjqxqnojdm",
}
LARGE = MAX_LINKS * CHUNK_SIZE + 1  # 175 leaves: needs a second tree level (~45.6 MB)
KUBO_LARGE = "bafybeib4y7ghw2rq7bracc4xwtxrbzo7cfvagdpte2tmrkgwl6dyard3cm"


@pytest.mark.parametrize("size", sorted(KUBO_VECTORS))
def test_cid_known_answers(size):
    assert compute_cid(pattern(size)) == KUBO_VECTORS[size]


def test_cid_known_answer_hello_world():
    # the well-known raw CIDv1 of b"hello world"
    assert compute_cid(b"hello world") == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def test_cid_known_answer_two_levels():
    assert compute_cid(pattern(LARGE)) == KUBO_LARGE


def test_parse_cid():
    for cid in KUBO_VECTORS.values():
        assert str(parse_cid(cid)) == cid
    for bad in ("", "Qmabc", "bafy", "BAFKREI", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk",
                "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykv"):
        with pytest.raises(InvalidCIDError):
            parse_cid(bad)


# --- masking -------------------------------------------------------------------------------------

def test_mask_identifiers():
    assert mask_account_number("DE89 3704 0044 0532 0130 00") == "*" * 18 + "3000"
    assert mask_account_number(123456789) == "*****6789"
    assert mask_identifier("C01X00T47") == "*****0T47"
    assert mask_identifier("1234") == "****"
    assert mask_identifier("") == ""


def test_mask_sensitive_nested():
    body = {
        "invoice": {"id": 7, "seller": {"name": "ACME", "IBAN": "GB82WEST12345698765432",
                                         "bank_account": {"account_number": "00012345678", "bic": "WESTGB2L"}}},
        "parties": [{"passportNumber": "X1234567", "national-id": "850101-1234"}, {"tax_id": None}],
        "accountNumbers": ["1111222233334444"],
        "total": 1000,
    }
    masked = mask_sensitive(body, extra_keys=["accountNumbers"])
    assert masked["invoice"]["seller"]["IBAN"] == "*" * 18 + "5432"
    assert masked["invoice"]["seller"]["bank_account"] == {"account_number": "*******5678",
                                                           "bic": "****GB2L"}
    assert masked["invoice"]["seller"]["name"] == "ACME" and masked["invoice"]["id"] == 7
    assert masked["parties"][0] == {"passportNumber": "****4567", "national-id": "******1234"}
    assert masked["parties"][1] == {"tax_id": None}
    assert masked["accountNumbers"] == ["************4444"]
    assert masked["total"] == 1000
    assert body["invoice"]["seller"]["IBAN"] == "GB82WEST12345698765432"  # input untouched


def test_mask_text_same_answer_cached_or_not_short_or_long():
    """Short strings keep their masked form in a bounded cache; long ones are scanned each time:
    both are masked, the second time as the first, and a plain string is kept as it is."""
    from node_api.documents.masking import CACHED_TEXT_MAX, mask_text
    short = "pay to GB82WEST12345698765432 by Friday"
    long = "x" * CACHED_TEXT_MAX + " pay to GB82WEST12345698765432"
    assert len(short) <= CACHED_TEXT_MAX < len(long)
    for text in (short, long):
        first = mask_text(text)
        assert "GB82WEST12345698765432" not in first and first.endswith(("5432 by Friday", "5432"))
        assert mask_text(text) == first
    assert mask_text("Shenzhen Export Co. Ltd") == "Shenzhen Export Co. Ltd"
    assert mask_sensitive({"iban": "GB82WEST12345698765432", "n": [1, None, True, 2.5]}) == \
        {"iban": "*" * 18 + "5432", "n": [1, None, True, 2.5]}


# --- kubo ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kubo_store(kubo_api):
    store = KuboDocumentStore(kubo_api, offline=True)
    yield store
    store.close()


@pytest.mark.slow
def test_kubo_connects_despite_client_version_cap(kubo_api, caplog):  # noqa: F811
    import ipfshttpclient

    with pytest.raises(ipfshttpclient.exceptions.VersionMismatch):
        ipfshttpclient.connect(kubo_api)  # what the library does by itself
    with caplog.at_level(logging.INFO, logger="node_api.documents.stores"):
        store = KuboDocumentStore(kubo_api)
    store.close()
    assert tuple(map(int, store.daemon_version.split("-")[0].split("."))) >= (0, 8)
    assert f"connected to kubo {store.daemon_version}" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("size", sorted(KUBO_VECTORS))
def test_kubo_same_cid_as_local_store(kubo_store, store, size):
    data = pattern(size)
    cid = kubo_store.put(data)
    assert cid == store.put(data) == compute_cid(data) == KUBO_VECTORS[size]
    assert kubo_store.has(cid)
    assert kubo_store.get(cid) == data


@pytest.mark.slow
def test_kubo_two_level_dag(kubo_store):
    data = pattern(LARGE)
    assert kubo_store.put(data) == compute_cid(data) == KUBO_LARGE
    assert kubo_store.get(KUBO_LARGE) == data


@pytest.mark.slow
@pytest.mark.parametrize("chunks,max_links", [(3, 3), (4, 3), (10, 3), (28, 3), (40, 4)])
def test_kubo_balanced_layout_small_fanout(kubo_store, chunks, max_links):
    """Deep trees cheaply: same layout code with 1 KiB chunks and 3-4 links per node."""
    data = pattern(chunks * 1024 - 7)
    opts = {**KuboDocumentStore.ADD_OPTIONS, "chunker": "size-1024", "max-file-links": max_links,
            "pin": "false"}
    kubo_cid = kubo_store._client.add_bytes(data, opts=opts)
    assert compute_cid(data, chunk_size=1024, max_links=max_links) == kubo_cid


@pytest.mark.slow
def test_kubo_unknown_cid(kubo_store):
    missing = compute_cid(b"never added to kubo")
    assert not kubo_store.has(missing)
    with pytest.raises(DocumentNotFoundError):
        kubo_store.get(missing)


@pytest.mark.slow
def test_kubo_document_service_round_trip(kubo_store, store, seller, lender, outsider):
    service = DocumentService(kubo_store)
    plaintext = pattern(300_000)  # two chunks of ciphertext
    doc = service.upload(plaintext, {seller.address: seller.pubkey, lender.address: lender.pubkey})
    assert doc.cid.startswith("bafybei")
    assert store.put(kubo_store.get(doc.cid)) == doc.cid  # same CID in the local store
    assert service.download(doc.cid, doc.sha256, lender.address, lender.key) == plaintext
    with pytest.raises(NotAPartyError):
        service.download(doc.cid, doc.sha256, outsider.address, outsider.key)
