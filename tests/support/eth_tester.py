"""The tradenet network on py-evm through web3's EthereumTesterProvider (no JSON-RPC transport:
the chain client falls back to web3's methods)."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from chain.client import Chain
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.deployment import Deployment


def tester_network(seed: str) -> tuple[Chain, Deployment, dict[str, LocalAccount]]:
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    keys = deterministic_keys(DEMO_PARTICIPANTS, seed=seed)
    funder = w3.eth.accounts[0]
    for acct in keys.values():  # py-evm charges gas: fund the participants from a tester account
        w3.eth.send_transaction({"from": funder, "to": acct.address, "value": 10**20})
    chain = Chain(w3)
    return chain, bootstrap(chain, "eth-tester", keys), keys
