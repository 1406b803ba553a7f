"""Prometheus metrics of one app (a private registry per app: no module-level state)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    """HTTP request counters and latency histograms, plus engine gauges refreshed at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tenantry_http_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tenantry_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge("tenantry_http_requests_in_flight", "Requests being served", registry=self.registry)
        self.rate_limited = Counter(
            "tenantry_rate_limited_total", "Requests refused with 429 by the per-key limiter", registry=self.registry
        )
        self.auth_failures = Counter(
            "tenantry_auth_failures_total", "Requests refused for a missing or bad API key", registry=self.registry
        )
        self.queue_depth = Gauge(
            "tenantry_ingestion_jobs", "Ingestion jobs by status", ["status"], registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        """The exposition text of this registry."""
        return generate_latest(self.registry)
