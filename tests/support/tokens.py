"""Helpers shared by the registry, governance and token tests (plain functions over the session
`net`; fixtures stay in conftest.py).

Reverts are caught by the client when it estimates gas, before a nonce is taken, so a rejected
call mines no block; `unchanged` checks that (block number) plus whatever reads a test names.

Escrows must have code (the registry refuses to register an account without), so the tests that
need one deploy a `StandInEscrow` (``escrow.sol``): governance registers it as an ESCROW and its
operator makes it call the tokens as a deal contract would (`deploy_escrow`)."""

from __future__ import annotations

import contextlib
import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from chain.clients import ContractClient, InvoiceTerms, MemberInput, OrderTerms, ReceiptTerms, lei_bytes
from chain.compiler import compile_source
from chain.vocabulary import ContractKind, Role

DAY = 86_400
YEAR = 365 * DAY
USD = "USD"
#: InvoiceToken.MAX_FACE_VALUE
MAX_FACE_VALUE = 2**96 - 1
#: ParticipantRegistry.MAX_TEXT_LENGTH (legal names, reasons)
MAX_TEXT = 140

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter):05d}"


def checksum(value: str) -> str:
    """Addresses decoded from revert data are lower-case; compare them checksummed."""
    return to_checksum_address(value)


def outsider(label: str) -> LocalAccount:
    """A deterministic key that is not a member (gas is free on the test chain)."""
    return Account.from_key(keccak(text=f"token-tests-outsider:{label}"))


def address_of(net, key_or_address: str) -> str:
    return net.addr(key_or_address) if key_or_address in net.keys else key_or_address


@contextlib.contextmanager
def unchanged(net, *reads: Callable[[], Any]) -> Iterator[None]:
    """Asserts that no block was mined and every read returns the same value afterwards."""
    block = net.w3.eth.block_number
    before = [r() for r in reads]
    yield
    assert net.w3.eth.block_number == block, "a transaction was mined"
    assert [r() for r in reads] == before


# ---------------------------------------------------------------------------- governance


def govern(net, *calls: tuple[str, bytes], description: str = "test governance") -> int:
    return net.registry().govern(net.admins, list(calls), description)


def govern_receipt(net, *calls: tuple[str, bytes], description: str = "test governance") -> tuple[int, dict]:
    """Like `govern` (admin_a proposes, admin_b approves and executes); returns the proposal id
    and the execute transaction's receipt (for its events)."""
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    pid = reg_a.propose(list(calls), description)
    reg_b.approve(pid)
    return pid, reg_b.execute(pid)


def govern_fails(net, error: type, *calls: tuple[str, bytes], reads: Sequence[Callable[[], Any]] = ()) -> Any:
    """A proposal of `calls` with quorum (admin_a proposes, admin_b approves) whose execution
    reverts with `error`: nothing changes (no block, same `reads`) and it stays pending.
    Returns the decoded error."""
    import pytest  # local: this module is imported by tests only

    reg = net.registry("admin_a")
    pid = reg.propose(list(calls), "expected to fail")
    net.registry("admin_b").approve(pid)
    with unchanged(net, *reads, lambda: reg._call("proposal", pid)):
        with pytest.raises(error) as exc:
            net.registry("admin_b").execute(pid)
    assert reg.proposal_state(pid).name == "PENDING"
    return exc.value


def member_input(net, account: str, roles: Role | int, lei: str, country: str = "DE",
                 kyc_expiry: int | None = None, legal_name: str | None = None) -> MemberInput:
    """Valid `MemberInput` (KYC valid for a year, a legal name made from the LEI) unless overridden."""
    expiry = kyc_expiry if kyc_expiry is not None else net.now() + YEAR
    return MemberInput(account, roles, lei, country, expiry, legal_name if legal_name is not None else f"Entity {lei}")


def add_member(net, account: str, roles: Role | int, lei: str, country: str = "DE", kyc_expiry: int | None = None,
               legal_name: str | None = None) -> None:
    reg = net.registry()
    govern(net, reg.call_add_member(member_input(net, account, roles, lei, country, kyc_expiry, legal_name)),
           description="admit member")


def second_account(net, of: str, roles: Role | int, label: str | None = None) -> LocalAccount:
    """Admits another account of participant `of`'s organisation (same LEI) with `roles`."""
    acct = outsider(label or f"{of}-second-account-{int(roles)}")
    p = net.participants[of]
    add_member(net, acct.address, roles, p.lei, p.country, legal_name=p.name)
    return acct


def suspend(net, key_or_address: str, reason: str = "compliance review") -> None:
    reg = net.registry()
    govern(net, reg.call_suspend(address_of(net, key_or_address), reason))


def sanction(net, key_or_address: str, reason: str = "OFAC SDN list match") -> None:
    reg = net.registry()
    govern(net, reg.call_set_sanctioned(address_of(net, key_or_address), True, reason))


def shorten_kyc(net, key_or_address: str, valid_for: int = 3_600) -> int:
    """Sets the member's KYC to expire `valid_for` seconds from now; returns the expiry."""
    reg = net.registry()
    expiry = net.now() + valid_for
    govern(net, reg.call_renew_kyc(address_of(net, key_or_address), expiry))
    return expiry


def expire_kyc(net, key_or_address: str) -> int:
    """Lets the member's KYC lapse (short renewal, then time passes); returns the expiry."""
    expiry = shorten_kyc(net, key_or_address, 3_600)
    net.advance_time(3_601)
    return expiry


#: The ways a member's standing lapses, and the registry error each one raises for new business.
LAPSES: dict[str, tuple[Callable[..., Any], str]] = {
    "suspended": (suspend, "MemberIsSuspended"),
    "sanctioned": (sanction, "MemberIsSanctioned"),
    "kyc": (expire_kyc, "KycExpired"),
}


def lapse(net, key_or_address: str, how: str) -> Any:
    """Suspends, sanctions or lets the KYC of a member lapse (`how`: a key of LAPSES)."""
    return LAPSES[how][0](net, key_or_address)


def register_contract(net, address: str, kind: ContractKind = ContractKind.ESCROW) -> None:
    reg = net.registry()
    govern(net, reg.call_set_network_contract(address, kind))


# ---------------------------------------------------------------------------- a stand-in escrow

_ESCROW_SOURCE = Path(__file__).resolve().parent / "escrow.sol"


@functools.cache
def _escrow_artifact() -> tuple[list[dict], str]:
    return compile_source(_ESCROW_SOURCE, "StandInEscrow")


@dataclass(frozen=True)
class StandInEscrow:
    """A deployed `StandInEscrow`: `call` makes it call a contract (as an escrow) through its operator."""

    net: Any
    address: str
    operator: LocalAccount

    def call(self, client: ContractClient, name: str, *args: Any) -> dict[str, Any]:
        """`client`'s contract function `name(*args)`, called by this escrow; the transaction receipt."""
        abi, _ = _escrow_artifact()
        fn = self.net.w3.eth.contract(address=self.address, abi=abi).functions.exec(
            client.address, client.encode(name, *args))
        return self.net.chain.sender(self.operator).submit_call(fn).wait()

    def transfer_nft(self, client: ContractClient, to: str, token_id: int) -> dict[str, Any]:
        return self.call(client, "transferFrom", self.address, address_of(self.net, to), token_id)


def deploy_escrow(net, label: str = "escrow", kind: ContractKind | None = ContractKind.ESCROW) -> StandInEscrow:
    """Deploys a `StandInEscrow` and has governance register it as `kind` (None: not registered)."""
    abi, bytecode = _escrow_artifact()
    operator = outsider(f"escrow-operator:{label}")
    address, _ = net.chain.sender(operator).deploy(abi, bytecode)
    if kind is not None:
        register_contract(net, address, kind)
    return StandInEscrow(net, address, operator)


# ---------------------------------------------------------------------------- money


def mint(net, key_or_address: str, amount: int, currency: str = USD) -> None:
    net.token(currency, "treasury").mint(address_of(net, key_or_address), amount, keccak(text=unique("deposit")))


def balances(net, addresses: Sequence[str], currency: str = USD) -> list[int]:
    tok = net.token(currency)
    return [tok.balance_of(address_of(net, a)) for a in addresses]


# ---------------------------------------------------------------------------- invoices


def canonical_number(number: str) -> bytes:
    """The contract's canonical invoice / order number, computed here: letters and digits only,
    letters upper-cased, hashed."""
    return keccak(text="".join(c.upper() for c in number if c.isascii() and c.isalnum()))


def fingerprint(seller_lei: str, buyer_lei: str, number: str, face_value: int, currency: str, issue_date: int) -> int:
    """An invoice's token id as the contract derives it (issue date counted in UTC days)."""
    return int.from_bytes(keccak(abi_encode(
        ["bytes20", "bytes20", "bytes32", "uint256", "bytes3", "uint64"],
        [lei_bytes(seller_lei), lei_bytes(buyer_lei), canonical_number(number), face_value, currency.encode(),
         issue_date // DAY])), "big")


def part_id(parent_id: int, index: int) -> int:
    """The id of part `index` of a split invoice: keccak256(abi.encode(parentId, index))."""
    return int.from_bytes(keccak(abi_encode(["uint256", "uint256"], [parent_id, index])), "big")


def invoice_terms(net, **overrides: Any) -> InvoiceTerms:
    """Valid invoice terms from `seller` to `buyer`: issued yesterday, due in 90 days, USD 100,000.00,
    a document hash of its own. Override any InvoiceTerms field by name."""
    now = net.now()
    number = overrides.pop("invoice_number", None)
    if number is None:
        number = unique("INV")
    fields: dict[str, Any] = dict(
        buyer=net.addr("buyer"),
        invoice_number=number,
        face_value=10_000_000,
        currency=USD,
        issue_date=now - DAY,
        due_date=now + 90 * DAY,
        document_hash=keccak(text=unique(f"encrypted document of {number}")),
        document_cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    )
    fields.update(overrides)
    return InvoiceTerms(**fields)


def mint_invoice(net, seller: str = "seller", confirm: bool = False, **overrides: Any) -> int:
    invoice_id = net.invoices(seller).mint(invoice_terms(net, **overrides))
    if confirm:
        buyer = overrides.get("buyer", net.addr("buyer"))
        net.invoices().using(_key_of(net, buyer)).confirm(invoice_id)
    return invoice_id


def _key_of(net, address: str) -> LocalAccount:
    return next(k for k in net.keys.values() if k.address == address)


# ---------------------------------------------------------------------------- purchase orders


def order_terms(net, **overrides: Any) -> OrderTerms:
    """Valid order terms from `buyer` to `seller` (the supplier): 1,000 units, USD 50,000.00,
    delivery in 60 days. Override any OrderTerms field by name."""
    fields: dict[str, Any] = dict(
        supplier=net.addr("seller"),
        order_number=unique("PO"),
        goods="LED panels 60x60",
        quantity=1_000,
        unit="PCE",
        amount=5_000_000,
        currency=USD,
        delivery_date=net.now() + 60 * DAY,
        document_hash=keccak(text=unique("order document")),
        document_cid="bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq",
    )
    fields.update(overrides)
    return OrderTerms(**fields)


def issue_order(net, buyer: str = "buyer", **overrides: Any) -> int:
    return net.clients(buyer).orders.issue(order_terms(net, **overrides))


# ---------------------------------------------------------------------------- warehouse receipts


def receipt_terms(net, **overrides: Any) -> ReceiptTerms:
    """Valid receipt terms: 500 t of copper cathode held in Rotterdam for `seller`, valid 180 days."""
    fields: dict[str, Any] = dict(
        depositor=net.addr("seller"),
        commodity="Copper cathode",
        quantity=500_000,
        unit="KGM",
        grade="LME Grade A",
        location="NLRTM",
        insured_value=450_000_000,
        currency=USD,
        expiry=net.now() + 180 * DAY,
        document_hash=keccak(text=unique("receipt-document")),
        document_cid="bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    )
    fields.update(overrides)
    return ReceiptTerms(**fields)


def issue_receipt(net, warehouse: str = "warehouse", **overrides: Any) -> int:
    return net.receipts(warehouse).issue(receipt_terms(net, **overrides))
