"""A deployment of the tradenet contracts on one network (``deployments/<network>.json``), and
every client of it bound to one key."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from eth_account.signers.local import LocalAccount

from .client import Chain
from .clients import (
    AbsPools,
    CurrencyFactory,
    DealEngine,
    DealLens,
    DocumentaryCredit,
    FxRateStore,
    InvoiceSettlement,
    InvoiceToken,
    LogisticsOracle,
    OrderFinancing,
    ParticipantRegistry,
    PoolLens,
    PurchaseOrder,
    ReceiptPledgeFinancing,
    ReceivableFinancing,
    RiskRules,
    SettlementToken,
    ValidatorSet,
    WarehouseReceipt,
)
from .vocabulary import Product
from .fsutil import atomic_write
from .settings import settings


@dataclass
class Deployment:
    network: str
    chain_id: int
    deploy_block: int
    deployer: str
    registry: str
    invoice_token: str
    warehouse_receipt: str
    settlement_tokens: dict[str, str]
    code_hashes: dict[str, str] = field(default_factory=dict)
    deployed_at: int = 0
    logistics_oracle: str = ""
    fx_rate_store: str = ""
    purchase_orders: str = ""
    risk_rules: str = ""
    deal_engine: str = ""  # registered as a tradenet ESCROW: holds every deal's funds
    deal_lens: str = ""
    # product modules of the engine (each a registered ESCROW holding its collateral)
    receivable_financing: str = ""
    order_financing: str = ""
    receipt_pledge_financing: str = ""
    documentary_credit: str = ""
    invoice_settlement: str = ""  # ESCROW: direct (T/T) payments of invoices
    currency_factory: str = ""
    abs_pools: str = ""  # ESCROW: ABS pools (lender side of pooled deals)
    pool_lens: str = ""  # batched chain facts behind pool assets (verification)
    validator_set: str = ""  # the sealer set on a proof-of-authority network (deploy_validator_set)

    @property
    def product_modules(self) -> dict[Product, str]:
        """The engine's product modules by product."""
        return {Product.RECEIVABLE: self.receivable_financing, Product.ORDER: self.order_financing,
                Product.RECEIPT_PLEDGE: self.receipt_pledge_financing, Product.DOCUMENTARY: self.documentary_credit}

    def product_of(self, module: str) -> Product:
        """The product a module address runs (KeyError if it is none of this deployment's)."""
        by_address = {a.lower(): p for p, a in self.product_modules.items()}
        return by_address[module.lower()]

    def path(self, directory: Path | None = None) -> Path:
        return Path(directory or settings.deployments_dir) / f"{self.network}.json"

    def save(self, directory: Path | None = None) -> Path:
        path = self.path(directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", mode=0o644)

    @classmethod
    def load(cls, network: str, directory: Path | None = None) -> "Deployment":
        return cls.from_file(Path(directory or settings.deployments_dir) / f"{network}.json")

    @classmethod
    def from_file(cls, path: Path | str) -> "Deployment":
        return cls(**json.loads(Path(path).read_text()))

    @property
    def currency_by_token(self) -> dict[str, str]:
        """ISO currency code of each settlement-token address."""
        return {addr: code for code, addr in self.settlement_tokens.items()}

    def clients(self, chain: Chain, account: LocalAccount | None = None) -> "Clients":
        """Every contract of this deployment, signing with `account` (read-only without one)."""
        return Clients(self, chain, account)


class Clients:
    """The typed clients of one deployment bound to one key; each is built on first use."""

    def __init__(self, deployment: Deployment, chain: Chain, account: LocalAccount | None = None):
        self.deployment = deployment
        self.chain = chain
        self.account = account

    @cached_property
    def registry(self) -> ParticipantRegistry:
        return ParticipantRegistry(self.chain, self.deployment.registry, self.account)

    @cached_property
    def invoices(self) -> InvoiceToken:
        return InvoiceToken(self.chain, self.deployment.invoice_token, self.account)

    @cached_property
    def receipts(self) -> WarehouseReceipt:
        return WarehouseReceipt(self.chain, self.deployment.warehouse_receipt, self.account)

    @cached_property
    def oracle(self) -> LogisticsOracle:
        return LogisticsOracle(self.chain, self.deployment.logistics_oracle, self.account)

    @cached_property
    def fx(self) -> FxRateStore:
        return FxRateStore(self.chain, self.deployment.fx_rate_store, self.account)

    @cached_property
    def orders(self) -> PurchaseOrder:
        return PurchaseOrder(self.chain, self.deployment.purchase_orders, self.account)

    @cached_property
    def deals(self) -> DealEngine:
        return DealEngine(self.chain, self.deployment.deal_engine, self.account)

    @cached_property
    def lens(self) -> DealLens:
        return DealLens(self.chain, self.deployment.deal_lens, self.account)

    @cached_property
    def risk(self) -> RiskRules:
        return RiskRules(self.chain, self.deployment.risk_rules, self.account)

    @cached_property
    def receivables(self) -> ReceivableFinancing:
        return ReceivableFinancing(self.chain, self.deployment.receivable_financing, self.account)

    @cached_property
    def order_financing(self) -> OrderFinancing:
        return OrderFinancing(self.chain, self.deployment.order_financing, self.account)

    @cached_property
    def pledges(self) -> ReceiptPledgeFinancing:
        return ReceiptPledgeFinancing(self.chain, self.deployment.receipt_pledge_financing, self.account)

    @cached_property
    def credits(self) -> DocumentaryCredit:
        return DocumentaryCredit(self.chain, self.deployment.documentary_credit, self.account)

    @cached_property
    def settlement(self) -> InvoiceSettlement:
        return InvoiceSettlement(self.chain, self.deployment.invoice_settlement, self.account)

    @cached_property
    def pools(self) -> AbsPools:
        return AbsPools(self.chain, self.deployment.abs_pools, self.account)

    @cached_property
    def validators(self) -> ValidatorSet:
        if not self.deployment.validator_set:
            raise KeyError(f"network {self.deployment.network!r} has no validator set (deploy_validator_set)")
        return ValidatorSet(self.chain, self.deployment.validator_set, self.account)

    @cached_property
    def pool_lens(self) -> PoolLens:
        return PoolLens(self.chain, self.deployment.pool_lens, self.account)

    @cached_property
    def currency_factory(self) -> CurrencyFactory:
        return CurrencyFactory(self.chain, self.deployment.currency_factory, self.account)

    def token(self, currency: str) -> SettlementToken:
        """The settlement token of an ISO currency (KeyError if the network has none)."""
        return SettlementToken(self.chain, self.deployment.settlement_tokens[currency], self.account)

    def token_at(self, address: str) -> SettlementToken:
        """The settlement token at `address` (KeyError if it is not one of this deployment's)."""
        return self.token(self.deployment.currency_by_token[address])
