"""Independent verification of an ABS pool: the investor's check that trusts nobody.

Everything is read over JSON-RPC from any node (not from a node's read model), at one block: the
pool's figures, its asset records and the chain facts behind each asset
(``PoolLens.assetsWithFacts``: what the deal engine, the invoice token and the registry say now)
in pages, several pages per JSON-RPC batch; and the invoices' ``InvoiceIssued`` logs for the
document CIDs. The tape is recomputed from the chain facts and checked against the pool's records,
the manager's own tape file if one is given, the running tape hash and the published Merkle root;
every asset's proof is checked; and each document is fetched (by CID, through a callable the
caller provides: a kubo node, the local store) and its sha-256 compared with the anchored hash.
Findings are sentences a person can act on.

The leaves are hashed straight from the 32-byte words of the eth_call answers (the leaf encoding
is nine static ABI words, the same the lens returns), and fields are compared as words; values are
decoded only to write a finding.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from .client import Chain
from .clients.pools import (
    AssetStatus,
    PoolLens,
    keccak256,
    leaf_of_words,
    leaf_prefix,
    merkle_levels,
    tape_hash,
    verify_every_proof,
)
from .deployment import Deployment
from .vocabulary import DealState, InvoiceState

#: Assets per eth_call (the lens view costs ~40k gas an asset; anvil's call gas cap is the block
#: gas limit) and pages per JSON-RPC batch request; `WORKERS` batches in flight at once.
PAGE = 250
BATCH = 4
WORKERS = 2

FetchDocument = Callable[[str], "bytes | None"]
Progress = Callable[[int, int], None]


class DocumentTampered(Exception):
    """Raised by a fetch callable when the store holds bytes that are not the document (their
    content address does not match the CID): reported as a tampered document."""


@dataclass(frozen=True)
class TapeLeaf:
    """One line of a manager's tape file."""

    deal_id: int
    invoice_id: int
    face_value: int
    currency: str
    due_date: int
    obligor_lei: str
    document_hash: str  # 0x-hex


@dataclass
class AssetCheck:
    index: int
    deal_id: int
    invoice_id: int
    status: str
    problems: list[str] = field(default_factory=list)
    proof_ok: bool = False
    document_ok: bool | None = None  # None: not checked

    @property
    def ok(self) -> bool:
        return not self.problems and self.proof_ok and self.document_ok is not False


@dataclass
class PoolVerification:
    pool_id: int
    assets: list[AssetCheck]
    published_root: str
    recomputed_root: str
    root_ok: bool
    tape_hash_ok: bool
    problems: list[str]
    chain_read_seconds: float
    compute_seconds: float
    document_seconds: float
    block: int = 0  # the block every chain read was made at

    @property
    def ok(self) -> bool:
        return self.root_ok and self.tape_hash_ok and not self.problems and all(a.ok for a in self.assets)

    @property
    def failed(self) -> list[AssetCheck]:
        return [a for a in self.assets if not a.ok]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["assets_checked"] = len(self.assets)
        out["assets_failed"] = len(self.failed)
        for a, d in zip(self.assets, out["assets"]):
            d["ok"] = a.ok
        return out

    def table(self, limit: int = 50) -> str:
        """A readable summary: overall figures, then the failed assets (at most `limit`)."""
        lines = [
            f"Pool {self.pool_id}: {'VERIFIED' if self.ok else 'NOT VERIFIED'} (chain state at block {self.block:,})",
            f"  assets checked      {len(self.assets):,} ({len(self.failed):,} with findings)",
            f"  published root      {self.published_root}",
            f"  recomputed root     {self.recomputed_root} ({'matches' if self.root_ok else 'DIFFERS'})",
            f"  running tape hash   {'matches' if self.tape_hash_ok else 'DIFFERS'}",
            f"  chain reads         {self.chain_read_seconds:.2f} s"
            f" ({len(self.assets) / max(self.chain_read_seconds, 1e-9):,.0f} assets/s)",
            f"  tape and proofs     {self.compute_seconds:.2f} s",
            f"  documents           {self.document_seconds:.2f} s",
        ]
        lines += [f"  ! {p}" for p in self.problems]
        if self.failed:
            lines.append("")
            lines.append(f"  {'#':>6}  {'deal':>6}  {'status':<10}  finding")
            for a in self.failed[:limit]:
                findings = a.problems or (["proof does not verify"] if not a.proof_ok else ["document check failed"])
                for j, p in enumerate(findings):
                    prefix = f"  {a.index:>6}  {a.deal_id:>6}  {a.status:<10}  " if j == 0 else " " * 30
                    lines.append(prefix + p)
            if len(self.failed) > limit:
                lines.append(f"  ... and {len(self.failed) - limit:,} more")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------ reading


def read_asset_rows(chain: Chain, lens: PoolLens, pool_id: int, count: int, block: str, *, page: int = PAGE,
                    batch: int = BATCH, workers: int = WORKERS, progress: Progress | None = None
                    ) -> tuple[list[bytes], list[bytes]]:
    """The raw rows (`AbsPools.Asset` records, `PoolLens.AssetFacts`) of assets [0, count), read
    at `block` in pages of `page` assets, `batch` pages per JSON-RPC batch request, `workers`
    requests in flight (a provider without batches gets one call at a time)."""
    starts = list(range(0, count, page))
    groups = [starts[i:i + batch] for i in range(0, len(starts), batch)]
    provider = chain.w3.provider
    batched = hasattr(provider, "make_batch_request") and hasattr(provider, "endpoint_uri")

    def fetch(group: list[int]) -> list[bytes]:
        datas = [lens.call_data(pool_id, s, page) for s in group]
        if not batched:
            return [chain.call_raw(lens.address, d, block) for d in datas]
        answers = provider.make_batch_request(
            [("eth_call", [{"to": lens.address, "data": "0x" + d.hex()}, block]) for d in datas])
        if not isinstance(answers, list):
            raise RuntimeError(f"batch of eth_calls refused: {answers}")
        out = []
        for a in sorted(answers, key=lambda r: r["id"]):
            if "error" in a:  # replay one alone for the decoded Solidity error
                return [chain.call_raw(lens.address, d, block) for d in datas]
            out.append(bytes.fromhex(a["result"][2:]))
        return out

    records: list[bytes] = []
    facts: list[bytes] = []
    done = 0
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for answers in pool.map(fetch, groups):
            for raw in answers:
                r, f = PoolLens.rows(raw)
                records += r
                facts += f
                done += len(r)
            if progress:
                progress(done, count)
    return records, facts


# ------------------------------------------------------------------------------------ checks

# words of an AbsPools.Asset record and of a PoolLens.AssetFacts row, as byte slices
_R_DEAL, _R_INVOICE, _R_FACE, _R_DUE = slice(0, 32), slice(32, 64), slice(64, 96), slice(128, 160)
_R_CURRENCY, _R_LEI, _R_DOC = slice(192, 224), slice(224, 256), slice(256, 288)
_R_STATUS = 191  # last byte of word 5
_F_DEAL, _F_INVOICE, _F_FACE, _F_CURRENCY = slice(0, 32), slice(32, 64), slice(256, 288), slice(288, 320)
_F_DUE, _F_LEI, _F_DOC_INVOICE, _F_ROOT = slice(320, 352), slice(384, 416), slice(416, 448), slice(448, 480)
_F_POOLED_IN, _F_LENDER, _F_PRODUCT, _F_HOLDER = slice(128, 160), slice(108, 128), slice(172, 192), slice(236, 256)
_F_DEAL_STATE, _F_INVOICE_STATE = 95, 223
_ACTIVE = int(AssetStatus.ACTIVE)
_DEFAULTED_DEAL, _DEFAULTED_INVOICE = int(DealState.DEFAULTED), int(InvoiceState.DEFAULTED)
_STATUS = {int(s): s.label for s in AssetStatus}
_INVALID = b"not a valid value"


def _int(word: bytes) -> int:
    return int.from_bytes(word, "big")


def _str(word: bytes) -> str:
    return word.rstrip(b"\0").decode("ascii", errors="replace")


def _tape_int(v: int) -> bytes:
    return v.to_bytes(32, "big") if 0 <= v < 2**256 else _INVALID


def _tape_text(v: str) -> bytes:
    raw = v.encode("ascii", errors="replace")
    return raw.ljust(32, b"\0") if len(raw) <= 32 else _INVALID


def _tape_hash(v: str) -> bytes:
    try:
        raw = bytes.fromhex(v.removeprefix("0x"))
    except ValueError:
        return _INVALID
    return raw if len(raw) == 32 else _INVALID


def _tape_words(t: TapeLeaf) -> tuple[bytes, ...]:
    """(deal, invoice, face, currency, due, lei, document) words of a tape line."""
    return (_tape_int(t.deal_id), _tape_int(t.invoice_id), _tape_int(t.face_value), _tape_text(t.currency),
            _tape_int(t.due_date), _tape_text(t.obligor_lei), _tape_hash(t.document_hash))


def _chain_words(f: bytes, doc: bytes) -> tuple[bytes, ...]:
    """The same words from the chain facts (and the document hash the pool recorded)."""
    return f[_F_DEAL], f[_F_INVOICE], f[_F_FACE], f[_F_CURRENCY], f[_F_DUE], f[_F_LEI], doc


_FIELDS = (("invoice", _int), ("face value", _int), ("currency", _str), ("due date", _int), ("obligor LEI", _str))


def _compare(problems: list[str], source: str, mine: Sequence[bytes], chain: Sequence[bytes]) -> None:
    """Findings for the leaf fields (invoice, face, currency, due date, LEI) `source` gives
    differently from the chain."""
    for (name, decode), m, c in zip(_FIELDS, mine, chain):
        if m != c:
            shown = "an invalid value" if m == _INVALID else _show(decode(m))
            problems.append(f"{source} gives {name} {shown}, the chain says {_show(decode(c))}")


def _show(v: Any) -> str:
    return f"{v:#x}" if isinstance(v, int) and v > 10**15 else str(v)


def _address(raw: bytes) -> str:
    return to_checksum_address("0x" + raw.hex())


def check_assets(pool_id: int, records: Sequence[bytes], facts: Sequence[bytes], receivables: str, pools: str,
                 tape: Sequence[TapeLeaf] | None = None) -> tuple[list[AssetCheck], list[bytes], list[str]]:
    """Per-asset findings, the leaves recomputed from the chain facts, and findings about the
    manager's tape as a whole."""
    prefix = leaf_prefix(pool_id)
    pool_word = pool_id.to_bytes(32, "big")
    receivables_raw, pools_raw = bytes.fromhex(receivables[2:].lower()), bytes.fromhex(pools[2:].lower())
    kh = keccak256
    tape_words = [_tape_words(t) for t in tape] if tape is not None else None
    checks: list[AssetCheck] = []
    leaves: list[bytes] = []
    seen_deals: dict[bytes, int] = {}
    seen_invoices: dict[bytes, int] = {}
    for i, (r, f) in enumerate(zip(records, facts)):
        doc = r[_R_DOC]
        f_invoice, f_face, f_currency, f_due, f_lei = f[_F_INVOICE], f[_F_FACE], f[_F_CURRENCY], f[_F_DUE], f[_F_LEI]
        leaves.append(kh(kh(prefix + f[_F_DEAL] + f_invoice + f_face + f_currency + f_due + f_lei + doc)))
        status = r[_R_STATUS]
        deal = r[_R_DEAL]
        check = AssetCheck(i, _int(deal), _int(r[_R_INVOICE]), _STATUS.get(status, str(status)))
        problems = check.problems
        if (r[_R_INVOICE] != f_invoice or r[_R_FACE] != f_face or r[_R_CURRENCY] != f_currency or r[_R_DUE] != f_due
                or r[_R_LEI] != f_lei):
            _compare(problems, "pool record", (r[_R_INVOICE], r[_R_FACE], r[_R_CURRENCY], r[_R_DUE], r[_R_LEI]),
                     (f_invoice, f_face, f_currency, f_due, f_lei))
        if tape_words is not None:
            if i >= len(tape_words):
                problems.append("missing from the manager's tape")
            else:
                t = tape_words[i]
                if t[0] != deal:
                    problems.append(f"manager's tape names deal {_show(_int(t[0])) if t[0] != _INVALID else '?'} "
                                    f"here, the pool holds deal {check.deal_id}")
                _compare(problems, "manager's tape", t[1:6], (f_invoice, f_face, f_currency, f_due, f_lei))
                if t[6] != doc:
                    problems.append(f"manager's tape gives document hash {tape[i].document_hash}, "
                                    f"the pool recorded 0x{doc.hex()}")
        if deal in seen_deals:
            problems.append(f"deal {check.deal_id} is pooled twice (also asset {seen_deals[deal]})")
        else:
            seen_deals[deal] = i
        if f_invoice in seen_invoices:
            problems.append(f"invoice {_int(f_invoice):#x} backs two assets (also asset {seen_invoices[f_invoice]})")
        else:
            seen_invoices[f_invoice] = i
        if f[_F_POOLED_IN] != pool_word:
            problems.append(f"the chain records deal {check.deal_id} in pool {_int(f[_F_POOLED_IN])}, "
                            f"not pool {pool_id}")
        if status == _ACTIVE and f[_F_LENDER] != pools_raw:
            problems.append(f"deal {check.deal_id}'s lender is {_address(f[_F_LENDER])}, not the pool contract")
        if f[_F_PRODUCT] != receivables_raw:
            problems.append(f"deal {check.deal_id} is not a receivable financing")
        deal_state, invoice_state = f[_F_DEAL_STATE], f[_F_INVOICE_STATE]
        if deal_state == _DEFAULTED_DEAL or invoice_state == _DEFAULTED_INVOICE:
            problems.append(f"defaulted (deal {DealState(deal_state).label}, "
                            f"invoice {InvoiceState(invoice_state).label})")
        elif status == _ACTIVE and f[_F_HOLDER] != receivables_raw:
            problems.append(f"the invoice is held by {_address(f[_F_HOLDER])}, not by the financing: pledged or moved")
        if f[_F_DOC_INVOICE] != f[_F_ROOT]:
            problems.append(f"document hash 0x{doc.hex()} anchors invoice {_int(f[_F_DOC_INVOICE]):#x}, "
                            f"not this asset's invoice")
        checks.append(check)

    tape_problems: list[str] = []
    if tape_words is not None:
        first: dict[bytes, int] = {}
        for j, t in enumerate(tape_words):
            if t[0] in first:
                finding = f"the manager's tape lists deal {tape[j].deal_id} twice (entries {first[t[0]]} and {j})"
                (checks[j].problems if j < len(checks) else tape_problems).append(finding)
            else:
                first[t[0]] = j
        if len(tape_words) != len(records):
            tape_problems.append(f"the manager's tape lists {len(tape_words):,} assets, the pool holds {len(records):,}")
    return checks, leaves, tape_problems


def verify_pool(
    chain: Chain,
    deployment: Deployment,
    pool_id: int,
    *,
    tape: Sequence[TapeLeaf] | None = None,
    fetch_document: FetchDocument | None = None,
    progress: Progress | None = None,
    page: int = PAGE,
    batch: int = BATCH,
    workers: int = WORKERS,
) -> PoolVerification:
    c = deployment.clients(chain)
    t0 = time.perf_counter()
    block_number = chain.w3.eth.block_number
    block = hex(block_number)
    pool = c.pools.pool(pool_id, block)
    records, facts = read_asset_rows(chain, c.pool_lens, pool_id, pool.asset_count, block, page=page, batch=batch,
                                     workers=workers, progress=progress)
    chain_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    checks, leaves, problems = check_assets(pool_id, records, facts, deployment.receivable_financing,
                                            c.pools.address, tape)
    published = "0x" + pool.tape_root.hex()
    if not leaves:
        return PoolVerification(pool_id, checks, published, "", False, False, ["the pool has no assets"],
                                chain_seconds, time.perf_counter() - t1, 0.0, block_number)
    levels = merkle_levels(leaves)
    root = levels[-1][0]
    for check, ok in zip(checks, verify_every_proof(levels, pool.tape_root)):
        check.proof_ok = ok
    tape_hash_ok = tape_hash(leaves) == pool.tape_hash
    if not tape_hash_ok:
        problems.append("the running hash of the recomputed leaves differs from the pool's tape hash")
    if pool.tape_root == bytes(32):
        problems.append("no tape root published yet (the pool is still building)")
    elif root != pool.tape_root:
        problems.append(f"the published root {published} is not the root of the tape recomputed from chain state "
                        f"(0x{root.hex()})")
    if tape:
        prefix = leaf_prefix(pool_id)
        tape_root = merkle_levels([leaf_of_words(prefix, *_tape_words(t)) for t in tape])[-1][0]
        if tape_root != pool.tape_root:
            problems.append(f"the manager's tape hashes to root 0x{tape_root.hex()}, not to the published root")
    compute_seconds = time.perf_counter() - t1

    t2 = time.perf_counter()
    if fetch_document is not None:
        roots = {_int(r[_R_INVOICE]): _int(f[_F_ROOT]) for r, f in zip(records, facts)}
        cids = document_cids(chain, deployment, roots, roots=roots)
        for check, r in zip(checks, records):
            _check_document(check, r[_R_DOC], cids.get(check.invoice_id), fetch_document)
    document_seconds = time.perf_counter() - t2
    return PoolVerification(pool_id, checks, published, "0x" + root.hex(), root == pool.tape_root, tape_hash_ok,
                            problems, chain_seconds, compute_seconds, document_seconds, block_number)


# ------------------------------------------------------------------------------------ documents


def document_cids(chain: Chain, deployment: Deployment, invoice_ids: Iterable[int], chunk_blocks: int = 50_000,
                  roots: Mapping[int, int] | None = None) -> dict[int, tuple[str, bytes]]:
    """(CID, document hash) of each invoice from its ``InvoiceIssued`` log; split parts inherit
    their root invoice's document (`roots`: invoice -> root invoice, read from the chain if not
    given)."""
    invoices = deployment.clients(chain).invoices
    wanted = set(invoice_ids)
    if roots is None:
        roots = {i: invoices.invoice(i).root_id for i in wanted}
    need = {roots[i] for i in wanted}
    event = invoices.contract.events.InvoiceIssued()
    topic = event.topic
    input_types = ["(address,string,uint256,bytes3,uint64,uint64,bytes32,string,bytes32,uint256)"]
    found: dict[int, tuple[str, bytes]] = {}
    head = chain.w3.eth.block_number
    start = deployment.deploy_block
    while start <= head and need - found.keys():
        end = min(head, start + chunk_blocks - 1)
        for log in chain.w3.eth.get_logs({"address": invoices.address, "topics": [topic],
                                          "fromBlock": start, "toBlock": end}):
            token_id = int.from_bytes(bytes(log["topics"][1]), "big")
            if token_id in need:
                (terms,) = abi_decode(input_types, bytes(log["data"]))
                found[token_id] = (terms[7], bytes(terms[6]))
        start = end + 1
    return {i: found[roots[i]] for i in wanted if roots[i] in found}


def _check_document(check: AssetCheck, recorded: bytes, cid_hash: tuple[str, bytes] | None,
                    fetch: FetchDocument) -> None:
    if cid_hash is None:
        check.document_ok = False
        check.problems.append("no InvoiceIssued log names this invoice's document")
        return
    cid, anchored = cid_hash
    if anchored != recorded:
        check.problems.append(f"the invoice anchored document 0x{anchored.hex()}, the pool recorded 0x{recorded.hex()}")
    try:
        data = fetch(cid)
    except DocumentTampered as exc:
        check.document_ok = False
        check.problems.append(f"document {cid} is tampered: the store holds other bytes under its CID ({exc})")
        return
    except Exception as exc:  # noqa: BLE001 - any store failure is a finding, not a crash
        check.document_ok = False
        check.problems.append(f"document {cid} could not be fetched: {exc}")
        return
    if data is None:
        check.document_ok = False
        check.problems.append(f"document {cid} is missing from the document store")
        return
    digest = hashlib.sha256(data).digest()
    check.document_ok = digest == recorded
    if not check.document_ok:
        check.problems.append(f"document {cid} is tampered: its sha-256 is 0x{digest.hex()}, "
                              f"the anchored hash is 0x{recorded.hex()}")


def read_tape(rows: Iterable[dict[str, Any]]) -> list[TapeLeaf]:
    """A manager's tape file (JSON list of leaf objects) as `TapeLeaf`s."""
    return [TapeLeaf(int(r["deal_id"]), int(r["invoice_id"]), int(r["face_value"]), str(r["currency"]),
                     int(r["due_date"]), str(r["obligor_lei"]), str(r["document_hash"])) for r in rows]


def tape_rows(assets: Iterable[Any]) -> list[dict[str, Any]]:
    """A manager's tape file (the JSON `read_tape` reads) from `chain.clients.Asset` records."""
    return [{"deal_id": a.deal_id, "invoice_id": a.invoice_id, "face_value": a.face_value, "currency": a.currency,
             "due_date": a.due_date, "obligor_lei": a.obligor_lei, "document_hash": "0x" + a.document_hash.hex()}
            for a in assets]


__all__ = ["AssetCheck", "DocumentTampered", "PoolVerification", "TapeLeaf", "check_assets", "document_cids",
           "read_asset_rows", "read_tape", "tape_rows", "verify_pool"]
