"""Bulk writes of the indexer's projections (issue 15 item 3): a batch's row changes are kept as
images and written per table with executemany at the batch's end (or before a projection's own
read through ``ctx.conn``), with the same database result, the same undo records and the same
refusals as writing each row at once. On SQLite and PostgreSQL (``db`` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.exc import IntegrityError

from chain.indexer import bulk, codec
from chain.indexer.projection import ProjectionContext, apply_undo
from chain.indexer.projections import erc20_balances, erc20_transfers, oracle_events, risk_lenders
from chain.indexer.schema import events, undo_log

TABLES = (erc20_balances, erc20_transfers, oracle_events, risk_lenders)
TOKEN, ALICE, BOB = "0x" + "11" * 20, "0x" + "aa" * 20, "0x" + "bb" * 20


@pytest.fixture
def engine(db):
    e = create_engine(db.new())
    yield e
    e.dispose()


def statements(engine) -> list[tuple[str, int]]:
    """(statement, parameter sets) of every execution on `engine` from now on."""
    seen: list[tuple[str, int]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        if any(t in statement for t in ("erc20_", "undo_log", "risk_lenders", "oracle_events")):
            seen.append((statement.split()[0].upper(), len(parameters) if executemany else 1))

    return seen


def balance(ctx: ProjectionContext, account: str) -> int | None:
    row = ctx.get(erc20_balances, {"token": TOKEN, "account": account})
    return None if row is None else row["amount"]


def add(ctx: ProjectionContext, account: str, delta: int) -> None:
    key = {"token": TOKEN, "account": account}
    old = balance(ctx, account)
    if old is None:
        ctx.insert(erc20_balances, {**key, "amount": delta})
    elif old + delta == 0:
        ctx.delete(erc20_balances, key)
    else:
        ctx.update(erc20_balances, key, {"amount": old + delta})


def transfer_row(block: int, index: int, value: int) -> dict:
    return {"block_number": block, "log_index": index, "token": TOKEN, "from_address": ALICE, "to_address": BOB,
            "value": value, "tx_hash": "0x" + "00" * 32, "timestamp": 1_700_000_000 + block}


def rows(engine, table) -> list[dict]:
    with engine.connect() as c:
        return [dict(r) for r in c.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def undo_rows(engine) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(select(undo_log.c.block_number, undo_log.c.table_name, undo_log.c.row_key,
                                                   undo_log.c.prior).order_by(undo_log.c.id))]


def test_a_row_written_many_times_in_a_batch_is_written_once_with_one_undo_record_per_block(engine):
    seen = statements(engine)
    with engine.begin() as conn:
        ctx = ProjectionContext(conn, TABLES, record_from_block=0)
        for i in range(200):
            ctx.block_number = 10 + i // 100  # two blocks
            ctx.insert(erc20_transfers, transfer_row(ctx.block_number, i, i + 1))
            add(ctx, BOB, i + 1)
        assert balance(ctx, BOB) == sum(range(1, 201))
        ctx.flush()
    executed = list(seen)
    assert rows(engine, erc20_balances) == [{"token": TOKEN, "account": BOB, "amount": 20_100}]
    assert len(rows(engine, erc20_transfers)) == 200
    # block 10 created the balance (prior: absent), block 11 found it at block 10's sum
    undo = [(b, t, p) for b, t, _, p in undo_rows(engine) if t == "erc20_balances"]
    assert [(b, p is None) for b, _, p in undo] == [(10, True), (11, False)]
    assert codec.decode_row(undo[1][2])["amount"] == sum(range(1, 101))
    writes = [(s, n) for s, n in executed if s in ("INSERT", "UPDATE", "DELETE", "COPY")]
    # one SELECT for the unknown balance, then: the transfers and the balance in one insert each,
    # and the undo records (the large groups by COPY on PostgreSQL)
    many = "COPY" if engine.dialect.name == "postgresql" else "INSERT"
    assert sorted(writes) == sorted([(many, 200), ("INSERT", 1), (many, 2 + 200)]), writes
    assert [s for s, _ in executed].count("SELECT") == 1


def batch(conn, block: int = 1) -> ProjectionContext:
    ctx = ProjectionContext(conn, TABLES, record_from_block=0)
    ctx.block_number = block
    return ctx


def test_a_projections_own_read_sees_the_pending_writes(engine):
    with engine.begin() as conn:
        ctx = batch(conn)
        add(ctx, ALICE, 5)
        add(ctx, BOB, 7)
        add(ctx, ALICE, -5)  # back to 0: the row goes
        held = ctx.conn.execute(select(erc20_balances.c.account)).scalars().all()  # flushes first
        assert held == [BOB]
        ctx.update(erc20_balances, {"token": TOKEN, "account": BOB}, {"amount": 8})
        assert ctx.conn.execute(select(erc20_balances.c.amount)).scalar() == 8
        ctx.flush()
    assert rows(engine, erc20_balances) == [{"token": TOKEN, "account": BOB, "amount": 8}]


def test_a_duplicate_insert_is_refused_by_the_database_as_before(engine):
    with engine.begin() as conn:
        ctx = ProjectionContext(conn, TABLES, record_from_block=0)
        ctx.block_number = 1
        ctx.insert(erc20_transfers, transfer_row(1, 0, 5))
        ctx.flush()
    with pytest.raises(IntegrityError):  # known to the batch: refused at once
        with engine.begin() as conn:
            ctx = ProjectionContext(conn, TABLES, record_from_block=0)
            ctx.block_number = 2
            ctx.insert(erc20_transfers, transfer_row(2, 0, 1))
            ctx.insert(erc20_transfers, transfer_row(2, 0, 2))
    with pytest.raises(IntegrityError):  # in the database only: refused when the batch is written
        with engine.begin() as conn:
            ctx = ProjectionContext(conn, TABLES, record_from_block=0)
            ctx.block_number = 2
            ctx.insert(erc20_transfers, transfer_row(1, 0, 9))
            ctx.flush()
    assert rows(engine, erc20_transfers) == [transfer_row(1, 0, 5)]  # nothing of the failed batches


def test_a_duplicate_in_a_large_group_is_refused_as_one_integrity_error_and_nothing_of_the_group_lands(engine):
    n = bulk.COPY_MIN_ROWS + 10  # COPY on PostgreSQL, executemany on SQLite: the same refusal
    with engine.begin() as conn:
        bulk.insert_rows(conn, erc20_transfers, [transfer_row(1, 5, 5)])
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            bulk.insert_rows(conn, erc20_transfers, [transfer_row(1, i, i + 1) for i in range(n)])
    assert rows(engine, erc20_transfers) == [transfer_row(1, 5, 5)]


def test_a_large_group_stores_exactly_what_a_small_one_stores(engine):
    """The COPY path (PostgreSQL, >= COPY_MIN_ROWS rows) against row-by-row executemany: the
    characters COPY's text format escapes, JSON null and nested JSON, NULL columns, 2**256 - 1."""
    awkward = ["tab\there", "new\nline", "back\\slash\\N", "\\N", "", "ünïcødé ✓", "quote'\"", "\r\n\x0b"]
    def event_row(i: int) -> dict:
        text = awkward[i % len(awkward)]
        return {"block_number": 1, "log_index": i, "tx_hash": "0x" + "ab" * 32, "tx_index": 0,
                "block_hash": "0x" + "cd" * 32, "contract": f"C{text}", "address": "0x" + "ef" * 20,
                "event": None if i % 3 == 0 else f"E{text}", "signature": None,
                "args": None if i % 4 == 0 else {"s": text, "n": str(2**256 - 1), "l": [text, {"k": None}]},
                "topics": None if i % 2 else ["0x" + "11" * 32], "data": None if i % 5 == 0 else text}
    n = bulk.COPY_MIN_ROWS + 5
    big = [event_row(i) for i in range(n)]
    values = [{**transfer_row(2, i, 2**256 - 1 - i)} for i in range(n)]
    with engine.begin() as conn:
        bulk.insert_rows(conn, events, big)
        bulk.insert_rows(conn, erc20_transfers, values)
    with engine.begin() as conn:  # the same rows one at a time (never COPY): another block
        for r in big:
            bulk.insert_rows(conn, events, [{**r, "block_number": 2}])
        for r in values:
            bulk.insert_rows(conn, erc20_transfers, [{**r, "block_number": 3}])
    got = rows(engine, events)
    assert [{**r, "block_number": 1} for r in got[n:]] == got[:n]
    assert got[:n] == big
    moved = rows(engine, erc20_transfers)
    assert [{**r, "block_number": 2} for r in moved[n:]] == moved[:n] == values


def test_update_of_an_absent_row_changes_nothing_and_a_bad_column_is_refused(engine):
    with engine.begin() as conn:
        ctx = ProjectionContext(conn, TABLES, record_from_block=0)
        ctx.block_number = 1
        ctx.update(erc20_balances, {"token": TOKEN, "account": ALICE}, {"amount": 3})
        assert balance(ctx, ALICE) is None
        with pytest.raises(ValueError, match="no column"):
            ctx.insert(erc20_balances, {"token": TOKEN, "account": BOB, "amount": 1, "colour": "red"})
        with pytest.raises(ValueError, match="primary key"):
            ctx.update(erc20_balances, {"token": TOKEN, "account": ALICE}, {"account": BOB})
        ctx.flush()
    assert rows(engine, erc20_balances) == []


def test_a_column_the_database_fills_is_read_back_from_the_database(engine):
    lender = {"lender": ALICE, "currency": "USD", "cap_bps": 100, "review_threshold": 10**30, "exposure": 0,
              "updated_block": 1}
    with engine.begin() as conn:
        ctx = ProjectionContext(conn, TABLES, record_from_block=0)
        ctx.block_number = 1
        ctx.insert(risk_lenders, lender)  # capital_base: server default 0
        got = ctx.get(risk_lenders, {"lender": ALICE})
        assert got["capital_base"] == 0 and got["review_threshold"] == 10**30
        ctx.update(risk_lenders, {"lender": ALICE}, {"exposure": 7})
        ctx.flush()
    assert rows(engine, risk_lenders) == [{**lender, "exposure": 7, "policy_set_by": None, "capital_base": 0}]


def test_changing_a_returned_json_value_does_not_change_the_batchs_image(engine):
    ev = {"event_id": "0x" + "01" * 32, "shipment_id": "0x" + "02" * 32, "event_code": "DEPA", "location": "CNSZX",
          "event_time": 1, "evidence_hash": "0x" + "03" * 32, "submitter": ALICE, "signers": [ALICE],
          "status": "Confirmed", "confirmed_block": 1, "confirmed_at": 1, "tx_hash": "0x" + "04" * 32}
    key = {"event_id": ev["event_id"]}
    with engine.begin() as conn:
        ctx = ProjectionContext(conn, TABLES, record_from_block=0)
        ctx.block_number = 1
        ctx.insert(oracle_events, ev)
        ctx.flush()
        ctx.block_number = 2
        row = ctx.get(oracle_events, key)
        row["signers"].append(BOB)  # in place, as a projection might
        assert ctx.get(oracle_events, key)["signers"] == [ALICE]
        ctx.update(oracle_events, key, {"signers": row["signers"]})
        ctx.flush()
    assert rows(engine, oracle_events)[0]["signers"] == [ALICE, BOB]


def test_the_undo_records_of_a_bulk_batch_restore_the_state_before_it(engine):
    with engine.begin() as conn:
        ctx = batch(conn)
        add(ctx, ALICE, 10)
        add(ctx, BOB, 4)
        ctx.flush()
    before = rows(engine, erc20_balances)
    with engine.begin() as conn:
        ctx = ProjectionContext(conn, TABLES, record_from_block=0)
        for block in (2, 3):
            ctx.block_number = block
            add(ctx, ALICE, -10)  # deleted in block 2 ...
            add(ctx, ALICE, 10)  # ... and created again
            add(ctx, BOB, 1)
            ctx.insert(erc20_transfers, transfer_row(block, 0, 1))
        ctx.flush()
    assert rows(engine, erc20_balances)[1]["amount"] == 6
    with engine.begin() as conn:
        assert apply_undo(conn, TABLES, 1) == 4  # two balances, two transfers
    assert rows(engine, erc20_balances) == before and rows(engine, erc20_transfers) == []


def test_a_replay_sized_context_flushes_and_forgets_beyond_its_cache_limit(engine, monkeypatch):
    monkeypatch.setattr(ProjectionContext, "max_cached_rows", 50)
    with engine.begin() as conn:
        ctx = ProjectionContext(conn, TABLES, record_from_block=0)
        for i in range(120):
            ctx.block_number = i
            ctx.insert(erc20_transfers, transfer_row(i, 0, i + 1))
            add(ctx, ALICE, 1)
        assert ctx._n_cached <= 51 and ctx._n_dirty < 50
        ctx.flush()
    assert len(rows(engine, erc20_transfers)) == 120
    assert rows(engine, erc20_balances) == [{"token": TOKEN, "account": ALICE, "amount": 120}]


@pytest.mark.parametrize("abi_type", ["address", "bool", "uint8", "uint64", "uint256", "int8", "int128", "int256",
                                      "bytes1", "bytes3", "bytes20", "bytes32"])
def test_the_word_decoder_gives_what_eth_abi_gives_and_leaves_what_it_refuses_to_it(abi_type):
    """Decoding in bulk: static events are decoded word by word (codec._word_decoder), with the
    same values as eth_abi, and every word eth_abi refuses (padding, range) handed back to it."""
    import random

    from eth_abi import decode as abi_decode

    rnd = random.Random(abi_type)
    decode = codec._word_decoder(abi_type)
    words = [bytes(32), bytes(31) + b"\x01", b"\xff" * 32, bytes(12) + b"\xaa" * 20, b"\x01" + bytes(31),
             bytes(31) + b"\x02", b"\xff" * 31 + b"\x80", bytes(31) + b"\x7f"]
    words += [bytes(rnd.randrange(33)) + rnd.randbytes(32)[: 32] for _ in range(200)]
    for w in (x[:32].rjust(32, b"\x00") for x in words):
        try:
            (expected,) = abi_decode([abi_type], w)
        except Exception:  # noqa: BLE001 - refused by eth_abi
            assert decode(w) is None, (abi_type, w.hex())
        else:
            assert decode(w) == expected and type(decode(w)) is type(expected), (abi_type, w.hex())


def test_a_static_event_decodes_alike_on_both_paths():
    transfer = {"type": "event", "name": "Transfer", "anonymous": False, "inputs": [
        {"name": "from", "type": "address", "indexed": True}, {"name": "to", "type": "address", "indexed": True},
        {"name": "value", "type": "uint256", "indexed": False}]}
    decoder = codec.EventDecoder(transfer)
    assert decoder._fast is not None
    topics = [bytes(32), bytes(12) + b"\xaa" * 20, bytes(12) + b"\xbb" * 20]
    data = (12345).to_bytes(32, "big")
    fast = decoder.decode(topics, data)
    decoder._fast = None
    assert decoder.decode(topics, data) == fast == {"from": "0x" + "aa" * 20, "to": "0x" + "bb" * 20, "value": 12345}


_SHAPES = [
    {"name": "a", "type": "address"}, {"name": "b", "type": "bool"}, {"name": "u", "type": "uint256"},
    {"name": "i", "type": "int64"}, {"name": "c", "type": "bytes3"}, {"name": "h", "type": "bytes32"},
    {"name": "d", "type": "bytes"}, {"name": "s", "type": "string"}, {"name": "l", "type": "uint16[]"},
    {"name": "f", "type": "address[2]"}, {"name": "ss", "type": "string[]"},
    {"name": "t", "type": "tuple", "components": [{"name": "x", "type": "uint8"}, {"name": "y", "type": "string"}]},
    {"name": "ta", "type": "tuple[]", "components": [{"name": "x", "type": "bytes"}, {"name": "y", "type": "int8[]"}]},
    {"name": "tu", "type": "tuple", "components": [{"name": "", "type": "bool"}, {"name": "z", "type": "address"}]},
]
_SAMPLES = {
    "address": ["0x" + "ab" * 20, "0x" + "00" * 20], "bool": [True, False], "uint256": [0, 1, 2**256 - 1],
    "int64": [-(2**63), 0, 7], "bytes3": [b"USD", b"\x00\x00\x00"], "bytes32": [bytes(range(32))],
    "bytes": [b"", b"\x00\xff"], "string": ["", "INV-1", "a\x00b", "é\ud800"], "uint16[]": [[], [1, 65535]],
    "address[2]": [("0x" + "11" * 20, "0x" + "22" * 20)], "string[]": [["x", "\x00"]],
}


@pytest.mark.parametrize("param", _SHAPES, ids=[p["name"] or p["type"] for p in _SHAPES])
@pytest.mark.parametrize("indexed", [False, True])
def test_the_compiled_converters_give_what_the_generic_ones_give(param, indexed):
    """The live path's per-ABI converters (codec._compile) against value_to_json and
    value_from_json(value_to_json(...)): same values, same types, for every ABI shape, indexed too
    (an indexed dynamic value is its 32-byte topic)."""
    from eth_abi import decode as abi_decode, encode as abi_encode
    from eth_utils.abi import collapse_if_tuple

    if param["type"] == "tuple" and param["name"] == "t":
        samples = [(0, "x"), (255, "\x00")]
    elif param["type"] == "tuple[]":
        samples = [[], [(b"\x01", [-1, 2]), (b"", [])]]
    elif param["type"] == "tuple":
        samples = [(True, "0x" + "cd" * 20)]
    else:
        samples = _SAMPLES[param["type"]]
    to_json, native = codec._compile(param, indexed)
    abi_type = collapse_if_tuple(dict(param))
    for sample in samples:
        if indexed and codec._is_dynamic_for_topic(param):
            value = bytes(range(32))
        else:
            try:
                (value,) = abi_decode([abi_type], abi_encode([abi_type], [sample]))  # as eth_abi hands it
            except UnicodeEncodeError:  # a lone surrogate: what eth_abi makes of bytes that are not UTF-8
                value = sample
        expected_json = codec.value_to_json(param, value, indexed=indexed)
        expected_native = codec.value_from_json(param, expected_json, indexed=indexed)
        assert to_json(value) == expected_json and repr(to_json(value)) == repr(expected_json)
        assert native(value) == expected_native and repr(native(value)) == repr(expected_native)
        assert codec._holds_text(param, indexed) or not codec.has_unstorable(value)
    decoder = codec.EventDecoder({"type": "event", "name": "E", "inputs": [dict(param, indexed=indexed)]})
    name = param["name"]
    assert decoder.to_json({name: value}) == codec.args_to_json(decoder.abi, {name: value})
    assert decoder.native({name: value}) == codec.args_from_json(decoder.abi, decoder.to_json({name: value}))
    assert decoder.unstorable({name: value}) == codec.has_unstorable({name: value})


@pytest.mark.parametrize("types", [("string",), ("bytes",), ("uint256", "string", "address"),
                                   ("string", "bytes", "bool", "string"), ("bytes32", "bytes")])
def test_an_event_with_strings_decodes_word_by_word_as_eth_abi_does_and_what_it_refuses_still_fails(types):
    """Strings and bytes not indexed (invoice numbers, references) are decoded without eth_abi too:
    valid data gives eth_abi's values; data eth_abi refuses (a pointer into the head or past the
    end, a length past the end, non-zero padding, bytes that are not UTF-8) fails as before."""
    import random

    from eth_abi import encode as abi_encode

    rnd = random.Random(",".join(types))
    event = {"type": "event", "name": "E", "inputs": [{"name": f"a{i}", "type": t, "indexed": False}
                                                     for i, t in enumerate(types)]}
    fast = codec.EventDecoder(event)
    slow = codec.EventDecoder(event)
    slow._fast = None
    assert fast._fast is not None and fast._dynamic
    samples = {"string": ["", "INV-2026-0001", "é€😀", "x" * 33], "bytes": [b"", b"\x00", bytes(range(64))],
               "uint256": [0, 2**256 - 1], "address": ["0x" + "ab" * 20], "bool": [True], "bytes32": [b"\x01" * 32]}
    for _ in range(300):
        data = bytearray(abi_encode(list(types), [rnd.choice(samples[t]) for t in types]))
        assert fast._decode_words([bytes(32)], bytes(data)) is not None  # valid data: no eth_abi
        for _ in range(rnd.randrange(3)):  # mutate: offsets, lengths, padding, text bytes
            pos = rnd.randrange(len(data))
            data[pos] = rnd.choice([0, 1, 0x20, 0x40, 0x7f, 0x80, 0xff, rnd.randrange(256)])
        if rnd.random() < 0.1:
            data = data[: rnd.randrange(len(data) + 1)]
        try:
            expected = slow.decode([bytes(32)], bytes(data))
        except Exception as exc:  # noqa: BLE001 - refused by eth_abi
            with pytest.raises(type(exc)):
                fast.decode([bytes(32)], bytes(data))
        else:
            got = fast.decode([bytes(32)], bytes(data))
            assert got == expected and [type(v) for v in got.values()] == [type(v) for v in expected.values()]
