"""Prometheus metrics of one operator (``GET /metrics``, prometheus-client).

Each operator has its own registry (several operators may run in one process in tests). Names
start with ``tradenet_oracle_``:

- ``http_requests_total{route,method,status}`` and ``http_request_duration_seconds{route,method}``:
  every HTTP request by route template (``/events/{event_id:path}``; ``other`` for unknown paths),
  refusals of the request guard (413, 408, 503) included;
- ``carrier_events_total{state}``: carrier events by outcome at intake (``accepted``,
  ``duplicate``, ``ignored``, ``superseded``, ``retraction``, ``update``, ``refused``) and by what the
  chain made of attested ones (``confirmed``, ``retracted``, ``rejected``);
- ``signatures_sent_total{peer,result}`` (deliveries to peers, ``ok`` / ``failed``) and
  ``signatures_received_total{kind,result}`` (``stored``, ``duplicate``, ``refused``);
- ``quorum_seconds{kind}``: from the first signature this operator held over a digest to the
  quorum; ``confirmation_seconds{kind}``: from that first signature to the chain's confirmation
  as this operator saw it (for a retraction: the retraction's confirmation);
- ``submissions_total{kind,result}`` (``mined``, ``reverted``, ``unavailable``) and
  ``pokes_total{result}``;
- from the database at each scrape: ``reports{kind,state}``, ``submissions_pending{kind}``
  (reports at quorum or submitted, not confirmed), ``deliveries_pending{peer}``, ``intents{kind,state}``;
- ``chain_head_block`` / ``chain_head_timestamp_seconds`` (the latest block the operator saw),
  ``chain_reachable`` (1 / 0).

``/metrics`` needs no credential; it answers only clients in ``metrics.allow_from`` (loopback by
default), see ``oracle.settings.MetricsSettings``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chain.http_metrics import CONTENT_TYPE, MetricsMiddleware, allowed, request_metrics

__all__ = ["CONTENT_TYPE", "MetricsMiddleware", "OperatorMetrics", "allowed"]

PREFIX = "tradenet_oracle"
_CHAIN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class _StoreCollector(Collector):
    """Gauges read from the operator's database at scrape time (right after a restart too)."""

    def __init__(self, read: Callable[[], dict[str, Any]]):
        self.read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        data = self.read()
        reports = GaugeMetricFamily(f"{PREFIX}_reports", "Reports in the database by kind and state",
                                    labels=["kind", "state"])
        for (kind, state), n in sorted(data["reports"].items()):
            reports.add_metric([kind, state], n)
        pending = GaugeMetricFamily(f"{PREFIX}_submissions_pending",
                                    "Reports with a quorum not yet confirmed on chain (quorum or submitted)",
                                    labels=["kind"])
        for kind, n in sorted(data["pending"].items()):
            pending.add_metric([kind], n)
        deliveries = GaugeMetricFamily(f"{PREFIX}_deliveries_pending", "Signatures not yet acknowledged by a peer",
                                       labels=["peer"])
        for peer, n in sorted(data["deliveries"].items()):
            deliveries.add_metric([peer], n)
        intents = GaugeMetricFamily(f"{PREFIX}_intents", "Retraction and update intents by kind and state",
                                    labels=["kind", "state"])
        for (kind, state), n in sorted(data["intents"].items()):
            intents.add_metric([kind, state], n)
        return [reports, pending, deliveries, intents]


class OperatorMetrics:
    def __init__(self, store_read: Callable[[], dict[str, Any]] | None = None):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests, self.http_latency = request_metrics(PREFIX, r)
        self.carrier_events = Counter(f"{PREFIX}_carrier_events", "Carrier events by outcome (intake, then chain)",
                                      ["state"], registry=r)
        self.signatures_sent = Counter(f"{PREFIX}_signatures_sent", "Signature deliveries to peers",
                                       ["peer", "result"], registry=r)
        self.signatures_received = Counter(f"{PREFIX}_signatures_received", "Signatures received from peers",
                                           ["kind", "result"], registry=r)
        self.quorum_seconds = Histogram(f"{PREFIX}_quorum_seconds", "First signature to quorum", ["kind"],
                                        buckets=_CHAIN_BUCKETS, registry=r)
        self.confirmation_seconds = Histogram(f"{PREFIX}_confirmation_seconds",
                                              "First signature to on-chain confirmation", ["kind"],
                                              buckets=_CHAIN_BUCKETS, registry=r)
        self.submissions = Counter(f"{PREFIX}_submissions", "Transactions sent by this operator, by result",
                                   ["kind", "result"], registry=r)
        self.pokes = Counter(f"{PREFIX}_pokes", "Deals poked after a report (keeper)", ["result"], registry=r)
        self.chain_head = Gauge(f"{PREFIX}_chain_head_block", "Latest block number seen", registry=r)
        self.chain_head_time = Gauge(f"{PREFIX}_chain_head_timestamp_seconds", "Timestamp of the latest block seen",
                                     registry=r)
        self.chain_reachable = Gauge(f"{PREFIX}_chain_reachable", "1 if the last chain call succeeded", registry=r)
        if store_read is not None:
            r.register(_StoreCollector(store_read))

    def head(self, number: int, timestamp: int) -> None:
        self.chain_head.set(number)
        self.chain_head_time.set(timestamp)

    def render(self) -> bytes:
        return generate_latest(self.registry)
