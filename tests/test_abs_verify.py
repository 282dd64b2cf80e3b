"""The investor's independent verification of an ABS pool (`chain.abs_verify.verify_pool`, the
`tradenet verify-pool` command): it passes a clean pool whose documents were uploaded through the
node's `DocumentService`, and flags each of: a tape leaf differing from chain state, an asset
listed twice, a defaulted asset, a missing document, a tampered document, a published root that is
not the tape's. The fast tape hashing is checked against the ABI encoding and the proofs one by one."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from chain.abs_verify import TapeLeaf, read_tape, tape_rows, verify_pool
from chain.clients.pools import (
    LEAF_DOMAIN,
    leaf_hash,
    merkle_levels,
    merkle_proof,
    tape_hash,
    verify_every_proof,
    verify_proof,
)
from chain.clients import InvoiceTerms
from chain.vocabulary import Product
from node_api.documents import DocumentService, LocalDocumentStore
from tradenet.pool_documents import store_fetcher

from tests.support.pools import (
    MANAGER,
    PRICE,
    add_asset,
    create_pool,
    document,
    holders_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    issue,
    pass_maturity_and_grace,
    pools,
    receivable,
    sell_out,
)
from tests.support.products import (
    DAY,
    USD,
    accept,
    addr,
    c,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    mint,
    terms,
)

pytestmark = pytest.mark.usefixtures("funds_conserved", "holders_conserved")


@pytest.fixture
def store(tmp_path) -> LocalDocumentStore:
    return LocalDocumentStore(tmp_path / "documents")


@pytest.fixture
def documents(store) -> DocumentService:
    return DocumentService(store)


def split_part_deal(net, documents: DocumentService) -> tuple[int, bytes]:
    """A funded receivable deal on one part of a split invoice (its document is the root's)."""
    now = net.now()
    doc_hash, cid = document(net, b"Commercial invoice INV-SPLIT-VERIFY: two parts", documents)
    root = c(net, "seller").invoices.mint(InvoiceTerms(addr(net, "buyer"), "INV-SPLIT-VERIFY", 200_000_00, USD,
                                                       now - DAY, now + 60 * DAY, doc_hash, cid))
    c(net, "buyer").invoices.confirm(root)
    part = c(net, "seller").invoices.split(root, [120_000_00, 80_000_00])[0]
    deal_id = accept(net, terms(net, Product.RECEIVABLE, part, 90_000_00, 1_800_00, maturity_in=61 * DAY))
    fund(net, deal_id)
    return deal_id, doc_hash


@pytest.fixture
def pool(net, documents):
    """An issued pool of three receivables and a part of a split invoice, notes sold, documents in
    the local store; returns (pool id, receivables)."""
    mint(net, "lender", 2_000_000_00)
    mint(net, "buyer", 2_000_000_00)
    pool_id = create_pool(net, 250_000_00, 88_000_00)
    deals = [receivable(net, documents=documents) for _ in range(3)]
    for r in deals:
        add_asset(net, pool_id, r)
    deal_id, doc_hash = split_part_deal(net, documents)
    pools(net, MANAGER).bid(pool_id, deal_id, PRICE, doc_hash)
    c(net, "lender").deals.approve_assignment(deal_id, net.deployment.abs_pools)
    pools(net, "lender").sell(pool_id, deal_id)
    issue(net, pool_id)
    sell_out(net, pool_id)
    return pool_id, deals


def verify(net, pool_id, store, **kw):
    return verify_pool(net.chain, net.deployment, pool_id, fetch_document=store_fetcher(store), **kw)


def manager_tape(net, pool_id) -> list[TapeLeaf]:
    return read_tape(tape_rows(pools(net).assets(pool_id)))


def findings(report) -> dict[int, list[str]]:
    return {a.index: a.problems for a in report.assets if a.problems}


# ---------------------------------------------------------------------------- a clean pool


def test_a_clean_pool_verifies_with_its_documents_and_the_managers_tape(net, pool, store):
    pool_id, _ = pool
    report = verify(net, pool_id, store, tape=manager_tape(net, pool_id))
    assert report.ok, report.table()
    assert (report.root_ok, report.tape_hash_ok, report.problems, len(report.assets)) == (True, True, [], 4)
    assert all(a.proof_ok and a.document_ok for a in report.assets)
    assert report.recomputed_root == report.published_root == "0x" + pools(net).pool(pool_id).tape_root.hex()
    assert report.block == net.w3.eth.block_number
    out = json.loads(json.dumps(report.as_dict()))
    assert (out["ok"], out["assets_checked"], out["assets_failed"]) == (True, 4, 0)
    assert "VERIFIED" in report.table() and "NOT VERIFIED" not in report.table()


def test_pages_batches_and_workers_do_not_change_the_result(net, pool, store):
    pool_id, _ = pool
    seen = []
    report = verify(net, pool_id, store, page=1, batch=3, workers=2, progress=lambda done, n: seen.append((done, n)))
    assert report.ok
    assert seen == [(3, 4), (4, 4)]
    assert [a.deal_id for a in report.assets] == [a.deal_id for a in pools(net).assets(pool_id)]


# ---------------------------------------------------------------------------- what it flags


def test_a_tape_leaf_whose_fields_differ_from_chain_state_is_flagged(net, pool, store):
    pool_id, _ = pool
    tape = manager_tape(net, pool_id)
    tape[1] = replace(tape[1], face_value=tape[1].face_value + 1)
    report = verify(net, pool_id, store, tape=tape)
    assert not report.ok
    assert findings(report) == {1: [f"manager's tape gives face value {tape[1].face_value}, "
                                    f"the chain says {tape[1].face_value - 1}"]}
    assert report.root_ok  # the chain's tape is fine: the manager's file is not
    assert any("the manager's tape hashes to root" in p for p in report.problems)
    tape[2] = replace(tape[2], obligor_lei="529900SOMEONEELSE099", currency="EUR")
    report = verify(net, pool_id, store, tape=tape)
    assert [p.split(",")[0] for p in findings(report)[2]] == ["manager's tape gives currency EUR",
                                                              "manager's tape gives obligor LEI 529900SOMEONEELSE099"]


def test_an_asset_listed_twice_is_flagged(net, pool, store):
    pool_id, deals = pool
    tape = manager_tape(net, pool_id)
    report = verify(net, pool_id, store, tape=tape + [tape[0]])
    assert f"the manager's tape lists deal {deals[0].deal_id} twice (entries 0 and 4)" in report.problems
    assert "the manager's tape lists 5 assets, the pool holds 4" in report.problems
    assert not report.ok and findings(report) == {}
    report = verify(net, pool_id, store, tape=[tape[0], tape[1], tape[0], tape[3]])
    assert f"the manager's tape lists deal {deals[0].deal_id} twice (entries 0 and 2)" in findings(report)[2]
    assert f"manager's tape names deal {deals[0].deal_id} here, the pool holds deal {deals[2].deal_id}" in (
        findings(report)[2])


def test_a_defaulted_asset_is_flagged(net, pool, store):
    pool_id, deals = pool
    pass_maturity_and_grace(net, deals[1])
    pools(net, "carrier").enforce(pool_id, deals[1].deal_id)
    report = verify(net, pool_id, store)
    assert not report.ok and report.root_ok
    (finding,) = findings(report)[1]
    assert finding.startswith("defaulted (deal ") and finding.endswith("invoice Defaulted)")
    assert report.assets[1].status == "Defaulted"
    assert list(findings(report)) == [1]


def test_a_missing_document_is_flagged(net, pool, store):
    pool_id, deals = pool
    store.path_for(deals[2].document_cid).unlink()
    report = verify(net, pool_id, store)
    assert findings(report) == {2: [f"document {deals[2].document_cid} is missing from the document store"]}
    assert report.assets[2].document_ok is False and not report.ok


def test_a_tampered_document_is_flagged_from_the_store_and_from_any_fetcher(net, pool, store):
    pool_id, deals = pool
    cid = deals[0].document_cid
    original = store.get(cid)
    store.path_for(cid).write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # the blob replaced on disk
    report = verify(net, pool_id, store)
    (finding,) = findings(report)[0]
    assert finding.startswith(f"document {cid} is tampered: the store holds other bytes under its CID")
    assert list(findings(report)) == [0] and report.assets[0].document_ok is False

    store.put(original)  # healed; now a store that serves altered bytes without checking CIDs

    def altered(c: str) -> bytes | None:
        data = store_fetcher(store)(c)
        return data + b"!" if c == cid else data

    report = verify_pool(net.chain, net.deployment, pool_id, fetch_document=altered)
    digest = hashlib.sha256(original + b"!").hexdigest()
    assert findings(report) == {0: [f"document {cid} is tampered: its sha-256 is 0x{digest}, "
                                    f"the anchored hash is 0x{deals[0].document_hash.hex()}"]}


def test_a_published_root_that_is_not_the_tapes_is_flagged(net, documents, store):
    mint(net, "lender", 1_000_000_00)
    pool_id = create_pool(net)
    deals = [receivable(net, documents=documents) for _ in range(2)]
    for r in deals:
        add_asset(net, pool_id, r)
    leaves = [a.leaf for a in pools(net).assets(pool_id)]
    wrong = merkle_levels([leaves[0], keccak(b"an asset the pool does not hold")])[-1][0]
    pools(net, MANAGER).issue(pool_id, wrong)
    report = verify(net, pool_id, store)
    assert not report.root_ok and not report.ok and report.tape_hash_ok
    assert report.problems == [f"the published root 0x{wrong.hex()} is not the root of the tape recomputed from "
                               f"chain state (0x{merkle_levels(leaves)[-1][0].hex()})"]
    assert [a.proof_ok for a in report.assets] == [False, False]
    assert "DIFFERS" in report.table()


def test_a_pool_still_building_is_not_verified(net, documents, store):
    mint(net, "lender", 1_000_000_00)
    pool_id = create_pool(net)
    add_asset(net, pool_id, receivable(net, documents=documents))
    report = verify(net, pool_id, store)
    assert "no tape root published yet (the pool is still building)" in report.problems and not report.ok
    empty = create_pool(net, name="Empty pool")
    assert verify(net, empty, store).problems == ["the pool has no assets"]


# ---------------------------------------------------------------------------- the command


def test_verify_pool_command_json_and_table_and_exit_codes(net, pool, store, tmp_path, capsys):
    from tradenet.cli import main  # here: the CLI imports the whole node API

    pool_id, deals = pool
    deployment = net.deployment.save(tmp_path / "deployments")
    base = ["verify-pool", "--pool", str(pool_id), "--rpc-url", net.anvil_url, "--deployment", str(deployment),
            "--documents", str(store.root)]
    assert main(base + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["ok"], out["assets_checked"], out["root_ok"], out["pool_id"]) == (True, 4, True, pool_id)
    assert all(a["document_ok"] and a["proof_ok"] for a in out["assets"])

    tape = tape_rows(pools(net).assets(pool_id))
    tape[3]["due_date"] += DAY
    tape_file = tmp_path / "tape.json"
    tape_file.write_text(json.dumps(tape))
    store.path_for(deals[1].document_cid).unlink()
    assert main(base + ["--tape", str(tape_file), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["ok"], out["assets_failed"]) == (False, 2)
    assert out["assets"][1]["problems"] == [f"document {deals[1].document_cid} is missing from the document store"]
    assert out["assets"][3]["problems"][0].startswith("manager's tape gives due date")

    assert main(base) == 1
    table = capsys.readouterr().out
    assert f"Pool {pool_id}: NOT VERIFIED" in table and "missing from the document store" in table


# ---------------------------------------------------------------------------- the hashing


def test_the_fast_leaf_encoding_is_the_abi_encoding():
    rng = random.Random(11)
    for _ in range(200):
        values = (rng.randrange(2**256), rng.randrange(2**256), rng.randrange(2**256), rng.randrange(2**96),
                  rng.choice(["USD", "EUR", "CNY"]), rng.randrange(2**64), "".join(rng.choices("ABC0123456789", k=20)),
                  rng.randbytes(32))
        pool_id, deal, invoice, face, currency, due, lei, doc = values
        encoded = abi_encode(["bytes32", "uint256", "uint256", "uint256", "uint96", "bytes3", "uint64", "bytes20",
                              "bytes32"], [LEAF_DOMAIN, pool_id, deal, invoice, face, currency.encode(), due,
                                           lei.encode(), doc])
        assert leaf_hash(*values) == keccak(keccak(encoded))
    with pytest.raises(ValueError):
        leaf_hash(1, 1, 1, 2**96, "USD", 1, "A" * 20, bytes(32))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 17])
def test_every_proof_at_once_equals_each_proof_and_catches_a_bad_node(n):
    leaves = [keccak(i.to_bytes(4, "big")) for i in range(n)]
    levels = merkle_levels(leaves)
    root = levels[-1][0]
    assert verify_every_proof(levels, root) == [True] * n
    assert all(verify_proof(leaves[i], merkle_proof(levels, i), root) for i in range(n))
    assert tape_hash(leaves) == tape_hash(iter(leaves))
    if n > 1:  # a forged node: exactly the leaves whose paths go through it fail
        depth = len(levels) - 2
        bad = [list(level) for level in levels]
        bad[depth][1] = keccak(b"forged")
        want = [verify_proof(bad[0][i], merkle_proof(bad, i), root) for i in range(n)]
        assert verify_every_proof(bad, root) == want and not all(want)
