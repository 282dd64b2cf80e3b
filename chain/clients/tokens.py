"""The asset contracts: `SettlementToken` (tokenised deposits), `InvoiceToken`, `PurchaseOrder`,
`WarehouseReceipt`, and the `CurrencyFactory` governance uses to add a currency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..tx import PendingTx
from ..vocabulary import InvoiceState, OrderState, RedemptionState
from ._base import ContractClient
from ._codec import ZERO_ADDRESS, b3, text

NO_SHIPMENT = bytes(32)


def _opt_address(a: str) -> str | None:
    return None if int(a, 16) == 0 else a


@dataclass(frozen=True)
class Redemption:
    id: int
    holder: str
    amount: int
    state: RedemptionState
    payout_ref: bytes


class SettlementToken(ContractClient):
    contract_name = "SettlementToken"

    def mint(self, to: str, amount: int, deposit_ref: bytes) -> dict[str, Any]:
        return self._tx("mint", to, amount, deposit_ref)

    def burn(self, amount: int, redemption_ref: bytes) -> dict[str, Any]:
        return self._tx("burn", amount, redemption_ref)

    def transfer(self, to: str, amount: int) -> dict[str, Any]:
        return self._tx("transfer", to, amount)

    def transfer_with_reference(self, to: str, amount: int, payment_ref: bytes) -> dict[str, Any]:
        """A T/T: a transfer tagged with a payment reference."""
        return self._tx("transferWithReference", to, amount, payment_ref)

    def submit_transfer(self, to: str, amount: int, gas: int | None = None) -> PendingTx:
        return self.submit("transfer", to, amount, gas=gas)

    def approve(self, spender: str, amount: int) -> dict[str, Any]:
        return self._tx("approve", spender, amount)

    def transfer_from(self, owner: str, to: str, amount: int) -> dict[str, Any]:
        return self._tx("transferFrom", owner, to, amount)

    def request_redemption(self, amount: int, payout_ref: bytes) -> int:
        """Asks TREASURY for fiat; returns the request id."""
        receipt = self._tx("requestRedemption", amount, payout_ref)
        return self._logged_uint(receipt, "RedemptionRequested", "id")

    def complete_redemption(self, redemption_id: int, bank_ref: bytes) -> dict[str, Any]:
        return self._tx("completeRedemption", redemption_id, bank_ref)

    def reject_redemption(self, redemption_id: int, reason: str) -> dict[str, Any]:
        return self._tx("rejectRedemption", redemption_id, reason)

    def redemption(self, redemption_id: int) -> Redemption:
        r = self._call("redemption", redemption_id)
        return Redemption(redemption_id, r.holder, r.amount, RedemptionState(r.state), bytes(r.payoutRef))

    def balance_of(self, account: str) -> int:
        return self._call("balanceOf", account)

    def allowance(self, owner: str, spender: str) -> int:
        return self._call("allowance", owner, spender)

    def total_supply(self) -> int:
        return self._call("totalSupply")

    def currency(self) -> str:
        return text(self._call("currencyCode"))

    def decimals(self) -> int:
        return self._call("decimals")


@dataclass(frozen=True)
class InvoiceTerms:
    """``InvoiceToken.InvoiceInput``: what the seller supplies at minting."""

    buyer: str
    invoice_number: str
    face_value: int
    currency: str
    issue_date: int
    due_date: int
    document_hash: bytes
    document_cid: str
    shipment_id: bytes = NO_SHIPMENT  # keccak256 of the B/L number, or zero
    order_id: int = 0  # the purchase order it is issued against, or zero

    def as_tuple(self) -> tuple:
        return (self.buyer, self.invoice_number, self.face_value, b3(self.currency), self.issue_date,
                self.due_date, self.document_hash, self.document_cid, self.shipment_id, self.order_id)


@dataclass(frozen=True)
class Invoice:
    """An invoice as stored on chain (the number, issue date, seller and document CID are in the
    ``InvoiceIssued`` event, kept by the read model)."""

    id: int
    holder: str | None  # None once burned (a split parent)
    buyer: str
    due_date: int
    state: InvoiceState
    currency: str
    face_value: int
    parent_id: int
    root_id: int
    shipment_id: bytes | None
    order_id: int

    @property
    def fingerprint(self) -> bytes:
        """The network-wide uniqueness key: the token id itself."""
        return self.id.to_bytes(32, "big")


class InvoiceToken(ContractClient):
    contract_name = "InvoiceToken"

    def mint(self, terms: InvoiceTerms) -> int:
        """Returns the new invoice's id (its fingerprint)."""
        receipt = self._tx("mint", terms.as_tuple())
        return self._logged_uint(receipt, "InvoiceIssued", "id")

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

    def bind_shipment(self, invoice_id: int, shipment: bytes) -> dict[str, Any]:
        return self._tx("bindShipment", invoice_id, shipment)

    def split(self, invoice_id: int, face_values: Iterable[int]) -> list[int]:
        receipt = self._tx("split", invoice_id, list(face_values))
        return list(self.events(receipt, "InvoiceSplit")[0]["childIds"])

    def approve(self, operator: str, invoice_id: int) -> dict[str, Any]:
        """ERC-721 approval of one invoice (a financing product takes it at acceptance)."""
        return self._tx("approve", operator, invoice_id)

    def transfer(self, to: str, invoice_id: int) -> dict[str, Any]:
        assert self.account is not None
        return self._tx("transferFrom", self.account.address, to, invoice_id)

    def call_set_settlement(self, settlement: str) -> tuple[str, bytes]:
        return self.address, self.encode("setSettlement", settlement)

    def owner_of(self, invoice_id: int) -> str:
        return self._call("ownerOf", invoice_id)

    def invoice(self, invoice_id: int) -> Invoice:
        v = self._call("invoice", invoice_id)
        shipment = bytes(v.shipmentId)
        return Invoice(invoice_id, _opt_address(v.holder), v.buyer, v.dueDate, InvoiceState(v.state),
                       text(v.currency), v.faceValue, v.parentId, v.rootId,
                       None if shipment == NO_SHIPMENT else shipment, v.orderId)

    def state_of(self, invoice_id: int) -> InvoiceState:
        return InvoiceState(self._call("stateOf", invoice_id))

    def parts_of(self, root_id: int) -> list[int]:
        return list(self._call("partsOf", root_id))

    def invoice_by_document(self, document_hash: bytes) -> int:
        return self._call("invoiceByDocument", document_hash)

    def invoice_by_order(self, order_id: int) -> int:
        return self._call("invoiceByOrder", order_id)

    def canonical_number(self, invoice_number: str) -> bytes:
        return bytes(self._call("canonicalNumber", invoice_number))

    def fingerprint(self, seller_lei: bytes, buyer_lei: bytes, canonical_number: bytes, face_value: int,
                    currency: str, issue_date: int) -> bytes:
        return bytes(self._call("fingerprint", seller_lei, buyer_lei, canonical_number, face_value, b3(currency),
                                issue_date))


@dataclass(frozen=True)
class OrderTerms:
    """``PurchaseOrder.OrderInput``: what the buyer supplies when it issues (and confirms) an order."""

    supplier: str
    order_number: str
    goods: str
    quantity: int
    unit: str
    amount: int
    currency: str
    delivery_date: int
    document_hash: bytes
    document_cid: str
    shipment_id: bytes = NO_SHIPMENT

    def as_tuple(self) -> tuple:
        return (self.supplier, self.order_number, self.goods, self.quantity, self.unit, self.amount,
                b3(self.currency), self.delivery_date, self.shipment_id, self.document_hash, self.document_cid)


@dataclass(frozen=True)
class Order:
    id: int
    holder: str | None
    buyer: str
    supplier: str
    state: OrderState
    currency: str
    delivery_date: int
    amount: int
    shipment_id: bytes | None
    document_hash: bytes


class PurchaseOrder(ContractClient):
    contract_name = "PurchaseOrder"

    def issue(self, terms: OrderTerms) -> int:
        receipt = self._tx("issue", terms.as_tuple())
        return self._logged_uint(receipt, "OrderIssued", "id")

    def cancel(self, order_id: int, reason: str) -> dict[str, Any]:
        return self._tx("cancel", order_id, reason)

    def approve(self, operator: str, order_id: int) -> dict[str, Any]:
        return self._tx("approve", operator, order_id)

    def order(self, order_id: int) -> Order:
        v = self._call("order", order_id)
        shipment = bytes(v.shipmentId)
        return Order(order_id, self._holder(order_id), v.buyer, v.supplier, OrderState(v.state), text(v.currency),
                     v.deliveryDate, v.amount, None if shipment == NO_SHIPMENT else shipment, bytes(v.documentHash))

    def owner_of(self, order_id: int) -> str:
        return self._call("ownerOf", order_id)

    def invoices(self) -> str:
        """The invoice token linked by governance (the zero address until linked)."""
        return self._call("invoices")

    def call_set_invoices(self, invoices: str) -> tuple[str, bytes]:
        return self.address, self.encode("setInvoices", invoices)


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
    pledge_enforceable_after: int  # direct pledges: maturity + grace; pledges to a deal: 0
    quantity: int
    insured_value: int
    document_hash: bytes
    commodity: str
    unit: str
    grade: str
    document_cid: str


class WarehouseReceipt(ContractClient):
    contract_name = "WarehouseReceipt"

    def issue(self, terms: ReceiptTerms) -> int:
        receipt = self._tx("issue", terms.as_tuple())
        return self._logged_uint(receipt, "ReceiptIssued", "id")

    def pledge(self, receipt_id: int, lender: str, maturity: int, grace_period: int) -> dict[str, Any]:
        """A direct pledge to a lender, enforceable only after maturity + grace."""
        return self._tx("pledge", receipt_id, lender, maturity, grace_period)

    def pledge_to_escrow(self, receipt_id: int) -> dict[str, Any]:
        """Called by a registered escrow itself (tests impersonating one)."""
        return self._tx("pledgeToEscrow", receipt_id)

    def release_pledge(self, receipt_id: int) -> dict[str, Any]:
        return self._tx("releasePledge", receipt_id)

    def enforce_pledge(self, receipt_id: int, to: str) -> dict[str, Any]:
        return self._tx("enforcePledge", receipt_id, to)

    def request_redemption(self, receipt_id: int) -> dict[str, Any]:
        return self._tx("requestRedemption", receipt_id)

    def redeem(self, receipt_id: int) -> dict[str, Any]:
        return self._tx("redeem", receipt_id)

    def approve(self, operator: str, receipt_id: int) -> dict[str, Any]:
        return self._tx("approve", operator, receipt_id)

    def transfer(self, to: str, receipt_id: int) -> dict[str, Any]:
        assert self.account is not None
        return self._tx("transferFrom", self.account.address, to, receipt_id)

    def owner_of(self, receipt_id: int) -> str:
        return self._call("ownerOf", receipt_id)

    def is_pledged(self, receipt_id: int) -> bool:
        return self._call("isPledged", receipt_id)

    def receipt(self, receipt_id: int) -> Receipt:
        v = self._call("receipt", receipt_id)
        holder = self._holder(receipt_id)  # None for redeemed (burned) receipts
        return Receipt(receipt_id, v.warehouse, holder, None if v.pledgee == ZERO_ADDRESS else v.pledgee,
                       v.issuedAt, v.expiry, v.redemptionRequested, text(v.location), text(v.currency),
                       v.pledgeEnforceableAfter, v.quantity, v.insuredValue, bytes(v.documentHash), v.commodity,
                       v.unit, v.grade, v.documentCid)


class CurrencyFactory(ContractClient):
    """Deploys a new currency's settlement token on a governance decision (CREATE2, salt = code)."""

    contract_name = "CurrencyFactory"

    def predict(self, name: str, currency: str, decimals: int) -> str:
        return self._call("predict", name, b3(currency), decimals)

    def call_create(self, name: str, currency: str, decimals: int) -> tuple[str, bytes]:
        return self.address, self.encode("create", name, b3(currency), decimals)
