"""Cost fields every trace carries (plan task R5.4)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["CostTracker", "month_start"]


def month_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight UTC on the first day of ``now``'s month."""
    now = now or dt.datetime.now(dt.UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class CostTracker:
    """Counts invocations this month and spreads a fixed subscription over them.

    Args:
        cost_model: ``none``, ``fixed_subscription`` or ``per_token``.
        monthly_cost: The subscription price per month (fixed model).
        count_since: Loads the invocations already recorded since a time (the local
            trace store), so the count survives restarts; called once per month.
    """

    def __init__(
        self,
        cost_model: str,
        monthly_cost: float,
        count_since: Callable[[float], Awaitable[int]] | None = None,
    ) -> None:
        self.cost_model = cost_model
        self.monthly_cost = monthly_cost
        self._count_since = count_since
        self._month: dt.datetime | None = None
        self._count = 0

    async def next_invocation(self) -> dict[str, Any]:
        """Count one more invocation and return the trace's cost fields."""
        month = month_start()
        if month != self._month:
            self._month = month
            self._count = await self._count_since(month.timestamp()) if self._count_since else 0
        self._count += 1
        fields: dict[str, Any] = {
            "workflow_invocations": self._count,
            "cost_model": self.cost_model,
        }
        if self.cost_model == "fixed_subscription":
            fields["monthly_cost"] = self.monthly_cost
            fields["cost_per_invocation"] = round(self.monthly_cost / self._count, 6)
        return fields
