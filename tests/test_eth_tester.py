"""The client is provider-agnostic: the core invoice flow on py-evm through EthereumTesterProvider."""

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from chain import errors
from chain.client import Chain
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.contracts import InvoiceState, InvoiceTerms


@pytest.fixture(scope="module")
def tester_net():
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    keys = deterministic_keys(DEMO_PARTICIPANTS, seed="tradenet-eth-tester")
    funder = w3.eth.accounts[0]
    for acct in keys.values():  # py-evm charges gas: fund the participants from a tester account
        w3.eth.send_transaction({"from": funder, "to": acct.address, "value": 10**20})
    chain = Chain(w3)
    deployment = bootstrap(chain, "eth-tester", keys)
    return chain, deployment, keys


def test_invoice_flow_on_eth_tester(tester_net):
    chain, d, keys = tester_net
    now = chain.w3.eth.get_block("latest")["timestamp"]
    terms = InvoiceTerms(keys["buyer"].address, "ET-2026-001", 250_000_00, "EUR", now, now + 90 * 86_400,
                         b"\xab" * 32, "bafkreitestdocument")
    seller_invoices = d.invoices(chain, keys["seller"])
    invoice_id = seller_invoices.mint(terms)
    with pytest.raises(errors.DuplicateInvoice) as dup:
        d.invoices(chain, keys["seller_ops"]).mint(terms)
    assert dup.value["existingId"] == invoice_id
    with pytest.raises(errors.NotInvoiceBuyer):
        seller_invoices.confirm(invoice_id)
    d.invoices(chain, keys["buyer"]).confirm(invoice_id)
    inv = seller_invoices.invoice(invoice_id)
    assert inv.state is InvoiceState.CONFIRMED
    assert inv.face_value == 250_000_00 and inv.currency == "EUR"
    assert inv.holder == keys["seller"].address
