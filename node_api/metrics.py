"""Prometheus metrics of a node API process (``GET /metrics``, prometheus-client).

Each app has its own registry (tests build several apps in one process). Names start with
``tradenet_node_``:

- ``http_requests_total{route,method,status}`` and ``http_request_duration_seconds{route,method}``:
  every HTTP request by route template (``/invoices/{invoice_id}``; ``other`` for unknown paths),
  the body guard's refusals (413, 408) included;
- read at each scrape:
  ``chain_head_block`` / ``chain_head_timestamp_seconds`` (the node's latest block),
  ``chain_reachable`` (1 / 0);
  ``indexer_head_block`` (the last block the read model holds) and ``indexer_lag_blocks``
  (chain head minus it);
  ``transactions_pending`` (sent by this process, no receipt yet: ``chain.receipts.ReceiptWatcher``)
  and ``transactions_total{outcome}`` (``mined``, ``reverted``, ``TransactionReplaced``,
  ``TransactionDropped``, ``NonceGap``: every transaction this process sent and followed);
  ``oracle_events{status}`` (confirmed shipment events in the read model by status, ``Confirmed``
  / ``Retracted``) and ``oracle_listener_failures`` (escrows a report named that were not
  called or reverted).

``/metrics`` needs no credential; it answers only clients in ``metrics_allow_from`` (loopback by
default: ``TRADENET_METRICS_ALLOW_FROM``), as the oracle operators' ``/metrics`` does; with
``metrics_enabled`` false it is 404.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from chain.http_metrics import CONTENT_TYPE, MetricsMiddleware, allowed, request_metrics, route_template
from chain.indexer.projections import listener_failures, oracle_events
from chain.problems import Problem
from chain.receipts import watcher_for

from .context import NodeContext
from .read_model import ReadModel
from .responses import ProblemResponse

log = logging.getLogger(__name__)

PREFIX = "tradenet_node"


def _gauge(name: str, doc: str, value: float | None, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    return family


class _NodeCollector(Collector):
    """Gauges read at scrape time: the chain head, the read model, the submission pipeline."""

    def __init__(self, ctx: NodeContext, operations: Any = None, answers: Any = None):
        self.ctx = ctx
        self.operations = operations  # node_api.operations.OperationStore, if the app has one
        self.answers = answers  # node_api.answers.AnswerCache, if the app has one

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        head, timestamp = self._head()
        indexed, events, failures = self._read_model()
        lag = None if head is None or indexed is None else max(0, head - indexed)
        out: list[GaugeMetricFamily | CounterMetricFamily] = [
            _gauge("chain_head_block", "Latest block number of the node's chain", head),
            _gauge("chain_head_timestamp_seconds", "Timestamp of the node's latest block", timestamp),
            _gauge("chain_reachable", "1 if the node's chain answered this scrape", 0 if head is None else 1),
            _gauge("indexer_head_block", "Last block the read model holds", indexed),
            _gauge("indexer_lag_blocks", "Chain head minus the read model's last block", lag),
        ]
        pending = GaugeMetricFamily(f"{PREFIX}_transactions_pending",
                                    "Transactions sent by this process without a receipt yet")
        outcomes = CounterMetricFamily(f"{PREFIX}_transactions", "Transactions sent by this process, by outcome",
                                       labels=["outcome"])
        watcher = watcher_for(self.ctx.chain.rpc) if self.ctx.chain.rpc is not None else None
        pending.add_metric([], watcher.pending_count() if watcher else 0)
        for outcome, n in sorted((watcher.outcomes() if watcher else {}).items()):
            outcomes.add_metric([outcome], n)
        by_status = GaugeMetricFamily(f"{PREFIX}_oracle_events", "Shipment events in the read model by status",
                                      labels=["status"])
        for status, n in sorted(events.items()):
            by_status.add_metric([status], n)
        if self.operations is not None:
            out.append(_gauge("async_writes_running", "Writes sent with Prefer: respond-async still running "
                              "(each holds a node thread; at async_write_threads, more are refused with 503)",
                              self.operations.running))
        if self.answers is not None:
            lookups = CounterMetricFamily(f"{PREFIX}_answer_cache_lookups", "List answers looked up in the answer cache "
                                          "(hit: served as kept, the read model unchanged)", labels=["result"])
            lookups.add_metric(["hit"], self.answers.hits)
            lookups.add_metric(["miss"], self.answers.misses)
            out += [lookups, _gauge("answer_cache_bytes", "Bytes of the answers kept", self.answers.size_bytes)]
        out += [pending, outcomes, by_status,
                _gauge("oracle_listener_failures", "Escrows an oracle report named that were not called or reverted",
                       failures)]
        return out

    def _head(self) -> tuple[int | None, int | None]:
        chain = self.ctx.chain
        try:
            if chain.rpc is not None:
                block = chain.rpc.call("eth_getBlockByNumber", ["latest", False])
                return int(block["number"], 16), int(block["timestamp"], 16)
            block = chain.w3.eth.get_block("latest")
            return int(block["number"]), int(block["timestamp"])
        except Exception as exc:  # noqa: BLE001 - a scrape reports an unreachable chain, never fails
            log.warning("metrics: chain head unavailable: %s", exc)
            return None, None

    def _read_model(self) -> tuple[int | None, dict[str, int], int | None]:
        try:
            indexed = ReadModel(self.ctx.db).indexed_block()
            with self.ctx.db.connect() as c:
                events = dict(c.execute(select(oracle_events.c.status, func.count())
                                        .group_by(oracle_events.c.status)).all())
                failures = c.execute(select(func.count()).select_from(listener_failures)).scalar()
            return indexed, {str(k): int(v) for k, v in events.items()}, failures
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: read model unavailable: %s", exc)
            return None, {}, None


class NodeMetrics:
    def __init__(self, ctx: NodeContext, operations: Any = None, answers: Any = None):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests, self.http_latency = request_metrics(PREFIX, r)
        r.register(_NodeCollector(ctx, operations, answers))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def install(app: FastAPI, ctx: NodeContext) -> NodeMetrics:
    """``GET /metrics`` and the request-counting middleware (call after the other middlewares:
    it is then the outermost and counts their refusals)."""
    metrics = NodeMetrics(ctx, getattr(app.state, "operations", None), getattr(app.state, "answers", None))
    settings = ctx.settings
    nets = settings.metrics_networks()
    app.add_middleware(MetricsMiddleware, metrics=metrics, route_of=route_template(app))

    # not one of the participants' operations (no session, not in the OpenAPI document): the
    # operator's Prometheus scrapes it (docs/operations.md)
    @app.get("/metrics", include_in_schema=False)
    async def node_metrics(request: Request) -> Any:
        """Prometheus metrics of this node: no credential, only to clients in ``metrics_allow_from``
        (loopback by default)."""
        if not settings.metrics_enabled:
            return ProblemResponse(Problem.of(404, "not_found", "Not found", "metrics are disabled on this node",
                                              instance=request.url.path).body())
        host = request.client.host if request.client else None
        if not allowed(host, nets):
            return ProblemResponse(Problem.of(
                403, "forbidden", "Forbidden", f"/metrics is served to {', '.join(settings.metrics_allow_from)} only "
                f"(metrics_allow_from, TRADENET_METRICS_ALLOW_FROM), not to {host}",
                instance=request.url.path).body())
        return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE)

    app.state.metrics = metrics
    return metrics
