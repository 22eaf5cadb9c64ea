"""The promotion gate's report: one result per check, pass/warn/fail with the fix.

The same object is printed by ``lgp-lab check``, returned as JSON with ``--json`` and
rendered in a notebook by ``%lgp_check`` (``_repr_html_``).
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CheckResult", "GateReport", "Status"]

# ``skip``: the check was not run here, for a reason its summary gives (the database of
# a cluster, reachable only from inside it); it blocks nothing, as a pass.
Status = Literal["pass", "skip", "warn", "fail"]
_ICON = {"pass": "✅", "skip": "➖", "warn": "⚠️", "fail": "❌"}
_COLOR = {"pass": "#1a7f37", "skip": "#57606a", "warn": "#9a6700", "fail": "#cf222e"}
_RANK = {"pass": 0, "skip": 0, "warn": 1, "fail": 2}
_LABEL = {"pass": "pass", "skip": "not run", "warn": "warn", "fail": "fail"}


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict.

    Attributes:
        check: The check's id (``blocking-io``, ``serialization``, ``clean-import``,
            ``parity``, ``config-env``, ``api-keys``, ``database``, ``secrets``).
        status: ``pass``, ``skip`` (not run here; the summary says why), ``warn`` or
            ``fail``.
        summary: What was found, naming the workflow, node, file:line or value.
        fix: The one line that says how to fix it (empty on pass).
        workflow: The workflow checked, when the check is per workflow.
    """

    check: str
    status: Status
    summary: str
    fix: str = ""
    workflow: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        return asdict(self)


@dataclass
class GateReport:
    """Every check's result for one promotion (``lgp-lab check``)."""

    environment: str
    workflows: list[str]
    results: list[CheckResult] = field(default_factory=list)

    def add(self, result: CheckResult) -> CheckResult:
        """Append ``result`` and return it."""
        self.results.append(result)
        return result

    @property
    def status(self) -> Status:
        """The worst status of any check (``pass`` when there are none)."""
        worst = max((_RANK[r.status] for r in self.results), default=0)
        return next(s for s, rank in _RANK.items() if rank == worst)  # type: ignore[return-value]

    @property
    def passed(self) -> bool:
        """Whether no check failed (warnings do not block a promotion)."""
        return self.status != "fail"

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 1 when a check failed, else 0."""
        return 0 if self.passed else 1

    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if r.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-compatible data (``lgp-lab check --json``)."""
        return {
            "status": self.status,
            "environment": self.environment,
            "workflows": self.workflows,
            "checks": [r.to_dict() for r in self.results],
        }

    def lines(self) -> list[str]:
        """The report as terminal lines: one per check, the fix indented below."""
        out: list[str] = []
        for r in self.results:
            where = f"[{r.workflow}] " if r.workflow else ""
            out.append(f"{_ICON[r.status]} {r.check}: {where}{r.summary}")
            if r.fix and r.status in ("warn", "fail"):
                out.append(f"   fix: {r.fix}")
        counts = {s: sum(r.status == s for r in self.results) for s in _ICON}
        verdict = "ready for" if self.passed else "NOT ready for"
        not_run = f", {counts['skip']} not run" if counts["skip"] else ""
        out.append(
            f"{_ICON[self.status]} {verdict} {self.environment}: {counts['pass']} passed, "
            f"{counts['warn']} warnings, {counts['fail']} failed{not_run}"
        )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        rows = []
        for r in self.results:
            fix = (
                f"<div style='color:#57606a'>fix: {html.escape(r.fix)}</div>"
                if r.fix and r.status in ("warn", "fail")
                else ""
            )
            rows.append(
                "<tr>"
                f"<td style='color:{_COLOR[r.status]};white-space:nowrap'>"
                f"{_ICON[r.status]} {_LABEL[r.status]}</td>"
                f"<td><code>{html.escape(r.check)}</code></td>"
                f"<td>{html.escape(r.workflow or '')}</td>"
                f"<td style='text-align:left'>{html.escape(r.summary)}{fix}</td>"
                "</tr>"
            )
        verdict = html.escape(self.lines()[-1])
        return (
            "<div class='lgp-check'>"
            f"<b style='color:{_COLOR[self.status]}'>{verdict}</b>"
            "<table><thead><tr><th>status</th><th>check</th><th>workflow</th>"
            "<th style='text-align:left'>finding</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
