"""Typed clients of the tradenet contracts, one module per contract family.

Reads return dataclasses; writes sign with the bound key and raise the Solidity custom error as a
Python exception (``chain.errors``). Business rules live in the contracts: clients only encode,
send and decode. ``Deployment.clients(chain, account)`` binds all of them to one key.
"""

from ._base import ContractClient
from ._codec import ZERO_ADDRESS, b3, lei_bytes
from .deals import (
    ADVANCE,
    ANY_LOCATION,
    Credit,
    CreditTerms,
    Deal,
    DealEngine,
    DealLens,
    DealTerms,
    DocumentaryCredit,
    InvoiceSettlement,
    Milestone,
    MilestoneState,
    OrderFinancing,
    ProductConfig,
    ReceiptPledgeFinancing,
    ReceivableFinancing,
    RequiredDocument,
)
from .oracle import FxRate, FxRateStore, LogisticsOracle, Notify, ShipmentEvent, shipment_id
from .pools import AbsPools, Asset, AssetFacts, AssetStatus, Pool, PoolLens, PoolParams, PoolState, TrancheToken
from .registry import Member, MemberInput, ParticipantRegistry
from .risk import LenderBook, PairExposure, PartyRisk, RiskRules
from .tokens import (
    NO_SHIPMENT,
    CurrencyFactory,
    Invoice,
    InvoiceTerms,
    InvoiceToken,
    Order,
    OrderTerms,
    PurchaseOrder,
    Receipt,
    ReceiptTerms,
    Redemption,
    SettlementToken,
    WarehouseReceipt,
)
from .validators import Validator, ValidatorSet

__all__ = [
    "ContractClient", "ZERO_ADDRESS", "b3", "lei_bytes",
    "ADVANCE", "ANY_LOCATION", "Credit", "CreditTerms", "Deal", "DealEngine", "DealLens", "DealTerms",
    "DocumentaryCredit", "InvoiceSettlement", "Milestone", "MilestoneState", "OrderFinancing", "ProductConfig",
    "ReceiptPledgeFinancing", "ReceivableFinancing", "RequiredDocument",
    "FxRate", "FxRateStore", "LogisticsOracle", "Notify", "ShipmentEvent", "shipment_id",
    "AbsPools", "Asset", "AssetFacts", "AssetStatus", "Pool", "PoolLens", "PoolParams", "PoolState", "TrancheToken",
    "Member", "MemberInput", "ParticipantRegistry",
    "LenderBook", "PairExposure", "PartyRisk", "RiskRules",
    "NO_SHIPMENT", "CurrencyFactory", "Invoice", "InvoiceTerms", "InvoiceToken", "Order", "OrderTerms",
    "PurchaseOrder", "Receipt", "ReceiptTerms", "Redemption", "SettlementToken", "WarehouseReceipt",
    "Validator", "ValidatorSet",
]
