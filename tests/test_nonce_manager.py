"""Many transactions in flight from one key: all mine, in nonce order, none lost."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from chain import errors

N_TX = 200


def test_200_concurrent_transactions_from_one_key(net):
    usd_treasury = net.token("USD", "treasury")
    usd_treasury.mint(net.addr("seller"), 1_000_000, b"\x01" * 32)
    seller_usd = net.token("USD", "seller")
    start_nonce = net.w3.eth.get_transaction_count(net.addr("seller"))
    buyer_before = seller_usd.balance_of(net.addr("buyer"))

    def send(i: int):
        return seller_usd.submit_transfer(net.addr("buyer"), i + 1)

    with ThreadPoolExecutor(max_workers=16) as pool:
        pending = list(pool.map(send, range(N_TX)))
    receipts = [p.wait() for p in pending]

    nonces = sorted(p.tx["nonce"] for p in pending)
    assert nonces == list(range(start_nonce, start_nonce + N_TX))  # no gap, no collision
    assert all(r["status"] == 1 for r in receipts)
    # mined in nonce order
    by_nonce = sorted(zip((p.tx["nonce"] for p in pending), receipts), key=lambda x: x[0])
    positions = [(r["blockNumber"], r["transactionIndex"]) for _, r in by_nonce]
    assert positions == sorted(positions)
    assert net.w3.eth.get_transaction_count(net.addr("seller")) == start_nonce + N_TX
    expected = N_TX * (N_TX + 1) // 2
    assert seller_usd.balance_of(net.addr("buyer")) - buyer_before == expected
    assert seller_usd.balance_of(net.addr("seller")) == 1_000_000 - expected


def test_reverting_call_takes_no_nonce(net):
    seller_usd = net.token("USD", "seller")
    before = net.w3.eth.get_transaction_count(net.addr("seller"))
    with pytest.raises(errors.ERC20InsufficientBalance):
        seller_usd.transfer(net.addr("buyer"), 10**12)
    usd_treasury = net.token("USD", "treasury")
    usd_treasury.mint(net.addr("seller"), 5, b"\x02" * 32)
    seller_usd.transfer(net.addr("buyer"), 5)  # next nonce is still the one the failure did not use
    assert net.w3.eth.get_transaction_count(net.addr("seller")) == before + 1


def test_resync_after_external_transaction(net):
    """A transaction sent by another client with the same key: the manager recovers the nonce."""
    from chain.client import Chain

    other = Chain(net.w3, net.chain.artifacts)  # second client, own nonce cache
    net.token("USD", "treasury").mint(net.addr("seller"), 10, b"\x03" * 32)
    seller_usd = net.token("USD", "seller")
    seller_usd.transfer(net.addr("buyer"), 1)  # primes this client's cache
    net.deployment.clients(other, net.keys["seller"]).token("USD").transfer(net.addr("buyer"), 1)
    seller_usd.transfer(net.addr("buyer"), 1)  # stale cache -> refused -> resync -> mined
    assert seller_usd.balance_of(net.addr("seller")) == 7
