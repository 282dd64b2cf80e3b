"""Deploy the tradenet contracts to a named network (recorded as a `Deployment`, see
``chain.deployment``) and configure the oracles' operator quorum."""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

from eth_account.signers.local import LocalAccount

from .client import Chain
from .clients import (CurrencyFactory, DealEngine, InvoiceToken, MemberInput, ParticipantRegistry, ProductConfig,
                      PurchaseOrder, RiskRules, b3)
from .deployment import Deployment
from .vocabulary import ContractKind, Product, Role

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


#: The currency of network-wide risk limits (the network obligor limit, the network review threshold).
NETWORK_CURRENCY = "USD"


def product_configs() -> dict[Product, ProductConfig]:
    """How the deal engine runs each product (who may borrow and lend, release gating)."""
    return {
        Product.RECEIVABLE: ProductConfig(Product.RECEIVABLE, borrower_roles=Role.SELLER, lender_roles=Role.LENDER),
        Product.ORDER: ProductConfig(Product.ORDER, borrower_roles=Role.SELLER, lender_roles=Role.LENDER),
        Product.RECEIPT_PLEDGE: ProductConfig(Product.RECEIPT_PLEDGE, borrower_roles=0, lender_roles=Role.LENDER),
        # the applicant's side (buyer or issuing bank) is checked by the product itself
        Product.DOCUMENTARY: ProductConfig(Product.DOCUMENTARY, gates_release=True, self_liquidating=True,
                                           borrower_roles=Role.SELLER, lender_roles=0),
    }


def deploy(
    chain: Chain,
    network: str,
    admins: Sequence[LocalAccount],
    founders: Sequence[MemberInput],
    threshold: int,
    currencies: Sequence[tuple[str, str, int]] = DEFAULT_CURRENCIES,
    logistics_staleness: int = LOGISTICS_STALENESS_WINDOW,
    fx_staleness: int = FX_STALENESS_WINDOW,
    network_currency: str = NETWORK_CURRENCY,
) -> Deployment:
    """Deploy the registry, the tokens, the oracles, the risk rules, the deal engine with its lens
    and product modules and the invoice settlement; then, through two M-of-N proposals signed by
    `admins`, create the settlement tokens of `currencies` with the currency factory and register
    every contract with the registry (assets and escrows), the products with the engine, the engine
    with the risk rules and the settlement with the invoice token.

    The oracles start without operators: once the ORACLE members are admitted, set them with
    `configure_oracle_quorum` (another governance proposal).

    `admins[0]` deploys (on Besu only an active ADMIN may create contracts)."""
    deployer = admins[0]
    start_block = chain.w3.eth.block_number + 1

    def dep(name: str, *args: Any) -> str:
        addr, _ = chain.deploy(name, deployer, *args)
        log.info("%s at %s", name, addr)
        return addr

    registry_addr = dep("ParticipantRegistry", [f.as_tuple() for f in founders], threshold)
    factory_addr = dep("CurrencyFactory", registry_addr)
    orders_addr = dep("PurchaseOrder", registry_addr)
    invoice_addr = dep("InvoiceToken", registry_addr, orders_addr)
    receipt_addr = dep("WarehouseReceipt", registry_addr)
    oracle_addr = dep("LogisticsOracle", registry_addr, logistics_staleness)
    fx_addr = dep("FxRateStore", registry_addr, fx_staleness)
    risk_addr = dep("RiskRules", registry_addr, fx_addr, b3(network_currency))
    engine_addr = dep("DealEngine", registry_addr, oracle_addr, fx_addr, risk_addr)
    lens_addr = dep("DealLens", engine_addr)
    modules = {
        Product.RECEIVABLE: dep("ReceivableFinancing", registry_addr, engine_addr, invoice_addr),
        Product.ORDER: dep("OrderFinancing", registry_addr, engine_addr, orders_addr, invoice_addr),
        Product.RECEIPT_PLEDGE: dep("ReceiptPledgeFinancing", registry_addr, engine_addr, receipt_addr),
        Product.DOCUMENTARY: dep("DocumentaryCredit", registry_addr, engine_addr),
    }
    settlement_addr = dep("InvoiceSettlement", registry_addr, invoice_addr)
    pools_addr = dep("AbsPools", registry_addr, engine_addr, lens_addr, invoice_addr, modules[Product.RECEIVABLE])
    pool_lens_addr = dep("PoolLens", pools_addr)

    registry = ParticipantRegistry(chain, registry_addr)
    factory = CurrencyFactory(chain, factory_addr)
    tokens = {code: factory.predict(name, code, decimals) for code, name, decimals in currencies}
    calls = [factory.call_create(name, code, decimals) for code, name, decimals in currencies]
    calls += [registry.call_set_network_contract(a, ContractKind.ASSET) for a in tokens.values()]
    calls += [registry.call_set_settlement_token(code, a) for code, a in tokens.items()]
    calls.append(PurchaseOrder(chain, orders_addr).call_set_invoices(invoice_addr))
    registry.govern(admins, calls, "Create the settlement tokens (" + ", ".join(tokens)
                    + ") and link purchase orders to the invoices issued against them")

    engine = DealEngine(chain, engine_addr)
    configs = product_configs()
    calls = [registry.call_set_network_contract(a, ContractKind.ASSET) for a in (invoice_addr, receipt_addr, orders_addr)]
    calls += [registry.call_set_network_contract(a, ContractKind.ESCROW)
              for a in (engine_addr, *modules.values(), settlement_addr, pools_addr)]
    calls += [engine.call_set_product(modules[p], configs[p]) for p in modules]
    calls.append(RiskRules(chain, risk_addr).call_set_engine(engine_addr))
    calls.append(InvoiceToken(chain, invoice_addr).call_set_settlement(settlement_addr))
    registry.govern(admins, calls, "Register the tradenet contracts, the deal engine and its products")

    names = ("ParticipantRegistry", "CurrencyFactory", "SettlementToken", "PurchaseOrder", "InvoiceToken",
             "WarehouseReceipt", "LogisticsOracle", "FxRateStore", "RiskRules", "DealEngine", "DealLens",
             "ReceivableFinancing", "OrderFinancing", "ReceiptPledgeFinancing", "DocumentaryCredit",
             "InvoiceSettlement", "AbsPools", "PoolLens")
    return Deployment(
        network=network,
        chain_id=chain.chain_id,
        deploy_block=start_block,
        deployer=deployer.address,
        registry=registry_addr,
        invoice_token=invoice_addr,
        warehouse_receipt=receipt_addr,
        settlement_tokens=tokens,
        code_hashes={n: chain.artifacts[n].code_hash for n in names},
        deployed_at=int(time.time()),
        logistics_oracle=oracle_addr,
        fx_rate_store=fx_addr,
        purchase_orders=orders_addr,
        risk_rules=risk_addr,
        deal_engine=engine_addr,
        deal_lens=lens_addr,
        receivable_financing=modules[Product.RECEIVABLE],
        order_financing=modules[Product.ORDER],
        receipt_pledge_financing=modules[Product.RECEIPT_PLEDGE],
        documentary_credit=modules[Product.DOCUMENTARY],
        invoice_settlement=settlement_addr,
        currency_factory=factory_addr,
        abs_pools=pools_addr,
        pool_lens=pool_lens_addr,
    )


def default_oracle_threshold(operators: int) -> int:
    """k for n operators: a strict majority (2 of 3, 3 of 5), never below 2 (the contracts' rule)."""
    return max(2, operators // 2 + 1)


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
    c = deployment.clients(chain)
    calls = [c.oracle.call_set_operators(operators, k), c.fx.call_set_operators(operators, k)]
    return c.registry.govern(admins, calls, f"Oracle quorum: {k} of {len(operators)} operators")


def deploy_validator_set(chain: Chain, deployment: Deployment, deployer: LocalAccount,
                         genesis: Sequence[tuple[str, str]]) -> str:
    """Deploy the `ValidatorSet` of a proof-of-authority network with its genesis signers, each
    a (sealer address, operator member account) pair, and record it in `deployment` (address and
    code hash). Later changes go through governance (``ValidatorSet.call_add``/``call_remove``).
    Not part of `deploy`: a network of one anvil has no validators."""
    addr, _ = chain.deploy("ValidatorSet", deployer, deployment.registry, [s for s, _ in genesis],
                           [o for _, o in genesis])
    deployment.validator_set = addr
    deployment.code_hashes["ValidatorSet"] = chain.artifacts["ValidatorSet"].code_hash
    log.info("ValidatorSet at %s", addr)
    return addr
