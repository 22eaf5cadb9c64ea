"""Promotion to production: the gate (``lgp-lab check``), metrics, anomaly rollback.

Domain code only: no IPython, no FastAPI. Front ends (CLI, magics, server) call in.
"""

from lgp_lab.promotion.gate import run_gate
from lgp_lab.promotion.report import CheckResult, GateReport

__all__ = ["CheckResult", "GateReport", "run_gate"]
