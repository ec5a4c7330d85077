"""What a speech call cost: the API's own `meta.usage` when it reported one, else an estimate from `[voice]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentbox.aimlapi import CREDITS_PER_USD


@dataclass(frozen=True, slots=True)
class Cost:
    """`meta.usage` of one or more responses: USD and credits, each None when never reported."""

    usd: float | None = None
    credits: float | None = None

    def __add__(self, other: Cost) -> Cost:
        return Cost(_sum(self.usd, other.usd), _sum(self.credits, other.credits))

    def priced(self, estimate: float) -> tuple[float, bool]:
        """(usd, estimated): the reported USD, else the credits converted, else `estimate`."""
        if self.usd is not None:
            return self.usd, False
        if self.credits is not None:
            return self.credits / CREDITS_PER_USD, False
        return estimate, True


def reported_cost(payload: Any) -> Cost:
    meta = payload.get("meta") if isinstance(payload, dict) else None
    usage = meta.get("usage") if isinstance(meta, dict) else None
    if not isinstance(usage, dict):
        return Cost()
    usd, credits = usage.get("usd_spent"), usage.get("credits_used")
    return Cost(
        float(usd) if isinstance(usd, int | float) else None,
        float(credits) if isinstance(credits, int | float) else None,
    )


def _sum(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b
