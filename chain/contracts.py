"""Typed Python clients for the tradenet contracts.

Each client wraps one deployed contract. Reads return dataclasses; writes sign with the bound
local account (`client.using(account)` binds another one) and raise the Solidity custom error as
a Python exception (see `chain.errors`). Business rules live in the contracts: these clients only
encode, send and decode.
"""

from __future__ import annotations

import enum
import functools
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Self, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from .client import Chain
from .tx import PendingTx


class Role(enum.IntFlag):
    """Mirror of contracts/interfaces/IParticipantRegistry.sol:Roles."""

    ADMIN = 1 << 0
    SELLER = 1 << 1
    BUYER = 1 << 2
    LENDER = 1 << 3
    LOGISTICS = 1 << 4
    WAREHOUSE = 1 << 5
    ORACLE = 1 << 6
    INVESTOR = 1 << 7
    AUDITOR = 1 << 8
    TREASURY = 1 << 9

    def names(self) -> list[str]:
        return [r.name for r in Role if r in self and r.name]


class ContractKind(enum.IntEnum):
    NONE = 0
    ASSET = 1
    ESCROW = 2


class InvoiceState(enum.IntEnum):
    NONE = 0
    ISSUED = 1
    CONFIRMED = 2
    FINANCED = 3
    PAID = 4
    DEFAULTED = 5
    CANCELLED = 6
    SPLIT = 7


class ProposalState(enum.IntEnum):
    NONE = 0
    PENDING = 1
    EXECUTED = 2
    EXPIRED = 3


def b3(code: str) -> bytes:
    """An ISO code as bytes3/bytes5/bytes2 (ASCII, exact length checked by the contract)."""
    return code.encode("ascii")


def lei_bytes(lei: str) -> bytes:
    raw = lei.encode("ascii")
    if len(raw) != 20:
        raise ValueError(f"LEI must have 20 characters, got {len(raw)}: {lei!r}")
    return raw


@dataclass(frozen=True)
class Member:
    account: str
    exists: bool
    suspended: bool
    sanctioned: bool
    roles: Role
    kyc_expiry: int
    country: str
    lei: str


@dataclass(frozen=True)
class Invoice:
    id: int
    seller: str
    buyer: str
    holder: str | None
    issue_date: int
    due_date: int
    state: InvoiceState
    currency: str
    face_value: int
    fingerprint: bytes
    document_hash: bytes
    parent_id: int
    invoice_number: str
    document_cid: str


@dataclass(frozen=True)
class Receipt:
    id: int
    warehouse: str
    holder: str | None
    pledgee: str | None
    issued_at: int
    expiry: int
    redemption_requested: bool
    location: str
    currency: str
    quantity: int
    insured_value: int
    document_hash: bytes
    commodity: str
    unit: str
    grade: str
    document_cid: str


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _text(b: bytes) -> str:
    return b.rstrip(b"\x00").decode("ascii", errors="replace")


@dataclass(frozen=True)
class _ViewSpec:
    selector: bytes
    inputs: list[str]
    outputs: list[dict[str, Any]]

    def decode(self, raw: bytes) -> Any:
        values = abi_decode([_type_of(o) for o in self.outputs], bytes(raw))
        out = [_shape(o, v) for o, v in zip(self.outputs, values)]
        return out[0] if len(out) == 1 else tuple(out)


_specs: dict[tuple[int, str], _ViewSpec] = {}


def _type_of(param: dict[str, Any]) -> str:
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in param["components"]) + ")" + t[5:]
    return t


def _shape(param: dict[str, Any], value: Any) -> Any:
    """Structs come back as named tuples (like web3's decode_tuples), addresses checksummed."""
    t = param["type"]
    if t == "tuple":
        comps = param["components"]
        cls = _struct_class(tuple(c["name"] for c in comps))
        return cls(*(_shape(c, v) for c, v in zip(comps, value)))
    if t.endswith("[]"):
        inner = dict(param, type=t[:-2])
        return [_shape(inner, v) for v in value]
    if t == "address":
        return to_checksum_address(value)
    return value


@functools.lru_cache(maxsize=None)
def _struct_class(names: tuple[str, ...]) -> type:
    return namedtuple("Struct", names)  # type: ignore[misc]


def _abi_arg(a: Any) -> Any:
    return a.value if isinstance(a, enum.Enum) else a


def _view_spec(contract: Any, name: str) -> _ViewSpec:
    key = (id(contract.abi), name)
    spec = _specs.get(key)
    if spec is None:
        fn = next(e for e in contract.abi if e.get("type") == "function" and e["name"] == name)
        inputs = [_type_of(i) for i in fn["inputs"]]
        selector = function_signature_to_4byte_selector(f"{name}({','.join(inputs)})")
        spec = _ViewSpec(selector, inputs, fn["outputs"])
        _specs[key] = spec
    return spec


class ContractClient:
    contract_name: ClassVar[str]

    def __init__(self, chain: Chain, address: str, account: LocalAccount | None = None):
        self.chain = chain
        self.contract = chain.contract(self.contract_name, address)
        self.address = self.contract.address
        self.account = account
        self.last_receipt: dict[str, Any] | None = None  # of the latest transaction sent by this client

    def using(self, account: LocalAccount) -> Self:
        """The same contract, signing with `account`."""
        return type(self)(self.chain, self.address, account)

    def _fn(self, name: str, *args: Any) -> Any:
        return getattr(self.contract.functions, name)(*args)

    def _submit(self, name: str, *args: Any, gas: int | None = None) -> PendingTx:
        if self.account is None:
            raise RuntimeError(f"{type(self).__name__} has no signing account: use .using(account)")
        return self.chain.sender(self.account).submit_call(self._fn(name, *args), gas)

    def _tx(self, name: str, *args: Any, gas: int | None = None) -> dict[str, Any]:
        self.last_receipt = self._submit(name, *args, gas=gas).wait()
        return self.last_receipt

    def _call(self, name: str, *args: Any) -> Any:
        """A view call at the latest block: encoded and decoded with eth_abi over a raw `eth_call`
        (web3's contract-call pipeline costs several ms a call; reads sit on the API's hot path)."""
        spec = _view_spec(self.contract, name)
        data = spec.selector + abi_encode(spec.inputs, [_abi_arg(a) for a in args])
        return spec.decode(self.chain.call_raw(self.address, data))

    def _holder(self, token_id: int) -> str | None:
        """ERC-721 owner, or None if the token does not exist (burned)."""
        from . import errors

        try:
            return self._call("ownerOf", token_id)
        except errors.ERC721NonexistentToken:
            return None

    def encode(self, name: str, *args: Any) -> bytes:
        """ABI-encoded call, e.g. for a governance proposal."""
        return bytes.fromhex(self.contract.encode_abi(name, args=list(args))[2:])

    def events(self, receipt: dict[str, Any], event: str) -> list[dict[str, Any]]:
        """Decoded `event` logs this contract emitted in `receipt`."""
        ev = getattr(self.contract.events, event)()
        topic = bytes.fromhex(ev.topic[2:])
        out = []
        for log in receipt["logs"]:
            if log["address"] == self.address and log["topics"] and bytes(log["topics"][0]) == topic:
                out.append(dict(ev.process_log(log)["args"]))
        return out


class ParticipantRegistry(ContractClient):
    contract_name = "ParticipantRegistry"

    # -- governance
    def propose(self, calls: Sequence[tuple[str, bytes]], description: str, ttl: int = 86_400) -> int:
        targets = [t for t, _ in calls]
        data = [d for _, d in calls]
        receipt = self._tx("propose", targets, data, ttl, description)
        return self.events(receipt, "ProposalCreated")[0]["id"]

    def approve(self, proposal_id: int) -> dict[str, Any]:
        return self._tx("approve", proposal_id)

    def execute(self, proposal_id: int) -> dict[str, Any]:
        return self._tx("execute", proposal_id)

    def expire(self, proposal_id: int) -> dict[str, Any]:
        return self._tx("expire", proposal_id)

    def proposal_state(self, proposal_id: int) -> ProposalState:
        return ProposalState(self._call("proposal", proposal_id)[4])

    def approval_threshold(self) -> int:
        return self._call("approvalThreshold")

    def govern(self, admins: Sequence[LocalAccount], calls: Sequence[tuple[str, bytes]], description: str) -> int:
        """Propose with admins[0], approve with the next ones up to the threshold, execute.
        The local convenience for a consortium whose admin keys are all on this machine (demo,
        tests); on a real network each admin approves from its own node."""
        threshold = self.approval_threshold()
        if len(admins) < threshold:
            raise ValueError(f"{len(admins)} admin keys given, governance needs {threshold}")
        pid = self.using(admins[0]).propose(calls, description)
        for admin in admins[1:threshold]:
            self.using(admin).approve(pid)
        self.using(admins[threshold - 1]).execute(pid)
        return pid

    # -- encoded governance calls
    def call_add_member(self, account: str, roles: Role, lei: str, country: str, kyc_expiry: int) -> tuple[str, bytes]:
        return self.address, self.encode("addMember", (account, int(roles), lei_bytes(lei), b3(country), kyc_expiry))

    def call_set_roles(self, account: str, roles: Role) -> tuple[str, bytes]:
        return self.address, self.encode("setRoles", account, int(roles))

    def call_renew_kyc(self, account: str, kyc_expiry: int) -> tuple[str, bytes]:
        return self.address, self.encode("renewKyc", account, kyc_expiry)

    def call_suspend(self, account: str, reason: str) -> tuple[str, bytes]:
        return self.address, self.encode("suspend", account, reason)

    def call_reinstate(self, account: str) -> tuple[str, bytes]:
        return self.address, self.encode("reinstate", account)

    def call_set_sanctioned(self, account: str, sanctioned: bool, reason: str) -> tuple[str, bytes]:
        return self.address, self.encode("setSanctioned", account, sanctioned, reason)

    def call_set_network_contract(self, account: str, kind: ContractKind) -> tuple[str, bytes]:
        return self.address, self.encode("setNetworkContract", account, int(kind))

    def call_set_threshold(self, threshold: int) -> tuple[str, bytes]:
        return self.address, self.encode("setApprovalThreshold", threshold)

    # -- reads
    def member(self, account: str) -> Member:
        m = self._call("member", account)
        return Member(account, m.exists, m.suspended, m.sanctioned, Role(m.roles), m.kycExpiry,
                      _text(m.country), _text(m.lei))

    def is_active(self, account: str, roles: Role | int = 0) -> bool:
        return self._call("isActive", account, int(roles))

    def is_system_contract(self, account: str) -> bool:
        return self._call("isSystemContract", account)

    def transaction_allowed(self, sender: str, target: str, value: int = 0, payload: bytes = b"") -> bool:
        return self._call("transactionAllowed", sender, target, value, 0, 30_000_000, payload)

    def active_admin_count(self) -> int:
        return self._call("activeAdminCount")


class SettlementToken(ContractClient):
    contract_name = "SettlementToken"

    def mint(self, to: str, amount: int, deposit_ref: bytes) -> dict[str, Any]:
        return self._tx("mint", to, amount, deposit_ref)

    def burn(self, amount: int, redemption_ref: bytes) -> dict[str, Any]:
        return self._tx("burn", amount, redemption_ref)

    def transfer(self, to: str, amount: int) -> dict[str, Any]:
        return self._tx("transfer", to, amount)

    def submit_transfer(self, to: str, amount: int, gas: int | None = None) -> PendingTx:
        return self._submit("transfer", to, amount, gas=gas)

    def approve(self, spender: str, amount: int) -> dict[str, Any]:
        return self._tx("approve", spender, amount)

    def transfer_from(self, owner: str, to: str, amount: int) -> dict[str, Any]:
        return self._tx("transferFrom", owner, to, amount)

    def balance_of(self, account: str) -> int:
        return self._call("balanceOf", account)

    def total_supply(self) -> int:
        return self._call("totalSupply")

    def currency(self) -> str:
        return _text(self._call("currencyCode"))

    def decimals(self) -> int:
        return self._call("decimals")


@dataclass(frozen=True)
class InvoiceTerms:
    buyer: str
    invoice_number: str
    face_value: int
    currency: str
    issue_date: int
    due_date: int
    document_hash: bytes
    document_cid: str

    def as_tuple(self) -> tuple:
        return (self.buyer, self.invoice_number, self.face_value, b3(self.currency), self.issue_date,
                self.due_date, self.document_hash, self.document_cid)


class InvoiceToken(ContractClient):
    contract_name = "InvoiceToken"

    def mint(self, terms: InvoiceTerms) -> int:
        receipt = self._tx("mint", terms.as_tuple())
        return self.events(receipt, "InvoiceIssued")[0]["id"]

    def confirm(self, invoice_id: int) -> dict[str, Any]:
        return self._tx("confirm", invoice_id)

    def dispute(self, invoice_id: int, reason: str) -> dict[str, Any]:
        return self._tx("dispute", invoice_id, reason)

    def cancel(self, invoice_id: int, reason: str) -> dict[str, Any]:
        return self._tx("cancel", invoice_id, reason)

    def mark_financed(self, invoice_id: int) -> dict[str, Any]:
        return self._tx("markFinanced", invoice_id)

    def mark_paid(self, invoice_id: int) -> dict[str, Any]:
        return self._tx("markPaid", invoice_id)

    def mark_defaulted(self, invoice_id: int) -> dict[str, Any]:
        return self._tx("markDefaulted", invoice_id)

    def split(self, invoice_id: int, face_values: Iterable[int]) -> list[int]:
        receipt = self._tx("split", invoice_id, list(face_values))
        return list(self.events(receipt, "InvoiceSplit")[0]["childIds"])

    def transfer(self, to: str, invoice_id: int) -> dict[str, Any]:
        assert self.account is not None
        return self._tx("transferFrom", self.account.address, to, invoice_id)

    def owner_of(self, invoice_id: int) -> str:
        return self._call("ownerOf", invoice_id)

    def invoice(self, invoice_id: int) -> Invoice:
        v = self._call("invoice", invoice_id)
        holder = self._holder(invoice_id)  # None for burned (split) invoices
        return Invoice(invoice_id, v.seller, v.buyer, holder, v.issueDate, v.dueDate, InvoiceState(v.state),
                       _text(v.currency), v.faceValue, bytes(v.fingerprint), bytes(v.documentHash), v.parentId,
                       v.invoiceNumber, v.documentCid)

    def fingerprint(self, seller_lei: str, buyer_lei: str, number: str, face_value: int, currency: str,
                    issue_date: int) -> bytes:
        return bytes(self._call("fingerprint", lei_bytes(seller_lei), lei_bytes(buyer_lei), number, face_value,
                                b3(currency), issue_date))


@dataclass(frozen=True)
class ReceiptTerms:
    depositor: str
    commodity: str
    quantity: int
    unit: str
    grade: str
    location: str
    insured_value: int
    currency: str
    expiry: int
    document_hash: bytes
    document_cid: str

    def as_tuple(self) -> tuple:
        return (self.depositor, self.commodity, self.quantity, self.unit, self.grade, b3(self.location),
                self.insured_value, b3(self.currency), self.expiry, self.document_hash, self.document_cid)


class WarehouseReceipt(ContractClient):
    contract_name = "WarehouseReceipt"

    def issue(self, terms: ReceiptTerms) -> int:
        receipt = self._tx("issue", terms.as_tuple())
        return self.events(receipt, "ReceiptIssued")[0]["id"]

    def pledge(self, receipt_id: int, pledgee: str) -> dict[str, Any]:
        return self._tx("pledge", receipt_id, pledgee)

    def release_pledge(self, receipt_id: int) -> dict[str, Any]:
        return self._tx("releasePledge", receipt_id)

    def enforce_pledge(self, receipt_id: int) -> dict[str, Any]:
        return self._tx("enforcePledge", receipt_id)

    def request_redemption(self, receipt_id: int) -> dict[str, Any]:
        return self._tx("requestRedemption", receipt_id)

    def redeem(self, receipt_id: int) -> dict[str, Any]:
        return self._tx("redeem", receipt_id)

    def transfer(self, to: str, receipt_id: int) -> dict[str, Any]:
        assert self.account is not None
        return self._tx("transferFrom", self.account.address, to, receipt_id)

    def owner_of(self, receipt_id: int) -> str:
        return self._call("ownerOf", receipt_id)

    def receipt(self, receipt_id: int) -> Receipt:
        v = self._call("receipt", receipt_id)
        holder = self._holder(receipt_id)  # None for redeemed (burned) receipts
        return Receipt(receipt_id, v.warehouse, holder, None if v.pledgee == ZERO_ADDRESS else v.pledgee,
                       v.issuedAt, v.expiry, v.redemptionRequested, _text(v.location), _text(v.currency),
                       v.quantity, v.insuredValue, bytes(v.documentHash), v.commodity, v.unit, v.grade,
                       v.documentCid)
