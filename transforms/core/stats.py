"""Run statistics that merge across bundles and workers (a Beam CombineFn's accumulator).

Latency percentiles come from a log-bucketed histogram (5% buckets), so merging
is exact and memory stays constant however many records are scored.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

_BUCKET_BASE = math.log(1.05)


def _bucket(latency_ms: float) -> int:
    return int(math.log(max(latency_ms, 0.01)) / _BUCKET_BASE)


def _bucket_value(bucket: int) -> float:
    return math.exp((bucket + 0.5) * _BUCKET_BASE)


@dataclass
class VariantStats:
    records: int = 0
    latency_buckets: Counter[int] = field(default_factory=Counter)

    def add(self, records: int, latency_ms: float) -> None:
        self.records += records
        self.latency_buckets[_bucket(latency_ms)] += records

    def merge(self, other: VariantStats) -> None:
        self.records += other.records
        self.latency_buckets.update(other.latency_buckets)

    def percentile(self, q: float) -> float | None:
        total = sum(self.latency_buckets.values())
        if not total:
            return None
        rank = q * total
        seen = 0
        for bucket in sorted(self.latency_buckets):
            seen += self.latency_buckets[bucket]
            if seen >= rank:
                return round(_bucket_value(bucket), 2)
        return None


@dataclass(kw_only=True)
class RunStats:
    records_in: int = 0
    predictions_out: int = 0
    dead_letters_out: int = 0
    requests: int = 0
    retries: int = 0
    throttles: int = 0
    throttled_ms: int = 0  # backing off after throttles, and waiting for the request budget
    errors: Counter[str] = field(default_factory=Counter)
    dead_letters_by_class: Counter[str] = field(default_factory=Counter)
    variants: dict[str, VariantStats] = field(default_factory=dict)

    def variant(self, name: str | None) -> VariantStats:
        return self.variants.setdefault(name or "unknown", VariantStats())

    def merge(self, other: RunStats) -> RunStats:
        self.records_in += other.records_in
        self.predictions_out += other.predictions_out
        self.dead_letters_out += other.dead_letters_out
        self.requests += other.requests
        self.retries += other.retries
        self.throttles += other.throttles
        self.throttled_ms += other.throttled_ms
        self.errors.update(other.errors)
        self.dead_letters_by_class.update(other.dead_letters_by_class)
        for name, variant in other.variants.items():
            self.variant(name).merge(variant)
        return self

    def counters(self) -> dict[str, int]:
        """The runner metrics these stats add to (Beam counters of the ``smscore`` namespace)."""
        counts = {
            "records": self.records_in,
            "predictions": self.predictions_out,
            "dead_letters": self.dead_letters_out,
            "requests": self.requests,
            "retries": self.retries,
            "throttles": self.throttles,
            "throttled_ms": self.throttled_ms,
        }
        counts.update({f"errors_{name}": n for name, n in self.errors.items()})
        counts.update({f"dead_letters_{name}": n for name, n in self.dead_letters_by_class.items()})
        counts.update({f"records_variant_{name}": v.records for name, v in self.variants.items()})
        return counts

    def to_report(self) -> dict[str, object]:
        return {
            "records_in": self.records_in,
            "predictions_out": self.predictions_out,
            "dead_letters_out": self.dead_letters_out,
            "accounted": self.records_in == self.predictions_out + self.dead_letters_out,
            "requests": self.requests,
            "retries": self.retries,
            "throttles": self.throttles,
            "throttled_seconds": round(self.throttled_ms / 1000, 3),
            "errors": dict(sorted(self.errors.items())),
            "dead_letters_by_class": dict(sorted(self.dead_letters_by_class.items())),
            "variants": {
                name: {
                    "records": v.records,
                    "latency_ms": {"p50": v.percentile(0.5), "p95": v.percentile(0.95), "p99": v.percentile(0.99)},
                }
                for name, v in sorted(self.variants.items())
            },
        }
