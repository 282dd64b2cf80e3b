"""chain.vocabulary held against the contracts: the deployed ones answer for codes, roles, EIP-712
type hashes and domains; the Solidity sources for the names of enum members and constants."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from eth_utils import keccak

from chain import errors
from chain.clients import DealTerms, Milestone, shipment_id
from chain.eip712 import type_hash
from chain.settings import settings
from chain.vocabulary import (
    EVENT_CODES,
    RATE_DECIMALS,
    SHIPMENT_EVENT_CODES,
    BPS,
    DOCUMENT_TYPES,
    ContractKind,
    DealState,
    EventStatus,
    InvoiceState,
    MilestoneStatus,
    OrderState,
    Product,
    ProposalState,
    RedemptionState,
    Role,
    attested_codes,
    encode_type,
)

from tests.support.tokens import govern, govern_fails


@functools.cache
def _solidity() -> str:
    return "\n".join(p.read_text() for p in sorted(Path(settings.compiler.contracts_dir).rglob("*.sol")))


def _block(kind: str, name: str) -> str:
    """The body of `library NAME { ... }` / `enum NAME { ... }` (first level of braces)."""
    text = _solidity()
    m = re.search(rf"\b{kind}\s+{name}\s*{{", text)
    assert m, f"no {kind} {name} in the contracts"
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end():i - 1]


# ---------------------------------------------------------------------------------- shipment codes


def test_every_attested_code_is_an_oracle_event_code_and_nothing_else(net):
    oracle = net.clients().oracle
    assert all(oracle.is_event_code(code) for code in EVENT_CODES)
    for other in ("XXXX", "STUF", "depa", "DEP ", "\0\0\0\0"):  # STUF: a DCSA code the oracle does not attest
        assert not oracle.is_event_code(other), other


def test_event_codes_are_the_solidity_library_in_its_order():
    body = _block("library", "ShipmentEventCodes")
    declared = re.findall(r'bytes4\s+internal\s+constant\s+(\w+)\s*=\s*"(\w{4})"', body)
    assert all(name == value for name, value in declared)
    assert tuple(value for _, value in declared) == EVENT_CODES
    assert len({c.code for c in SHIPMENT_EVENT_CODES}) == len(EVENT_CODES)
    assert attested_codes("TRANSPORT") == {"DEPA", "ARRI"} and attested_codes("PLANNED") == frozenset()


# ---------------------------------------------------------------------------------- roles and states


def test_role_bits_are_the_solidity_library():
    body = _block("library", "Roles")
    declared = re.findall(r"uint32\s+internal\s+constant\s+(\w+)\s*=\s*1\s*<<\s*(\d+)", body)
    bits = {name: 1 << int(shift) for name, shift in declared}
    assert bits == {r.name: int(r) for r in Role}
    (all_bits,) = re.findall(r"constant\s+ALL\s*=\s*\(1\s*<<\s*(\d+)\)\s*-\s*1", body)
    assert int(Role.all()) == (1 << int(all_bits)) - 1


def test_all_roles_are_what_the_registry_accepts(net):
    reg = net.registry()
    seller = net.addr("seller")
    govern(net, reg.call_set_roles(seller, Role.all()))
    assert reg.member(seller).roles == Role.all()
    err = govern_fails(net, errors.InvalidRoles, reg.call_set_roles(seller, int(Role.all()) + 1),
                       reads=[lambda: reg.member(seller)])
    assert err["roles"] == int(Role.all()) + 1


@pytest.mark.parametrize("enum", [ContractKind, ProposalState, InvoiceState, DealState, MilestoneStatus, EventStatus,
                                  OrderState, RedemptionState])
def test_states_are_the_solidity_enums(enum):
    members = [m.strip() for m in _block("enum", enum.__name__).split(",") if m.strip()]
    assert list(enum.labels(include_none=True)) == members
    assert [m.value for m in enum] == list(range(len(members)))
    assert all(enum.from_label(m.label) is m for m in enum)


# ---------------------------------------------------------------------------------- EIP-712


def test_type_hashes_equal_the_contracts(net):
    c = net.clients()
    assert type_hash("ShipmentEvent") == bytes(c.oracle._call("SHIPMENT_EVENT_TYPEHASH"))
    assert type_hash("Retraction") == bytes(c.oracle._call("RETRACTION_TYPEHASH"))
    assert type_hash("FxRate") == bytes(c.fx._call("FX_RATE_TYPEHASH"))
    # the deal terms' type hashes are internal to the library: their encodeType is written in the source
    body = _block("library", "DealTerms")
    for constant, primary in (("TERMS_TYPEHASH", "DealTerms"), ("MILESTONE_TYPEHASH", "Milestone")):
        declaration = body.split(f"{constant} =", 1)[1].split(";", 1)[0]
        assert encode_type(primary) == "".join(re.findall(r'"([^"]*)"', declaration)), constant
    assert keccak(text=encode_type("Milestone")) == type_hash("Milestone")


def test_domain_separators_equal_the_contracts(net):
    c = net.clients()
    for client in (c.oracle, c.fx, c.deals):
        assert client.domain().separator() == client.domain_separator(), client.contract_name
    assert c.fx.rate_decimals() == RATE_DECIMALS


@pytest.mark.parametrize("variant", ["plain", "every field"])
def test_deal_terms_digest_equals_the_contract(net, variant):
    deals = net.clients().deals
    extra = {} if variant == "plain" else dict(
        shipment_id=shipment_id("VOCAB-BL-1"), fx_valid_until=1_950_000_000, agreement_hash=b"\x0a" * 32,
        nonce=b"\x0b" * 32, extra=b"\x01\x02\x03")
    terms = DealTerms(net.deployment.receivable_financing, 7, net.addr("seller"), net.addr("lender"),
                      net.deployment.settlement_tokens["USD"], 1_000_00, 10_00, 2_000_000_000, 86_400, 1_900_000_000,
                      (Milestone("", 2_000), Milestone("DEPA", 3_000), Milestone("ARRI", 5_000, "NLRTM")), **extra)
    assert deals.local_terms_digest(terms) == deals.terms_digest(terms)


def test_milestone_shares_are_in_basis_points_of_the_engine(net):
    assert net.clients().deals._call("BPS") == BPS


# ---------------------------------------------------------------------------------- products and documents


def test_product_ids_are_the_engines(net):
    deals = net.clients().deals
    for product, module in net.deployment.product_modules.items():
        assert deals.product_module(product) == module
        assert deals.product_config(module).id == product
    assert deals.product_module(Product.NONE) is None
    assert {p for p in Product if p != Product.NONE} == set(net.deployment.product_modules)


def test_document_types_are_the_documentary_credit_codes():
    body = _solidity().split("contract DocumentaryCredit", 1)[1]
    declared = re.findall(r'bytes4\s+public\s+constant\s+\w+\s*=\s*"(\w{4})"', body)
    assert tuple(declared) == tuple(d.code for d in DOCUMENT_TYPES)
