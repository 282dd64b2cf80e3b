"""The client is provider-agnostic: the core invoice flow on py-evm through EthereumTesterProvider."""

import dataclasses

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from chain import errors
from chain.client import Chain
from chain.clients import InvoiceTerms
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.vocabulary import InvoiceState


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
    seller_invoices = d.clients(chain, keys["seller"]).invoices
    invoice_id = seller_invoices.mint(terms)
    assert invoice_id == int.from_bytes(seller_invoices.fingerprint(
        b"3003005ZBRIGHTELEC05", b"724500ROTTERDAMRET06", seller_invoices.canonical_number("ET-2026-001"),
        250_000_00, "EUR", now), "big")
    # the same receivable under another spelling, from the seller's second account: refused
    again = dataclasses.replace(terms, invoice_number="et 2026/001", document_hash=b"\xcd" * 32)
    with pytest.raises(errors.DuplicateInvoice) as dup:
        d.clients(chain, keys["seller_ops"]).invoices.mint(again)
    assert dup.value["id"] == invoice_id
    with pytest.raises(errors.DuplicateDocument):
        d.clients(chain, keys["seller"]).invoices.mint(dataclasses.replace(terms, invoice_number="ET-2026-002"))
    with pytest.raises(errors.NotInvoiceBuyer):
        seller_invoices.confirm(invoice_id)
    d.clients(chain, keys["buyer"]).invoices.confirm(invoice_id)
    inv = seller_invoices.invoice(invoice_id)
    assert inv.state is InvoiceState.CONFIRMED
    assert inv.face_value == 250_000_00 and inv.currency == "EUR"
    assert inv.holder == keys["seller"].address
