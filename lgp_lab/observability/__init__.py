"""Observability adapters: where run traces go.

- ``console``: one line per node on stderr (the experiment default);
- ``local``: the local trace store, tables in the project's SQLite file (on by default);
- ``langfuse``: Langfuse through its official SDK (OpenTelemetry export), when configured
  or when ``LANGFUSE_PUBLIC_KEY`` and ``LANGFUSE_SECRET_KEY`` are set.

Every exporter sees data passed through :func:`sanitize_for_dashboard`; checkpoints never do.
"""

from lgp_lab.observability.sanitize import sanitize_for_dashboard

__all__ = ["sanitize_for_dashboard"]
