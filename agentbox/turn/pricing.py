"""What a turn cost: the API's own `meta.usage.usd_spent` when present, else an estimate.

The estimate uses `[limits.prices."<model>"]` from the config, else `[limits.default_price]`
(USD per million input/output tokens). Estimated figures are flagged as such.
"""

from __future__ import annotations

from agentbox.aimlapi import CREDITS_PER_USD
from agentbox.config import LimitsConfig


def turn_cost(
    limits: LimitsConfig,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    reported_usd: float | None,
    reported_credits: float | None,
) -> tuple[float, bool]:
    """(usd, estimated)."""
    if reported_usd is not None:
        return reported_usd, False
    if reported_credits is not None:
        return reported_credits / CREDITS_PER_USD, False
    price = limits.prices.get(model) or limits.default_price
    usd = (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000
    return usd, True
