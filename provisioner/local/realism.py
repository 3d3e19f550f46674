"""Realism on demand: how much of Graph's rough edges the local tenant shows, from flags or environment.

All of it is off by default. `Realism` holds the settings and Graph's budgets they scale; the
throttle buckets live in `throttle`, and `middleware` applies throttling, faults, replication lag
and latency to requests. The numbers and wire shapes come from graph-facts §9, §12 and §13.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

# Resource units per 10 s for an app+tenant pair, by tenant size (graph-facts §9.1).
RESOURCE_UNITS = {"S": 3_500, "M": 5_000, "L": 8_000}
RESOURCE_WINDOW_S = 10.0
APP_WRITES, APP_WRITE_WINDOW_S = 3_000, 150.0
TENANT_WRITES, TENANT_WRITE_WINDOW_S = 18_000, 300.0

_ENV = {
    "throttle": "PROVISIONER_LOCAL_THROTTLE",
    "tenant_size": "PROVISIONER_LOCAL_TENANT_SIZE",
    "time_scale": "PROVISIONER_LOCAL_TIME_SCALE",
    "latency_ms": "PROVISIONER_LOCAL_LATENCY_MS",
    "jitter_ms": "PROVISIONER_LOCAL_JITTER_MS",
    "fault_rate": "PROVISIONER_LOCAL_FAULT_RATE",
    "fault_applied_share": "PROVISIONER_LOCAL_FAULT_APPLIED_SHARE",
    "drop_rate": "PROVISIONER_LOCAL_DROP_RATE",
    "replication_lag_s": "PROVISIONER_LOCAL_REPLICATION_LAG",
    "seed": "PROVISIONER_LOCAL_SEED",
}


@dataclass(frozen=True)
class Realism:
    """How much of the real service's rough edges the local tenant shows. All off by default.

    - throttle: Graph's identity token buckets (graph-facts §9), with 429 + Retry-After.
    - tenant_size: "S", "M" or "L"; picks the resource-unit quota (3,500 / 5,000 / 8,000 per 10 s).
    - time_scale: divides every budget window and Retry-After (10 -> the 150 s write window lasts
      15 s). It does not touch latency or replication lag.
    - latency_ms, jitter_ms: added to every HTTP request (fixed + uniform 0..jitter).
    - fault_rate: probability of a 503 or 504 (half each) instead of the real answer.
    - fault_applied_share: share of 504s on writes whose write was applied before the 504.
    - drop_rate: probability that `serve` drops the connection without an answer (serve mode only).
    - replication_lag_s: a user created or restored less than this ago is "not found".
    - seed: makes faults, jitter and drops reproducible.
    """

    throttle: bool = False
    tenant_size: str = "L"
    time_scale: float = 1.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    fault_applied_share: float = 0.5
    drop_rate: float = 0.0
    replication_lag_s: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        size = self.tenant_size.upper()
        if size not in RESOURCE_UNITS:
            raise ValueError(f"tenant size must be S, M or L, not {self.tenant_size!r}")
        object.__setattr__(self, "tenant_size", size)
        if self.time_scale <= 0:
            raise ValueError(f"time scale must be greater than 0, not {self.time_scale}")
        for name in ("latency_ms", "jitter_ms", "replication_lag_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("fault_rate", "fault_applied_share", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Realism:
        """Build settings from `PROVISIONER_LOCAL_*` variables (default: os.environ); unset ones keep
        their defaults.

        `PROVISIONER_LOCAL_THROTTLE=1` switches throttling on; `..._REPLICATION_LAG` is seconds.
        A malformed value raises ValueError naming the variable.
        """
        if environ is None:
            environ = os.environ
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in _ENV.items():
            raw = environ.get(var, "").strip()
            if not raw:
                continue
            try:
                if name == "throttle":
                    values[name] = _parse_bool(raw)
                elif name == "tenant_size":
                    values[name] = raw
                elif name == "seed":
                    values[name] = int(raw)
                else:
                    values[name] = float(raw)
            except ValueError:
                raise ValueError(f"{var}={raw!r} is not a valid {types[name]}") from None
        try:
            return cls(**values)
        except ValueError as e:
            raise ValueError(f"local tenant realism settings: {e}") from None

    def with_overrides(self, **changes: Any) -> Realism:
        """A copy with the given settings changed; None values are ignored (unset flags)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def active(self) -> bool:
        """True if any per-request effect (throttle, faults, lag) is on."""
        return self.throttle or self.fault_rate > 0 or self.replication_lag_s > 0

    def write_budget(self) -> tuple[int, float] | None:
        """(writes, window seconds) of the per app+tenant write budget after time scaling, or None
        when throttling is off. A client that stays under it is never write-throttled."""
        if not self.throttle:
            return None
        return APP_WRITES, APP_WRITE_WINDOW_S / self.time_scale

    def resource_budget(self) -> tuple[int, float] | None:
        """(resource units, window seconds) of the per app+tenant RU budget after time scaling."""
        if not self.throttle:
            return None
        return RESOURCE_UNITS[self.tenant_size], RESOURCE_WINDOW_S / self.time_scale


def _parse_bool(raw: str) -> bool:
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)
