"""Deploy the tradenet contracts to a named network and record them in deployments/<network>.json."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from eth_account.signers.local import LocalAccount

from .client import Chain
from .contracts import (
    ContractKind,
    InvoiceToken,
    ParticipantRegistry,
    Role,
    SettlementToken,
    WarehouseReceipt,
    b3,
    lei_bytes,
)
from .deal_client import ReceivableFinancing
from .oracle_client import FxRateStore, LogisticsOracle
from .settings import settings

log = logging.getLogger(__name__)

#: Oldest shipment event the logistics oracle accepts (carriers and operators may report late).
LOGISTICS_STALENESS_WINDOW = 3 * 86_400
#: Oldest FX observation the rate store accepts.
FX_STALENESS_WINDOW = 3_600

DEFAULT_CURRENCIES: tuple[tuple[str, str, int], ...] = (
    ("USD", "tradenet US Dollar deposit", 2),
    ("EUR", "tradenet Euro deposit", 2),
    ("CNY", "tradenet Renminbi deposit", 2),
)


@dataclass(frozen=True)
class Founder:
    account: str
    roles: Role
    lei: str
    country: str
    kyc_expiry: int

    def as_tuple(self) -> tuple:
        return (self.account, int(self.roles), lei_bytes(self.lei), b3(self.country), self.kyc_expiry)


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
    receivable_financing: str = ""  # registered as a tradenet ESCROW

    def path(self, directory: Path | None = None) -> Path:
        return Path(directory or settings.deployments_dir) / f"{self.network}.json"

    def save(self, directory: Path | None = None) -> Path:
        path = self.path(directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, network: str, directory: Path | None = None) -> "Deployment":
        path = Path(directory or settings.deployments_dir) / f"{network}.json"
        return cls(**json.loads(path.read_text()))

    # typed clients
    def registry_client(self, chain: Chain, account: LocalAccount | None = None) -> ParticipantRegistry:
        return ParticipantRegistry(chain, self.registry, account)

    def invoices(self, chain: Chain, account: LocalAccount | None = None) -> InvoiceToken:
        return InvoiceToken(chain, self.invoice_token, account)

    def receipts(self, chain: Chain, account: LocalAccount | None = None) -> WarehouseReceipt:
        return WarehouseReceipt(chain, self.warehouse_receipt, account)

    @property
    def currency_by_token(self) -> dict[str, str]:
        """ISO currency code of each settlement-token address."""
        return {addr: code for code, addr in self.settlement_tokens.items()}

    def token(self, chain: Chain, currency: str, account: LocalAccount | None = None) -> SettlementToken:
        return SettlementToken(chain, self.settlement_tokens[currency], account)

    def oracle(self, chain: Chain, account: LocalAccount | None = None) -> LogisticsOracle:
        return LogisticsOracle(chain, self.logistics_oracle, account)

    def fx_rates(self, chain: Chain, account: LocalAccount | None = None) -> FxRateStore:
        return FxRateStore(chain, self.fx_rate_store, account)

    def financing(self, chain: Chain, account: LocalAccount | None = None) -> ReceivableFinancing:
        return ReceivableFinancing(chain, self.receivable_financing, account)


def deploy(
    chain: Chain,
    network: str,
    admins: Sequence[LocalAccount],
    founders: Sequence[Founder],
    threshold: int,
    currencies: Sequence[tuple[str, str, int]] = DEFAULT_CURRENCIES,
    logistics_staleness: int = LOGISTICS_STALENESS_WINDOW,
    fx_staleness: int = FX_STALENESS_WINDOW,
) -> Deployment:
    """Deploy registry, settlement tokens, invoice and receipt tokens, the logistics oracle, the
    FX rate store and the receivable-financing escrow; register the token contracts (ASSET) and
    the escrow (ESCROW) with the registry through an M-of-N proposal signed by `admins`.

    The oracles start without operators: once the ORACLE members are admitted, set them with
    `configure_oracle_quorum` (another governance proposal).

    `admins[0]` deploys (on Besu only an active ADMIN may create contracts)."""
    deployer = admins[0]
    start_block = chain.w3.eth.block_number + 1
    registry_addr, _ = chain.deploy("ParticipantRegistry", deployer, [f.as_tuple() for f in founders], threshold)
    log.info("ParticipantRegistry at %s", registry_addr)
    tokens: dict[str, str] = {}
    for code, name, decimals in currencies:
        addr, _ = chain.deploy("SettlementToken", deployer, registry_addr, name, b3(code), decimals)
        tokens[code] = addr
        log.info("SettlementToken %s at %s", code, addr)
    invoice_addr, _ = chain.deploy("InvoiceToken", deployer, registry_addr)
    receipt_addr, _ = chain.deploy("WarehouseReceipt", deployer, registry_addr)
    oracle_addr, _ = chain.deploy("LogisticsOracle", deployer, registry_addr, logistics_staleness)
    fx_addr, _ = chain.deploy("FxRateStore", deployer, registry_addr, fx_staleness)
    financing_addr, _ = chain.deploy("ReceivableFinancing", deployer, registry_addr, invoice_addr, oracle_addr)
    log.info("LogisticsOracle at %s, FxRateStore at %s, ReceivableFinancing at %s", oracle_addr, fx_addr,
             financing_addr)

    registry = ParticipantRegistry(chain, registry_addr)
    calls = [registry.call_set_network_contract(a, ContractKind.ASSET)
             for a in (*tokens.values(), invoice_addr, receipt_addr)]
    calls.append(registry.call_set_network_contract(financing_addr, ContractKind.ESCROW))
    registry.govern(admins, calls, "Register tradenet asset contracts and the receivable-financing escrow")

    deployment = Deployment(
        network=network,
        chain_id=chain.chain_id,
        deploy_block=start_block,
        deployer=deployer.address,
        registry=registry_addr,
        invoice_token=invoice_addr,
        warehouse_receipt=receipt_addr,
        settlement_tokens=tokens,
        code_hashes={n: chain.artifacts[n].code_hash for n in
                     ("ParticipantRegistry", "SettlementToken", "InvoiceToken", "WarehouseReceipt",
                      "LogisticsOracle", "FxRateStore", "ReceivableFinancing")},
        deployed_at=int(time.time()),
        logistics_oracle=oracle_addr,
        fx_rate_store=fx_addr,
        receivable_financing=financing_addr,
    )
    return deployment


def default_oracle_threshold(operators: int) -> int:
    """k for n operators: a strict majority (2 of 3, 3 of 5)."""
    return operators // 2 + 1


def configure_oracle_quorum(
    chain: Chain,
    deployment: Deployment,
    admins: Sequence[LocalAccount],
    operators: Sequence[str],
    threshold: int | None = None,
) -> int:
    """Set the operator set and k of the logistics oracle and the FX rate store in one M-of-N
    proposal. The operators must already be active ORACLE members. Returns the proposal id."""
    k = default_oracle_threshold(len(operators)) if threshold is None else threshold
    registry = deployment.registry_client(chain)
    calls = [deployment.oracle(chain).call_set_operators(operators, k),
             deployment.fx_rates(chain).call_set_operators(operators, k)]
    return registry.govern(admins, calls, f"Oracle quorum: {k} of {len(operators)} operators")
