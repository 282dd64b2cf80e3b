"""Helpers shared by the registry, governance and token tests (plain functions over the session
`net`; fixtures stay in conftest.py).

Reverts are caught by the client when it estimates gas, before a nonce is taken, so a rejected
call mines no block; `unchanged` checks that (block number) plus whatever reads a test names."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any, Callable, Iterator, Sequence

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from chain.contracts import ContractKind, InvoiceTerms, ReceiptTerms, Role

DAY = 86_400
YEAR = 365 * DAY
USD = "USD"

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter):05d}"


def checksum(value: str) -> str:
    """Addresses decoded from revert data are lower-case; compare them checksummed."""
    return to_checksum_address(value)


def outsider(label: str) -> LocalAccount:
    """A deterministic key that is not a member (gas is free on the test chain)."""
    return Account.from_key(keccak(text=f"token-tests-outsider:{label}"))


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


def add_member(net, account: str, roles: Role, lei: str, country: str = "DE", kyc_expiry: int | None = None) -> None:
    reg = net.registry()
    expiry = kyc_expiry if kyc_expiry is not None else net.now() + YEAR
    govern(net, reg.call_add_member(account, roles, lei, country, expiry), description="admit member")


def suspend(net, key_or_address: str, reason: str = "compliance review") -> None:
    reg = net.registry()
    govern(net, reg.call_suspend(_address(net, key_or_address), reason))


def sanction(net, key_or_address: str, reason: str = "OFAC SDN list match") -> None:
    reg = net.registry()
    govern(net, reg.call_set_sanctioned(_address(net, key_or_address), True, reason))


def shorten_kyc(net, key_or_address: str, valid_for: int = 3_600) -> int:
    """Sets the member's KYC to expire `valid_for` seconds from now; returns the expiry."""
    reg = net.registry()
    expiry = net.now() + valid_for
    govern(net, reg.call_renew_kyc(_address(net, key_or_address), expiry))
    return expiry


def expire_kyc(net, key_or_address: str) -> int:
    """Lets the member's KYC lapse (short renewal, then time passes); returns the expiry."""
    expiry = shorten_kyc(net, key_or_address, 3_600)
    net.advance_time(3_601)
    return expiry


def register_contract(net, address: str, kind: ContractKind = ContractKind.ESCROW) -> None:
    reg = net.registry()
    govern(net, reg.call_set_network_contract(address, kind))


def escrow_account(net, label: str = "escrow") -> LocalAccount:
    """An EOA that governance registers as a tradenet ESCROW, standing in for a deal contract."""
    acct = outsider(label)
    register_contract(net, acct.address, ContractKind.ESCROW)
    return acct


def _address(net, key_or_address: str) -> str:
    return net.addr(key_or_address) if key_or_address in net.keys else key_or_address


# ---------------------------------------------------------------------------- money


def mint(net, key_or_address: str, amount: int, currency: str = USD) -> None:
    net.token(currency, "treasury").mint(_address(net, key_or_address), amount, keccak(text=unique("deposit")))


def balances(net, addresses: Sequence[str], currency: str = USD) -> list[int]:
    tok = net.token(currency)
    return [tok.balance_of(_address(net, a)) for a in addresses]


# ---------------------------------------------------------------------------- invoices


def invoice_terms(net, **overrides: Any) -> InvoiceTerms:
    """Valid invoice terms from `seller` to `buyer`: issued yesterday, due in 90 days, USD 100,000.00.
    Override any InvoiceTerms field by name."""
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
        document_hash=keccak(text=f"encrypted document of {number}"),
        document_cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    )
    fields.update(overrides)
    return InvoiceTerms(**fields)


def mint_invoice(net, seller: str = "seller", confirm: bool = False, **overrides: Any) -> int:
    invoice_id = net.invoices(seller).mint(invoice_terms(net, **overrides))
    if confirm:
        net.invoices("buyer").confirm(invoice_id)
    return invoice_id


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
