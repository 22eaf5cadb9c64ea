"""Cost fields every trace carries (plan task R5.4), and how to read them.

With a fixed subscription a run has no price of its own: ``cost_per_invocation`` is the
month's subscription divided by the runs so far this month, an *allocation* that shrinks
as the month goes on. :func:`allocation` words it that way for every front end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CostShare", "CostTracker", "allocation", "month_start"]


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


@dataclass(frozen=True)
class CostShare:
    """A run's share of a fixed subscription: ``monthly_cost`` ÷ ``runs`` this month."""

    monthly_cost: float
    runs: int
    share: float

    @property
    def short(self) -> str:
        """For a table cell: ``$20/mo ÷ 3``."""
        return f"{_money(self.monthly_cost)}/mo ÷ {self.runs}"

    @property
    def long(self) -> str:
        """For one run: the share, and that it is an allocation, not a price."""
        runs = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        return (
            f"${self.share:.4f} = {_money(self.monthly_cost)}/month ÷ {runs} this month "
            "(an allocation of the subscription, not a per-run price)"
        )

    @property
    def note(self) -> str:
        """A legend for a table of shares."""
        return (
            f"cost share: the {_money(self.monthly_cost)}/month subscription ÷ the runs this "
            "month when each ran (an allocation, not a per-run price)"
        )


def allocation(metadata: Mapping[str, Any]) -> CostShare | None:
    """The subscription share recorded in a trace's metadata, or ``None`` (another model)."""
    if metadata.get("cost_model") != "fixed_subscription":
        return None
    monthly, runs = metadata.get("monthly_cost"), metadata.get("workflow_invocations")
    if not isinstance(monthly, int | float) or not isinstance(runs, int) or runs < 1:
        return None
    share = metadata.get("cost_per_invocation")
    return CostShare(
        float(monthly), runs, share if isinstance(share, int | float) else monthly / runs
    )


def _money(value: float) -> str:
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"
