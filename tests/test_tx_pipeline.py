"""The submission pipeline (chain.tx, gasbook, receipts, rpc, signing) on a real anvil: learned gas,
cached fees and chain id, raw sends, one receipt watcher with batched receipts, and the drop /
replacement / nonce-gap / nonce-too-low / revert handling."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import eth_keys.backends
import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from chain import errors
from chain.client import Chain
from chain.gasbook import GasBook, gas_key
from chain.receipts import Head
from chain.rpc import HttpRpc, ProviderRpc, RpcError, RpcUnavailable, SendQueue, rpc_for
from chain.signing import TxSigner
from chain.tx import FeeCache, FeePolicy
from tests.support.mining import RpcLog, manual_mining, mine_until, seen_by_watcher

MINT_REF = b"\x5a" * 32


def funded_seller(net, amount: int = 1_000_000):
    net.token("USD", "treasury").mint(net.addr("seller"), amount, MINT_REF)
    return net.token("USD", "seller")


def account_nonce(net, key: str, tag: str = "latest") -> int:
    return net.w3.eth.get_transaction_count(net.addr(key), tag)


# ---------------------------------------------------------------------------------------- signing
def test_eth_keys_signs_with_the_coincurve_backend():
    assert isinstance(eth_keys.backends.get_backend(), eth_keys.backends.CoinCurveECCBackend)


@pytest.mark.parametrize("fields", [
    {"maxFeePerGas": 7, "maxPriorityFeePerGas": 2},  # EIP-1559
    {"gasPrice": 0},  # legacy EIP-155 (free-gas networks)
])
@pytest.mark.parametrize("to", ["0x5FbDB2315678afecb367f032d93F642f64180aa3", None])  # call, deployment
def test_fast_signer_is_byte_identical_to_eth_account(fields, to):
    acct = Account.from_key(keccak(text="pipeline-signer"))
    tx = {"chainId": 31337, "nonce": 42, "gas": 123_456, "value": 0, "data": b"\xa9\x05\x9c\xbb" + b"\x01" * 64,
          **fields}
    if to is not None:
        tx["to"] = to
    raw, tx_hash = TxSigner(acct).sign(tx)
    expected = acct.sign_transaction(tx)
    assert raw == bytes(expected.raw_transaction)
    assert tx_hash == bytes(expected.hash)
    assert Account.recover_transaction(raw) == acct.address


def test_signer_rlp_matches_pyrlp():
    import random

    import rlp

    from chain.signing import _rlp

    rng = random.Random(15)
    for _ in range(500):
        ints = [rng.choice([0, 1, 127, 128, 255, 256, 2**64, rng.getrandbits(rng.randint(1, 256))]) for _ in range(4)]
        blobs = [rng.randbytes(rng.choice([0, 1, 2, 55, 56, 57, 300, 70_000])) for _ in range(3)]
        item = [*ints, *blobs, [], [b"\x05", [b"abc", 7]]]
        assert _rlp(item) == rlp.encode(item)


# ---------------------------------------------------------------------------------------- gas
def test_gas_book_keeps_the_largest_estimate_per_operation_with_margin():
    book = GasBook(margin_pct=20)
    key = gas_key("0xAbC0000000000000000000000000000000000001", b"\xa9\x05\x9c\xbb" + b"\x00" * 64)
    assert key == ("0xabc0000000000000000000000000000000000001", b"\xa9\x05\x9c\xbb")
    assert book.limit(key) is None
    assert book.learn(key, 50_000) == 60_000
    assert book.learn(key, 40_000) == 60_000  # a smaller estimate never lowers the limit
    assert book.learn(key, 55_000) == 66_000
    assert book.limit(key) == 66_000
    assert gas_key(None, b"\x60\x80\x60\x40") is None  # deployments are never booked
    assert book.learn(None, 100_000) == 120_000


def test_precheck_false_sends_with_the_learned_limit_without_estimating(net, monkeypatch):
    usd = funded_seller(net)
    log = RpcLog().attach(net.chain, monkeypatch)
    key = gas_key(usd.address, usd._calldata("transfer", (net.addr("buyer"), 1)))
    net.chain.gas.forget(key)
    first = usd.submit("transfer", net.addr("buyer"), 1, precheck=False)  # a miss: estimated once
    assert log.calls["eth_estimateGas"] == 1
    pending = [usd.submit("transfer", net.addr("buyer"), 1, precheck=False) for _ in range(5)]
    assert log.calls["eth_estimateGas"] == 1  # learned: no more estimates
    assert all(p.tx["gas"] == net.chain.gas.limit(key) == first.tx["gas"] for p in pending)
    for p in [first, *pending]:
        assert p.wait()["status"] == 1
    usd.transfer(net.addr("buyer"), 1)  # the typed clients' default still checks the call (precheck)...
    assert log.calls["eth_call"] == 1 and log.calls["eth_estimateGas"] == 1  # ...at the learned limit
    assert usd.balance_of(net.addr("seller")) == 1_000_000 - 7


def test_writes_read_chain_id_once_and_fees_at_most_once_per_block(net, monkeypatch):
    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)  # learns the gas, warms the sender
    log = RpcLog().attach(net.chain, monkeypatch)
    fees = net.chain.pipeline.fees
    base_fee_reads = []
    monkeypatch.setattr(fees, "_read", lambda read=fees._read: base_fee_reads.append(1) or read())
    for _ in range(10):
        usd.submit("transfer", net.addr("buyer"), 1, precheck=False).wait()
    assert log.calls["eth_chainId"] == 0
    assert log.calls["eth_sendRawTransaction"] == 10  # raw sends over the transport
    assert log.calls["eth_getTransactionReceipt"] == 0  # receipts only in the watcher's batches
    assert len(base_fee_reads) <= 1  # fee fields: from the watcher's heads, or one read a second


def test_fee_cache_reads_the_base_fee_once_per_block_age_and_takes_heads_for_free():
    reads = []

    def read() -> int:
        reads.append(1)
        return 5

    cache = FeeCache(FeePolicy(priority_fee=1), read, max_age=60)
    assert cache.fields() == {"maxFeePerGas": 11, "maxPriorityFeePerGas": 1}
    assert cache.fields() == cache.fields()
    assert len(reads) == 1
    import time
    cache.observe(Head(7, "0x07", 100, time.monotonic()))
    assert cache.fields() == {"maxFeePerGas": 201, "maxPriorityFeePerGas": 1}
    assert len(reads) == 1
    legacy = FeeCache(FeePolicy(mode="legacy", legacy_gas_price=3), read)
    assert legacy.fields() == {"gasPrice": 3} and len(reads) == 1


def test_precheck_false_revert_is_mined_and_raises_the_decoded_error_at_wait(net):
    usd = funded_seller(net, 100)
    usd.transfer(net.addr("buyer"), 1)  # learns transfer's gas
    nonce = account_nonce(net, "seller")
    pending = usd.submit("transfer", net.addr("buyer"), 10**12, precheck=False)  # sent: no estimate
    with pytest.raises(errors.ERC20InsufficientBalance) as err:
        pending.wait()
    assert err.value.tx_hash == pending.tx_hash.to_0x_hex()
    assert err.value["balance"] == 99 and err.value["needed"] == 10**12
    assert account_nonce(net, "seller") == nonce + 1  # the failed transaction took its nonce
    assert usd.balance_of(net.addr("seller")) == 99


def test_precheck_revert_sends_nothing(net):
    usd = funded_seller(net, 100)
    nonce, block = account_nonce(net, "seller"), net.w3.eth.block_number
    with pytest.raises(errors.ERC20InsufficientBalance):
        usd.submit("transfer", net.addr("buyer"), 10**12)
    assert account_nonce(net, "seller") == nonce and net.w3.eth.block_number == block


def test_call_out_of_its_learned_gas_is_estimated_and_sent_again(net, caplog):
    usd = funded_seller(net)
    key = gas_key(usd.address, usd._calldata("transfer", (net.addr("buyer"), 1)))
    net.chain.gas.forget(key)
    net.chain.gas.learn(key, 25_000)  # too little for a permissioned transfer
    with caplog.at_level(logging.WARNING, logger="chain.tx"):
        pending = usd.submit("transfer", net.addr("buyer"), 3, precheck=False)
        first_hash = pending.tx_hash
        receipt = pending.wait()
    assert receipt["status"] == 1 and pending.tx_hash != first_hash
    assert net.w3.eth.get_transaction_receipt(first_hash)["status"] == 0  # the first one ran out of gas
    assert "ran out of its learned gas limit" in caplog.text
    assert net.chain.gas.known(key) > 25_000  # the book learned the real cost
    assert usd.balance_of(net.addr("buyer")) - 0 >= 3
    assert usd.balance_of(net.addr("seller")) == 1_000_000 - 3  # executed exactly once


# ---------------------------------------------------------------------------------------- sends
class _SlowNode:
    """A fake transport: each request takes 5 ms; odd payloads are refused."""

    key = "fake"

    def __init__(self, down: bool = False):
        self.requests: list[int] = []
        self.down = down

    def _answer(self, raw: str):
        return RpcError("eth_sendRawTransaction", {"message": f"refused {raw}"}) if int(raw, 16) % 2 else "h" + raw

    def call(self, method, params=()):
        answer = self.batch([(method, params)])[0]
        if isinstance(answer, RpcError):
            raise answer
        return answer

    def batch(self, calls):
        import time
        time.sleep(0.005)
        if self.down:
            raise RpcUnavailable("node down")
        self.requests.append(len(calls))
        return [self._answer(p[0]) for _, p in calls]


def test_transport_is_raw_http_unless_the_provider_needs_its_own(anvil):
    from web3.providers.eth_tester import EthereumTesterProvider

    fast = rpc_for(Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 5, "headers": {"X-A": "1"}})))
    assert isinstance(fast, HttpRpc)
    own = rpc_for(Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"proxies": {}})))
    assert isinstance(own, ProviderRpc)
    assert rpc_for(Web3(EthereumTesterProvider())) is None
    for rpc in (fast, own):
        assert int(rpc.call("eth_chainId"), 16) == 31337
        head, missing = rpc.batch([("eth_blockNumber", []), ("eth_getTransactionReceipt", ["0x" + "00" * 32])])
        assert int(head, 16) >= 0 and missing is None
        with pytest.raises(RpcError) as err:
            rpc.call("no_such_method")
        assert err.value.code == -32601


def test_send_queue_batches_concurrent_sends_and_answers_each_its_own():
    node = _SlowNode()
    queue = SendQueue(node, max_batch=8)

    def send(i: int):
        try:
            return queue.send(hex(i))
        except RpcError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(send, range(400)))
    for i, r in enumerate(results):
        if i % 2:
            assert isinstance(r, RpcError) and r.message == f"refused {hex(i)}"
        else:
            assert r == "h" + hex(i)
    assert sum(node.requests) == 400 and max(node.requests) == 8
    assert len(node.requests) < 400 / 2  # shared requests, not one each


def test_send_queue_reports_an_unreachable_node_to_every_sender():
    queue = SendQueue(_SlowNode(down=True))
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(queue.send, hex(2 * i)) for i in range(8)]
    for f in futures:
        with pytest.raises(RpcUnavailable):
            f.result()


# ---------------------------------------------------------------------------------------- receipts
def test_receipt_is_the_one_web3_returns(net):
    usd = funded_seller(net)
    receipt = usd.submit("transfer", net.addr("buyer"), 5).wait()
    assert receipt == net.w3.eth.get_transaction_receipt(receipt["transactionHash"])
    assert usd.events(receipt, "Transfer")[0]["value"] == 5
    address, deployed = net.chain.deploy("PurchaseOrder", net.keys["admin_a"], net.deployment.registry)
    assert deployed == net.w3.eth.get_transaction_receipt(deployed["transactionHash"])
    assert deployed["contractAddress"] == address and net.w3.eth.get_code(address)


def test_one_watcher_per_node_fetches_receipts_in_one_batch_per_block(net, anvil, monkeypatch):
    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)
    other = Chain.connect(anvil.url, artifacts=net.chain.artifacts)
    assert other.pipeline.watcher is net.chain.pipeline.watcher  # one per node connection
    log = RpcLog().attach(net.chain, monkeypatch)
    with manual_mining(anvil):
        pending = [usd.submit("transfer", net.addr("buyer"), 1, precheck=False) for _ in range(30)]
        for p in pending:
            seen_by_watcher(p)
        anvil.mine(1)
        receipts = [p.wait(10) for p in pending]
    assert len({r["blockNumber"] for r in receipts}) == 1
    hashes = {p.tx_hash.to_0x_hex() for p in pending}
    assert any(hashes <= {params[0] for m, params in b if m == "eth_getTransactionReceipt"} for b in log.batches)
    assert log.calls["eth_getTransactionReceipt"] == 0


def test_wait_times_out_while_the_transaction_is_not_mined(net, anvil):
    from web3.exceptions import TimeExhausted

    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)
    with manual_mining(anvil):
        pending = usd.submit("transfer", net.addr("buyer"), 1, precheck=False)
        with pytest.raises(TimeExhausted):
            pending.wait(0.2)
        anvil.mine(1)
        assert pending.wait(10)["status"] == 1  # waiting again works


def test_concurrent_fast_path_from_many_threads_mines_every_transaction(net):
    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)
    start = account_nonce(net, "seller")
    with ThreadPoolExecutor(max_workers=8) as pool:
        pending = list(pool.map(lambda i: usd.submit("transfer", net.addr("buyer"), 1, precheck=False), range(100)))
    assert all(p.wait(30)["status"] == 1 for p in pending)
    assert sorted(p.tx["nonce"] for p in pending) == list(range(start, start + 100))
    assert usd.balance_of(net.addr("seller")) == 1_000_000 - 101


# ---------------------------------------------------------------------------------------- drops, gaps
def test_dropped_transaction_is_sent_again_with_the_same_nonce(net, anvil, caplog):
    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)
    before = usd.balance_of(net.addr("buyer"))
    with manual_mining(anvil), caplog.at_level(logging.WARNING, logger="chain.receipts"):
        pending = usd.submit("transfer", net.addr("buyer"), 7, precheck=False)
        seen_by_watcher(pending)
        anvil.rpc("anvil_dropTransaction", [pending.tx_hash.to_0x_hex()])
        assert net.w3.provider.make_request("eth_getTransactionByHash", [pending.tx_hash.to_0x_hex()])["result"] is None
        mine_until(anvil, lambda: pending.ticket.resubmits == 1, what="the resubmission")
        anvil.mine(1)
        receipt = pending.wait(10)
    assert receipt["status"] == 1 and receipt["transactionHash"] == pending.tx_hash  # same bytes, same hash
    assert "was dropped by the node: sent again" in caplog.text
    assert usd.balance_of(net.addr("buyer")) == before + 7  # executed once


def test_transaction_whose_nonce_another_took_fails_as_replaced(net, anvil):
    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)
    with manual_mining(anvil):
        pending = usd.submit("transfer", net.addr("buyer"), 7, precheck=False)
        seen_by_watcher(pending)
        anvil.rpc("anvil_dropTransaction", [pending.tx_hash.to_0x_hex()])
        other = Chain(Web3(Web3.HTTPProvider(anvil.url)), net.chain.artifacts)  # same key, own nonce counter
        replacement = net.deployment.clients(other, net.keys["seller"]).token("USD").submit(
            "transfer", net.addr("buyer"), 2)
        assert replacement.tx["nonce"] == pending.tx["nonce"]
        mine_until(anvil, pending.ticket.event.is_set, what="the replacement to be noticed")
        with pytest.raises(errors.TransactionReplaced) as err:
            pending.wait(0)
    assert err.value.nonce == pending.tx["nonce"] and err.value.tx_hash == pending.tx_hash.to_0x_hex()
    assert replacement.wait(10)["status"] == 1
    assert usd.balance_of(net.addr("seller")) == 1_000_000 - 1 - 2  # only the replacement ran


def test_nonce_too_low_refusal_resyncs_and_sends(net, anvil, caplog):
    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)  # the counter is cached
    chain_nonce = account_nonce(net, "seller") + 5  # another client used five nonces
    anvil.rpc("anvil_setNonce", [net.addr("seller"), hex(chain_nonce)])
    with caplog.at_level(logging.WARNING, logger="chain.tx"):
        receipt = usd.submit("transfer", net.addr("buyer"), 1, precheck=False).wait()
    assert "refused" in caplog.text and "resyncing" in caplog.text
    assert receipt["status"] == 1
    assert account_nonce(net, "seller") == chain_nonce + 1


def test_nonce_gap_below_a_queued_transaction_is_filled(net, anvil, caplog):
    usd = funded_seller(net)
    for _ in range(3):
        usd.transfer(net.addr("buyer"), 1)  # the counter is cached at n
    n = account_nonce(net, "seller")
    anvil.rpc("anvil_setNonce", [net.addr("seller"), hex(n - 2)])  # the chain forgets two nonces
    with manual_mining(anvil), caplog.at_level(logging.WARNING, logger="chain.receipts"):
        pending = usd.submit("transfer", net.addr("buyer"), 4, precheck=False)  # nonce n: queued behind a gap
        assert pending.tx["nonce"] == n
        seen_by_watcher(pending)
        mine_until(anvil, pending.ticket.event.is_set, what="the gap to be filled")
        receipt = pending.wait(0)
    assert receipt["status"] == 1
    assert f"nonces {n - 2}..{n - 1} missing" in caplog.text
    block = net.w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    fillers = [tx for tx in block["transactions"] if tx["from"] == net.addr("seller") and tx["to"] == net.addr("seller")]
    assert sorted(tx["nonce"] for tx in fillers) == [n - 2, n - 1] and all(tx["value"] == 0 for tx in fillers)
    assert account_nonce(net, "seller") == n + 1


def test_nonce_gap_is_reported_when_gap_filling_is_off(net, anvil, monkeypatch):
    usd = funded_seller(net)
    for _ in range(2):
        usd.transfer(net.addr("buyer"), 1)
    n = account_nonce(net, "seller")
    anvil.rpc("anvil_setNonce", [net.addr("seller"), hex(n - 1)])
    monkeypatch.setattr(net.chain.pipeline.watcher, "fill_gaps", False)
    with manual_mining(anvil):
        pending = usd.submit("transfer", net.addr("buyer"), 4, precheck=False)
        seen_by_watcher(pending)
        mine_until(anvil, pending.ticket.event.is_set, what="the gap to be reported")
        with pytest.raises(errors.NonceGap) as err:
            pending.wait(0)
    assert err.value.nonce == n and f"nonces {n - 1}..{n - 1}" in str(err.value)


def test_transaction_lost_in_a_chain_revert_fails_and_is_not_resubmitted(net, anvil):
    usd = funded_seller(net)
    usd.transfer(net.addr("buyer"), 1)
    snap = anvil.rpc("evm_snapshot")
    anvil.mine(1)
    with manual_mining(anvil):
        pending = usd.submit("transfer", net.addr("buyer"), 9, precheck=False)
        seen_by_watcher(pending)
        anvil.rpc("anvil_dropTransaction", [pending.tx_hash.to_0x_hex()])
        anvil.rpc("evm_revert", [snap])
        anvil.rpc("evm_increaseTime", [100])  # so the new blocks differ from the reverted ones
        mine_until(anvil, pending.ticket.event.is_set, what="the loss to be noticed")  # new blocks, new hashes
        with pytest.raises(errors.TransactionDropped) as err:
            pending.wait(0)
    assert "reverted or reorganised" in str(err.value)
    assert pending.ticket.resubmits == 0
    net.chain.nonces.resync()



def test_transaction_mined_again_into_an_identical_block_after_a_revert_is_seen(net, anvil):
    """Tests revert to a snapshot and send the same transaction again: same nonce, same calldata,
    so the same hash, mined into a block at the same height with the same parent and timestamp,
    so a block with the same hash as the head the watcher already saw. The watcher fetches a new
    ticket's receipt once whether or not the head moved, so `wait` returns. (Before, it waited for
    a head that never changed and timed out.)"""
    usd = funded_seller(net)
    snap = anvil.rpc("evm_snapshot")
    first = usd.submit("transfer", net.addr("buyer"), 7, precheck=False)
    receipt = first.wait(10)
    block = net.w3.eth.get_block(receipt["blockNumber"])
    anvil.rpc("evm_revert", [snap])
    net.chain.nonces.resync()
    anvil.rpc("evm_setNextBlockTimestamp", [block["timestamp"]])
    again = usd.submit("transfer", net.addr("buyer"), 7, precheck=False)
    assert again.tx_hash == first.tx_hash
    assert again.wait(5)["blockHash"] == receipt["blockHash"]  # the very same block, seen

# ---------------------------------------------------------------------------------------- reads
def test_batch_call_reads_many_views_in_one_request(net, monkeypatch):
    usd = funded_seller(net, 1234)
    log = RpcLog().attach(net.chain, monkeypatch)
    seller, buyer = net.addr("seller"), net.addr("buyer")
    out = net.chain.batch_call([usd.view("balanceOf", seller), usd.view("totalSupply"),
                                (usd.address, usd.encode("balanceOf", buyer))])
    assert len(log.batches) == 1 and log.calls["eth_call"] == 0
    assert out[0] == 1234 and out[1] == usd.total_supply()
    assert int.from_bytes(out[2], "big") == usd.balance_of(buyer)
    holder = net.invoices().view("ownerOf", 12345)  # no such token: reverts
    with pytest.raises(errors.TokenDoesNotExist):
        net.chain.batch_call([usd.view("totalSupply"), holder])
    mixed = net.chain.batch_call([holder, usd.view("balanceOf", seller)], raise_errors=False)
    assert isinstance(mixed[0], errors.TokenDoesNotExist) and mixed[1] == 1234


def test_fast_calldata_equals_web3_and_keeps_its_argument_checks(net):
    usd = net.token("USD", "seller")
    fn = usd.contract.functions.transfer(net.addr("buyer"), 5)
    assert usd._calldata("transfer", (net.addr("buyer"), 5)) == bytes.fromhex(fn._encode_transaction_data()[2:])
    invoices = net.invoices("seller")
    with pytest.raises(Exception) as short:  # bytes32 given 1 byte: web3's strict encoder refuses it
        invoices._calldata("bindShipment", (1, b"\x01"))
    assert "bindShipment" in str(short.value) or "bytes32" in str(short.value)


# ---------------------------------------------------------------------------------------- eth-tester
def test_pipeline_falls_back_to_web3_on_eth_tester():
    from tests.support.eth_tester import tester_network

    chain, d, keys = tester_network("tradenet-pipeline-eth-tester")
    assert chain.rpc is None and chain.pipeline.watcher is None  # no JSON-RPC: web3's methods
    seller = keys["seller"].address
    d.clients(chain, keys["treasury"]).token("USD").mint(seller, 100, MINT_REF)
    usd = d.clients(chain, keys["seller"]).token("USD")
    assert usd.submit("transfer", keys["buyer"].address, 10).wait()["status"] == 1
    assert usd.submit("transfer", keys["buyer"].address, 10, precheck=False).wait()["status"] == 1  # learned gas
    with pytest.raises(errors.ERC20InsufficientBalance):  # precheck: nothing sent
        usd.submit("transfer", keys["buyer"].address, 10**9)
    failed = usd.submit("transfer", keys["buyer"].address, 10**9, precheck=False)
    with pytest.raises(errors.ERC20InsufficientBalance) as err:  # mined as failed, decoded at wait
        failed.wait()
    assert err.value.tx_hash == failed.tx_hash.to_0x_hex()
    assert chain.batch_call([usd.view("balanceOf", seller), usd.view("balanceOf", keys["buyer"].address)]) == [80, 20]
