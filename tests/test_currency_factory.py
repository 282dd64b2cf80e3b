"""CurrencyFactory: governance adds a currency in one M-of-N proposal (create the token at its
predicted CREATE2 address, register it as an asset, make it the currency's settlement token);
invoices in the currency then mint and TREASURY issues deposits in it. Nobody else creates."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import errors
from chain.clients import SettlementToken
from chain.vocabulary import ContractKind

from tests.support.tokens import checksum, govern, govern_fails, govern_receipt, invoice_terms, unchanged

GBP = ("tradenet Pound Sterling deposit", "GBP", 2)


def _add_currency_calls(net, name: str, code: str, decimals: int) -> tuple[str, list]:
    """The predicted token address and the three calls of the proposal that adds the currency."""
    factory, reg = net.clients().currency_factory, net.registry()
    token = factory.predict(name, code, decimals)
    return token, [factory.call_create(name, code, decimals), reg.call_set_network_contract(token, ContractKind.ASSET),
                   reg.call_set_settlement_token(code, token)]


def test_governance_adds_a_currency_in_one_proposal(net):
    reg = net.registry()
    assert reg.settlement_token("GBP") is None
    with pytest.raises(errors.UnsupportedCurrency):  # before: no invoice in GBP
        net.invoices("seller").mint(invoice_terms(net, currency="GBP"))
    token, calls = _add_currency_calls(net, *GBP)
    assert net.w3.eth.get_code(token) == b""
    _, receipt = govern_receipt(net, *calls, description="Add GBP")

    factory = net.clients().currency_factory
    [ev] = factory.events(receipt, "CurrencyTokenCreated")
    assert (ev["currency"], ev["token"], ev["name"], ev["decimals"]) == (b"GBP", token, GBP[0], 2)
    assert net.w3.eth.get_code(token) != b""
    assert (reg.contract_kind(token), reg.settlement_token("GBP")) == (ContractKind.ASSET, token)
    gbp = SettlementToken(net.chain, token)
    assert (gbp.currency(), gbp.decimals(), gbp._call("name"), gbp._call("symbol"), gbp.total_supply()) == (
        "GBP", 2, GBP[0], "GBP", 0)
    assert gbp._call("registry") == net.deployment.registry

    # the new currency works like the others: a GBP invoice mints, TREASURY issues GBP deposits
    invoice_id = net.invoices("seller").mint(invoice_terms(net, currency="GBP"))
    assert net.invoices().invoice(invoice_id).currency == "GBP"
    treasury_gbp = gbp.using(net.keys["treasury"])
    treasury_gbp.mint(net.addr("buyer"), 5_000_00, keccak(text="GBP deposit 1"))
    gbp.using(net.keys["buyer"]).transfer(net.addr("seller"), 1_000_00)
    assert [gbp.balance_of(net.addr(k)) for k in ("buyer", "seller")] == [4_000_00, 1_000_00]
    assert gbp.total_supply() == 5_000_00


def test_a_currency_with_zero_minor_units(net):
    token, calls = _add_currency_calls(net, "tradenet Yen deposit", "JPY", 0)
    govern(net, *calls)
    jpy = SettlementToken(net.chain, token)
    assert (jpy.currency(), jpy.decimals()) == ("JPY", 0)


def test_prediction_depends_on_every_parameter(net):
    factory = net.clients().currency_factory
    base = factory.predict(*GBP)
    assert len({base, factory.predict("another name", "GBP", 2), factory.predict(GBP[0], "CHF", 2),
                factory.predict(GBP[0], "GBP", 3)}) == 4


def test_only_governance_creates(net):
    factory = net.clients("admin_a").currency_factory
    token = factory.predict(*GBP)
    with unchanged(net, lambda: net.w3.eth.get_code(token)):
        with pytest.raises(errors.NotGovernance) as exc:
            factory._tx("create", GBP[0], b"GBP", 2)
    assert checksum(exc.value["caller"]) == net.addr("admin_a")
    with pytest.raises(errors.NotGovernance):
        net.clients("treasury").currency_factory._tx("create", GBP[0], b"GBP", 2)


def test_a_currency_is_created_once(net):
    """The same parameters give the same CREATE2 address: the second creation fails (CREATE2 on an
    occupied address reverts without data) and the proposal stays pending."""
    token, calls = _add_currency_calls(net, *GBP)
    govern(net, *calls)
    govern_fails(net, errors.UnknownRevert, calls[0], reads=[lambda: net.w3.eth.get_code(token)])


@pytest.mark.parametrize("code, decimals, error", [("gbp", 2, "InvalidCurrencyCode"), ("GB1", 2, "InvalidCurrencyCode"),
                                                   ("GBP", 19, "InvalidDecimals")])
def test_created_token_validates_its_currency(net, code, decimals, error):
    factory = net.clients().currency_factory
    token = factory.predict(GBP[0], code, decimals)
    govern_fails(net, getattr(errors, error), factory.call_create(GBP[0], code, decimals),
                 reads=[lambda: net.w3.eth.get_code(token)])


def test_token_must_be_registered_as_an_asset_before_it_settles(net):
    """Create and setSettlementToken without the asset registration in between: refused, atomically."""
    token, (create, _register, set_token) = _add_currency_calls(net, *GBP)
    err = govern_fails(net, errors.InvalidSettlementToken, create, set_token,
                       reads=[lambda: net.w3.eth.get_code(token), lambda: net.registry().settlement_token("GBP")])
    assert checksum(err["token"]) == token
    assert net.w3.eth.get_code(token) == b""  # the creation was rolled back with it


def test_existing_token_cannot_settle_another_currency(net):
    token, (create, register, _) = _add_currency_calls(net, *GBP)
    govern(net, create, register)
    err = govern_fails(net, errors.InvalidSettlementToken, net.registry().call_set_settlement_token("EUR", token),
                       reads=[lambda: net.registry().settlement_token("EUR")])
    assert (err["currency"], checksum(err["token"])) == (b"EUR", token)
