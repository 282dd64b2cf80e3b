"""The tradenet read model: one projection over every tradenet contract (contracts v2).

Each domain module holds its tables and its event handlers (registered by contract kind and event
name); :class:`TradenetProjection` dispatches each event to its handler, so one event costs one
dictionary lookup and the handler's own statements. Settlement-token balances and transfers are
the generic :class:`~chain.indexer.projections.erc20.Erc20Projection`.

=================  ============================================================================
module             tables
=================  ============================================================================
``registry``       participants, proposals, network_contracts, settlement_tokens,
                   currency_tokens, network_settings
``assets``         invoices, invoice_payments, invoice_withholdings, purchase_orders, receipts,
                   receipt_pledges
``settlement``     fiat_movements, payment_references, redemptions
``oracle``         oracle_events, listener_failures, oracle_quorums, fx_rates
``deal_engine``    deal_products, deals, deal_milestones, deal_credits, deal_fx_locks,
                   deal_terms_revocations, deal_assignments
``products``       order_rollovers, documentary_credits, documentary_documents
``risk``           risk_lenders, risk_pairs, risk_parties, risk_bookings, risk_warnings,
                   risk_overdue, risk_funding_approvals
``pools``          abs_pools, pool_bids, pool_assets, pool_collections, pool_distributions,
                   pool_note_sales, pool_claims, tranche_holdings
=================  ============================================================================

Contracts are recognised by their kind: the ContractSpec name up to ``:`` (``chain.indexer.network``
names them after their artifacts, settlement tokens ``SettlementToken:<currency>``). Values are
stored as ``values`` describes. Like every projection this is a pure function of the events.
"""
from __future__ import annotations

from functools import partial

from ..projection import IndexedEvent, Projection, ProjectionContext
from . import assets, deal_engine, oracle, pools, products, registry, risk, settlement
from .handlers import Handler, Handlers, kind_of

MODULES = (registry, assets, settlement, oracle, deal_engine, products, risk, pools)

#: Every table of the tradenet read model (not the ERC-20 tables), in dependency-free order.
TABLES = tuple(t for m in MODULES for t in m.TABLES)


def _all_handlers() -> Handlers:
    out = Handlers()
    for m in MODULES:
        for (kind, event), fn in m.handlers.items():
            out.on(kind, event)(fn)
    return out


class TradenetProjection(Projection):
    """Maintains every table of ``TABLES`` from the events of the tradenet contracts.

    :param network_currency: the risk rules' network currency (``RiskRules.networkCurrency``, a
        constructor argument no event carries): the book currency of a lender that books without
        a policy. Without it that book's currency stays NULL.
    """

    name = "tradenet"
    tables = TABLES

    def __init__(self, network_currency: str | None = None) -> None:
        self._handlers = _all_handlers()
        if network_currency is not None:
            self._handlers[(risk.RISK, "ExposureBooked")] = partial(risk.exposure_booked,
                                                                    network_currency=network_currency)
        self._by_contract: dict[tuple[str, str], Handler | None] = {}

    def _handler(self, ev: IndexedEvent) -> Handler | None:
        key = (ev.contract, ev.event)
        try:
            return self._by_contract[key]
        except KeyError:
            fn = self._by_contract[key] = self._handlers.get((kind_of(ev.contract), ev.event))
            return fn

    def handles(self, event: IndexedEvent) -> bool:
        return self._handler(event) is not None

    def apply(self, ctx: ProjectionContext, event: IndexedEvent) -> None:
        self._handler(event)(ctx, event)  # type: ignore[misc]


__all__ = ["MODULES", "TABLES", "TradenetProjection"]
