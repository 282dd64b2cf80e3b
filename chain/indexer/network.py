"""The tradenet indexer for one deployment: which contracts to follow and which projections."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from web3 import Web3

from ..compiler import Artifact
from ..deploy import Deployment
from .engine import ContractSpec, Indexer
from .projections.deals import DealsProjection
from .projections.erc20 import Erc20Projection
from .projections.tradenet import TradenetProjection


def contract_specs(deployment: Deployment, artifacts: dict[str, Artifact]) -> list[ContractSpec]:
    specs = [
        ContractSpec("ParticipantRegistry", deployment.registry, artifacts["ParticipantRegistry"].abi),
        ContractSpec("InvoiceToken", deployment.invoice_token, artifacts["InvoiceToken"].abi),
        ContractSpec("WarehouseReceipt", deployment.warehouse_receipt, artifacts["WarehouseReceipt"].abi),
    ]
    for currency, addr in sorted(deployment.settlement_tokens.items()):
        specs.append(ContractSpec(f"SettlementToken:{currency}", addr, artifacts["SettlementToken"].abi))
    for name, addr in (("LogisticsOracle", deployment.logistics_oracle), ("FxRateStore", deployment.fx_rate_store),
                       ("ReceivableFinancing", deployment.receivable_financing)):
        if addr:  # deployments made before these contracts existed have none
            specs.append(ContractSpec(name, addr, artifacts[name].abi))
    return specs


def build_indexer(w3: Web3, db: str | Engine, deployment: Deployment, artifacts: dict[str, Artifact],
                  confirmations: int = 0, **kwargs: Any) -> Indexer:
    """An Indexer following every contract of `deployment` with the tradenet projections."""
    tokens = [f"SettlementToken:{c}" for c in deployment.settlement_tokens]
    return Indexer(
        w3, db, contract_specs(deployment, artifacts), start_block=deployment.deploy_block,
        confirmations=confirmations,
        projections=[TradenetProjection(), Erc20Projection(contracts=tokens),
                     DealsProjection(deployment.currency_by_token)],
        **kwargs,
    )
