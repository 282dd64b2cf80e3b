"""`AbsPools`: ABS pools of financed receivables, their asset tape, notes and waterfall.

The tape's leaf and node hashing is stated once here (`leaf_hash`, `merkle_root`, `merkle_proof`)
and matches the contract's `leafHash` and OpenZeppelin's `MerkleProof` (sorted pairs)."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from eth_utils import keccak, to_checksum_address

from ._base import ContractClient
from ._codec import b3, text
from ._views import view_spec

try:  # safe-pysha3 (a C extension, ~4x faster than pycryptodome a hash); present with the test extra
    from sha3 import keccak_256 as _keccak_256

    KECCAK_BACKEND = "pysha3"

    def keccak256(data: bytes) -> bytes:
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover - pycryptodome comes with web3
    from Crypto.Hash import keccak as _keccak

    KECCAK_BACKEND = "pycryptodome"

    def keccak256(data: bytes) -> bytes:
        return _keccak.new(data=data, digest_bits=256).digest()


LEAF_DOMAIN = keccak(text="tradenet.abs.asset.v1")


class PoolState(enum.IntEnum):
    NONE = 0
    BUILDING = 1
    ISSUED = 2
    AMORTISING = 3
    CLOSED = 4

    @property
    def label(self) -> str:
        return self.name.capitalize()


class AssetStatus(enum.IntEnum):
    NONE = 0
    ACTIVE = 1
    REPAID = 2
    DEFAULTED = 3

    @property
    def label(self) -> str:
        return self.name.capitalize()


@dataclass(frozen=True)
class PoolParams:
    token: str
    max_tenor: int
    obligor_cap_bps: int
    senior_coupon_bps: int
    senior_size: int
    junior_size: int
    name: str

    def as_tuple(self) -> tuple:
        return (to_checksum_address(self.token), self.max_tenor, self.obligor_cap_bps, self.senior_coupon_bps,
                self.senior_size, self.junior_size, self.name)


@dataclass(frozen=True)
class Pool:
    pool_id: int
    manager: str
    state: PoolState
    obligor_cap_bps: int
    senior_coupon_bps: int
    max_tenor: int
    token: str
    currency: str
    senior: str
    junior: str
    senior_size: int
    junior_size: int
    asset_count: int
    open_assets: int
    expected: int
    purchase_price: int
    collected: int
    losses: int
    undistributed: int
    senior_interest_paid: int
    senior_principal_paid: int
    junior_paid: int
    paid_out: int
    tape_hash: bytes
    tape_root: bytes
    issued_at: int
    closed_at: int
    swept: bool


@dataclass(frozen=True)
class Asset:
    """One tape record. `leaf` is its Merkle leaf (see the contract notice)."""

    pool_id: int
    index: int
    deal_id: int
    invoice_id: int
    face_value: int
    expected: int
    due_date: int
    status: AssetStatus
    currency: str
    obligor_lei: str
    document_hash: bytes
    price: int
    recovered: int

    def as_tuple(self) -> tuple:
        """The `AbsPools.Asset` struct."""
        return (self.deal_id, self.invoice_id, self.face_value, self.expected, self.due_date, int(self.status),
                b3(self.currency), self.obligor_lei.encode("ascii"), self.document_hash, self.price, self.recovered)

    @property
    def leaf(self) -> bytes:
        return leaf_hash(self.pool_id, self.deal_id, self.invoice_id, self.face_value, self.currency, self.due_date,
                         self.obligor_lei, self.document_hash)

    @classmethod
    def from_row(cls, pool_id: int, index: int, row: bytes) -> "Asset":
        """From the 11 ABI words of an `AbsPools.Asset` (see `static_array`)."""
        u = functools.partial(_uint, row)
        return cls(pool_id, index, u(0), u(1), u(2), u(3), u(4), AssetStatus(u(5)), _text(row, 6, 3).rstrip("\0"),
                   _text(row, 7, 20), row[256:288], u(9), u(10))


#: Words of one `AbsPools.Asset` and of one `PoolLens.AssetFacts` in return data.
ASSET_WORDS = 11
FACT_WORDS = 15


@dataclass(frozen=True)
class AssetFacts:
    """`PoolLens.AssetFacts`: what the engine, the invoice token and the registry say now about an
    asset (not what the pool recorded). Addresses lower-case."""

    deal_id: int
    invoice_id: int
    deal_state: int
    deal_lender: str
    pooled_in: int
    product: str
    invoice_state: int
    invoice_holder: str
    face_value: int
    currency: str
    due_date: int
    obligor: str
    obligor_lei: str
    document_invoice: int
    root_id: int

    @classmethod
    def from_row(cls, row: bytes) -> "AssetFacts":
        u = functools.partial(_uint, row)

        def a(i: int) -> str:
            return "0x" + row[32 * i + 12:32 * i + 32].hex()

        return cls(u(0), u(1), u(2), a(3), u(4), a(5), u(6), a(7), u(8), _text(row, 9, 3).rstrip("\0"), u(10), a(11),
                   _text(row, 12, 20), u(13), u(14))


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _fixed(raw: bytes, size: int) -> bytes:
    """A bytesN value as its ABI word (left-aligned, zero-padded)."""
    if len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw + bytes(32 - size)


def leaf_prefix(pool_id: int) -> bytes:
    """The first two words of every leaf encoding of a pool: LEAF_DOMAIN, poolId."""
    return LEAF_DOMAIN + _word(pool_id)


def leaf_of_words(prefix: bytes, deal: bytes, invoice: bytes, face: bytes, currency: bytes, due: bytes, lei: bytes,
                  document: bytes) -> bytes:
    """The leaf from its ABI words (each 32 bytes, as `abi.encode` lays them out: uints big-endian,
    bytesN left-aligned): the fast path of a verifier that holds the words from an eth_call."""
    return keccak256(keccak256(prefix + deal + invoice + face + currency + due + lei + document))


def leaf_hash(pool_id: int, deal_id: int, invoice_id: int, face_value: int, currency: str, due_date: int,
              obligor_lei: str, document_hash: bytes) -> bytes:
    """`AbsPools.leafHash`: keccak256(keccak256(abi.encode(LEAF_DOMAIN, poolId, dealId, invoiceId,
    uint96 faceValue, bytes3 currency, uint64 dueDate, bytes20 obligorLei, documentHash))). Nine
    static words: built directly, no ABI encoder."""
    if not (0 <= face_value < 2**96 and 0 <= due_date < 2**64):
        raise ValueError("face value or due date out of the leaf's range")
    return leaf_of_words(leaf_prefix(pool_id), _word(deal_id), _word(invoice_id), _word(face_value),
                         _fixed(b3(currency), 3), _word(due_date), _fixed(obligor_lei.encode("ascii"), 20),
                         _fixed(bytes(document_hash), 32))


def _node(a: bytes, b: bytes) -> bytes:
    return keccak256(a + b) if a < b else keccak256(b + a)


def merkle_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first; an odd last node is carried up unpaired. Inner nodes
    hash the sorted pair (OpenZeppelin `MerkleProof`)."""
    if not leaves:
        raise ValueError("an empty tape has no root")
    kh = keccak256
    cur = list(leaves)
    levels = [cur]
    while len(cur) > 1:
        nxt = [kh(a + b) if a < b else kh(b + a) for a, b in zip(cur[0::2], cur[1::2])]
        if len(cur) % 2:
            nxt.append(cur[-1])
        levels.append(nxt)
        cur = nxt
    return levels


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    return merkle_levels(leaves)[-1][0]


def merkle_proof(levels: list[list[bytes]], index: int) -> list[bytes]:
    """The proof of leaf `index`, derived from the levels (siblings bottom-up; none where a node
    was carried up unpaired)."""
    proof = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def tape_hash(leaves: Iterable[bytes]) -> bytes:
    """The pool's running hash over its leaves in order: h = keccak256(abi.encode(h, leaf)) from zero."""
    kh = keccak256
    h = bytes(32)
    for leaf in leaves:
        h = kh(h + leaf)
    return h


def verify_proof(leaf: bytes, proof: Iterable[bytes], root: bytes) -> bool:
    h = leaf
    for p in proof:
        h = _node(h, p)
    return h == root


def verify_every_proof(levels: list[list[bytes]], root: bytes) -> list[bool]:
    """`verify_proof(leaf, merkle_proof(levels, i), root)` for every leaf i, computed level by level
    for all leaves at once: each leaf's own hash is carried up its path with its siblings from
    `levels` (n log n hashes, as many as checking the proofs one by one; no proof lists built)."""
    kh = keccak256
    hs = list(levels[0])
    n = len(hs)
    for depth, level in enumerate(levels[:-1]):
        m = len(level)
        for i in range(n):
            j = (i >> depth) ^ 1
            if j < m:
                h, p = hs[i], level[j]
                hs[i] = kh(h + p) if h < p else kh(p + h)
    return [h == root for h in hs]


def static_array(raw: bytes, head: int, width: int) -> list[bytes]:
    """The elements of a dynamic array of a static struct (`width` words each) in ABI-encoded return
    data, whose offset is the `head`-th word: each element's raw words, sliced, not decoded."""
    offset = int.from_bytes(raw[32 * head:32 * head + 32], "big")
    n = int.from_bytes(raw[offset:offset + 32], "big")
    size = 32 * width
    base = offset + 32
    if len(raw) < base + n * size:
        raise ValueError("truncated array in the return data")
    return [raw[base + k * size:base + (k + 1) * size] for k in range(n)]


def _uint(row: bytes, i: int) -> int:
    return int.from_bytes(row[32 * i:32 * i + 32], "big")


def _text(row: bytes, i: int, size: int) -> str:
    return row[32 * i:32 * i + size].decode("ascii", errors="replace")


class AbsPools(ContractClient):
    contract_name = "AbsPools"

    def create_pool(self, params: PoolParams) -> int:
        receipt = self._tx("createPool", params.as_tuple())
        return self._logged_uint(receipt, "PoolCreated", "poolId")

    def bid(self, pool_id: int, deal_id: int, price: int, document_hash: bytes) -> dict[str, Any]:
        return self._tx("bid", pool_id, deal_id, price, document_hash)

    def sell(self, pool_id: int, deal_id: int) -> dict[str, Any]:
        return self._tx("sell", pool_id, deal_id)

    def bid_many(self, pool_id: int, bids: Sequence[tuple[int, int, bytes]]) -> dict[str, Any]:
        """(deal id, price, document hash) for each deal."""
        return self._tx("bidMany", pool_id, [b[0] for b in bids], [b[1] for b in bids], [b[2] for b in bids])

    def sell_many(self, pool_id: int, deal_ids: Iterable[int]) -> dict[str, Any]:
        return self._tx("sellMany", pool_id, list(deal_ids))

    def issue(self, pool_id: int, tape_root: bytes) -> dict[str, Any]:
        return self._tx("issue", pool_id, tape_root)

    def buy_notes(self, pool_id: int, senior: bool, amount: int) -> dict[str, Any]:
        return self._tx("buyNotes", pool_id, senior, amount)

    def start_amortisation(self, pool_id: int) -> dict[str, Any]:
        return self._tx("startAmortisation", pool_id)

    def collect(self, pool_id: int, deal_ids: Iterable[int]) -> dict[str, Any]:
        return self._tx("collect", pool_id, list(deal_ids))

    def enforce(self, pool_id: int, deal_id: int) -> dict[str, Any]:
        return self._tx("enforce", pool_id, deal_id)

    def distribute(self, pool_id: int) -> dict[str, Any]:
        return self._tx("distribute", pool_id)

    def claim(self, tranche: str) -> int:
        receipt = self._tx("claim", tranche)
        return self.events(receipt, "NotesClaimed")[0]["amount"]

    def claim_unsold(self, tranche: str) -> int:
        receipt = self._tx("claimUnsold", tranche)
        return self.events(receipt, "NotesClaimed")[0]["amount"]

    def sweep(self, pool_id: int) -> int:
        receipt = self._tx("sweep", pool_id)
        return self.events(receipt, "RemainderSwept")[0]["amount"]

    # -- reads
    def pool_count(self) -> int:
        return self._call("poolCount")

    def pool(self, pool_id: int, block: str = "latest") -> Pool:
        spec = view_spec(self.contract, "pool")
        p = spec.decode(self.chain.call_raw(self.address, spec.encode((pool_id,)), block))
        return Pool(pool_id, p.manager, PoolState(p.state), p.obligorCapBps, p.seniorCouponBps, p.maxTenor, p.token,
                    text(bytes(p.currency)), p.senior, p.junior, p.seniorSize, p.juniorSize, p.assetCount,
                    p.openAssets, p.expected, p.purchasePrice, p.collected, p.losses, p.undistributed,
                    p.seniorInterestPaid, p.seniorPrincipalPaid, p.juniorPaid, p.paidOut, bytes(p.tapeHash),
                    bytes(p.tapeRoot), p.issuedAt, p.closedAt, p.swept)

    def assets(self, pool_id: int, start: int = 0, count: int = 500) -> list[Asset]:
        spec = view_spec(self.contract, "assets")
        raw = self.chain.call_raw(self.address, spec.encode((pool_id, start, count)))
        return [Asset.from_row(pool_id, start + i, row) for i, row in enumerate(static_array(raw, 0, ASSET_WORDS))]

    def verify_asset(self, pool_id: int, index: int, proof: Sequence[bytes]) -> bool:
        return self._call("verifyAsset", pool_id, index, list(proof))

    def claimable(self, tranche: str, holder: str) -> int:
        return self._call("claimable", tranche, holder)

    def pool_of_deal(self, deal_id: int) -> int:
        return self._call("poolOfDeal", deal_id)

    def obligor_exposure(self, pool_id: int, obligor_lei: str) -> int:
        return self._call("obligorExposure", pool_id, obligor_lei.encode("ascii"))

    def asset_index_of(self, deal_id: int) -> int:
        """1-based position of a deal among its pool's assets (0 if not pooled)."""
        return self._call("assetIndexOf", deal_id)

    def bid_of(self, pool_id: int, deal_id: int) -> tuple[int, bytes]:
        """(price, document hash) of the manager's open bid for a deal (zero hash: none)."""
        price, document_hash = self._call("bids", pool_id, deal_id)
        return price, bytes(document_hash)

    def leaf_hash_on_chain(self, asset: Asset) -> bytes:
        """The contract's `leafHash` of an asset record (to check `leaf_hash` against)."""
        return bytes(self._call("leafHash", asset.pool_id, asset.as_tuple()))

    def tranche(self, address: str) -> "TrancheToken":
        return TrancheToken(self.chain, address, self.account)


class TrancheToken(ContractClient):
    """A pool's senior or junior notes (ERC-20, transferable between INVESTOR members only)."""

    contract_name = "TrancheToken"

    def transfer(self, to: str, amount: int) -> dict[str, Any]:
        return self._tx("transfer", to, amount)

    def balance_of(self, account: str) -> int:
        return self._call("balanceOf", account)

    def total_supply(self) -> int:
        return self._call("totalSupply")

    def pool_id(self) -> int:
        return self._call("poolId")


class PoolLens(ContractClient):
    """Batched chain facts behind a pool's assets (`PoolLens.assetsWithFacts`), for verification."""

    contract_name = "PoolLens"

    def call_data(self, pool_id: int, start: int, count: int) -> bytes:
        """Calldata of `assetsWithFacts` (for batched or parallel eth_calls)."""
        return view_spec(self.contract, "assetsWithFacts").encode((pool_id, start, count))

    @staticmethod
    def rows(raw: bytes) -> tuple[list[bytes], list[bytes]]:
        """The raw rows of an `assetsWithFacts` answer: (asset records, facts)."""
        return static_array(raw, 0, ASSET_WORDS), static_array(raw, 1, FACT_WORDS)

    def assets_with_facts(self, pool_id: int, start: int = 0, count: int = 400) -> tuple[list[Asset], list[AssetFacts]]:
        records, facts = self.rows(self.chain.call_raw(self.address, self.call_data(pool_id, start, count)))
        return ([Asset.from_row(pool_id, start + i, r) for i, r in enumerate(records)],
                [AssetFacts.from_row(f) for f in facts])
