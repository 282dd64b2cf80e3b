"""The tradenet indexer for one deployment: which contracts to follow and which projections.

Every contract of the `Deployment` that emits events is followed under its artifact name
(settlement tokens as ``SettlementToken:<currency>``); the deal lens emits none. Settlement
tokens the currency factory creates later are followed from their creation on
(``CurrencyTokenCreated``, a :class:`~chain.indexer.engine.ContractFactory`), so a new currency
needs no configuration change and no restart; so are the tranche tokens of each ABS pool
(``PoolCreated``; ``TrancheToken:<pool>:senior|junior``).
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy.engine import Engine
from web3 import Web3

from ..compiler import Artifact
from ..deployment import Deployment
from .engine import ContractFactory, ContractSpec, Indexer
from .projections.erc20 import Erc20Projection
from .projections.tradenet import TradenetProjection
from .projections.values import code

SETTLEMENT_TOKEN = "SettlementToken"
TRANCHE_TOKEN = "TrancheToken"


def settlement_token_name(currency: str) -> str:
    return f"{SETTLEMENT_TOKEN}:{currency}"


def is_settlement_token(contract_name: str) -> bool:
    return contract_name.startswith(SETTLEMENT_TOKEN + ":")


def _deployment_contracts(d: Deployment) -> list[tuple[str, str]]:
    """(artifact name, address) of every event-emitting contract of the deployment (an empty
    address: a deployment made before that contract existed)."""
    named = [
        ("ParticipantRegistry", d.registry), ("CurrencyFactory", d.currency_factory),
        ("PurchaseOrder", d.purchase_orders), ("InvoiceToken", d.invoice_token),
        ("WarehouseReceipt", d.warehouse_receipt), ("LogisticsOracle", d.logistics_oracle),
        ("FxRateStore", d.fx_rate_store), ("RiskRules", d.risk_rules), ("DealEngine", d.deal_engine),
        ("ReceivableFinancing", d.receivable_financing), ("OrderFinancing", d.order_financing),
        ("ReceiptPledgeFinancing", d.receipt_pledge_financing), ("DocumentaryCredit", d.documentary_credit),
        ("InvoiceSettlement", d.invoice_settlement), ("AbsPools", d.abs_pools),
    ]
    return [(name, addr) for name, addr in named if addr]


def contract_specs(deployment: Deployment, artifacts: Mapping[str, Artifact]) -> list[ContractSpec]:
    specs = [ContractSpec(name, addr, artifacts[name].abi) for name, addr in _deployment_contracts(deployment)]
    token_abi = artifacts[SETTLEMENT_TOKEN].abi
    for currency, addr in sorted(deployment.settlement_tokens.items()):
        specs.append(ContractSpec(settlement_token_name(currency), addr, token_abi))
    return specs


def currency_factory(artifacts: Mapping[str, Artifact]) -> ContractFactory:
    """Follow each settlement token the currency factory creates."""
    token_abi = artifacts[SETTLEMENT_TOKEN].abi

    def spec(args: Mapping[str, Any]) -> ContractSpec:
        return ContractSpec(settlement_token_name(code(args["currency"])), args["token"], token_abi)

    return ContractFactory("CurrencyFactory", "CurrencyTokenCreated", spec)


def tranche_name(pool_id: int, seniority: str) -> str:
    return f"{TRANCHE_TOKEN}:{pool_id}:{seniority}"


def tranche_factory(artifacts: Mapping[str, Artifact]) -> ContractFactory:
    """Follow the two tranche tokens (senior, junior) each ABS pool creates."""
    abi = artifacts[TRANCHE_TOKEN].abi

    def specs(args: Mapping[str, Any]) -> list[ContractSpec]:
        return [ContractSpec(tranche_name(args["poolId"], "senior"), args["senior"], abi),
                ContractSpec(tranche_name(args["poolId"], "junior"), args["junior"], abi)]

    return ContractFactory("AbsPools", "PoolCreated", specs)


def network_currency(w3: Web3, deployment: Deployment, artifacts: Mapping[str, Artifact]) -> str | None:
    """The risk rules' network currency (immutable: read once, at start)."""
    if not deployment.risk_rules:
        return None
    rules = w3.eth.contract(address=Web3.to_checksum_address(deployment.risk_rules), abi=artifacts["RiskRules"].abi)
    return code(rules.functions.networkCurrency().call())


def build_indexer(w3: Web3, db: str | Engine, deployment: Deployment, artifacts: Mapping[str, Artifact],
                  confirmations: int = 0, **kwargs: Any) -> Indexer:
    """An Indexer following every contract of `deployment` (and the currencies created later)
    with the tradenet projections. Reads the risk rules' network currency from the chain."""
    return Indexer(
        w3, db, contract_specs(deployment, artifacts), start_block=deployment.deploy_block,
        confirmations=confirmations,
        projections=[TradenetProjection(network_currency(w3, deployment, artifacts)),
                     Erc20Projection(match=is_settlement_token)],
        factories=[currency_factory(artifacts), tranche_factory(artifacts)],
        **kwargs,
    )
