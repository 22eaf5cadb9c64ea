"""The ``server`` section: the hosted API's address, API keys, rate limit, CORS and
trusted proxies."""

from __future__ import annotations

from pydantic import Field

from lgp_lab.config.base import DEFAULT_ENV, Section

__all__ = ["HOSTED_RATE_LIMIT", "ServerConfig"]

# Requests per minute per client where the config leaves it unset (not experiment).
HOSTED_RATE_LIMIT = 100
_LOCAL_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*")
_CORS_EXPOSE = ("Content-Location", "Location", "X-Pagination-Total", "X-Pagination-Next")


class ServerConfig(Section):
    """The hosted API (``lgp-lab serve``, ``%lgp_serve``).

    ``api_key`` and ``api_keys`` are merged; empty values (an unset ``${VAR}``) are
    ignored. ``require_api_key`` defaults to true in the ``hosted`` and ``production``
    environments, which then refuse to start without a key. ``rate_limit_per_minute``
    defaults to off (0) in ``experiment`` and to 100 elsewhere.

    ``cors_origins`` lists the browser origins (a comma-separated string or a list;
    ``*`` inside a pattern, as in ``http://localhost:*``; ``*`` alone allows any) that
    may call the API, as Agent Chat UI or a ``useStream`` page on another origin does;
    unset, it is this machine's pages in ``experiment`` and none elsewhere.
    ``cors_expose_headers`` are the response headers such a page may read.

    ``forwarded_allow_ips`` lists the reverse proxies (addresses or CIDR networks, a
    comma-separated string or a list; ``*`` trusts any peer) whose ``X-Forwarded-For`` /
    ``X-Forwarded-Proto`` headers set the client address. Unset (the default), proxy
    headers are ignored, so a client cannot forge its address to dodge the rate limit.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    api_key: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    require_api_key: bool | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    forwarded_allow_ips: str | list[str] | None = None
    cors_origins: str | list[str] | None = None
    cors_expose_headers: list[str] = Field(default_factory=lambda: list(_CORS_EXPOSE))

    def keys(self) -> list[str]:
        """Every configured, non-empty API key."""
        return [k for k in [self.api_key, *self.api_keys] if k]

    def allowed_origins(self, environment: str = "experiment") -> list[str]:
        """The browser origins allowed to call the API (CORS). Unset: this machine's
        pages on any port in ``experiment``, none elsewhere; ``*`` allows any."""
        value = self.cors_origins
        if value is None:
            return list(_LOCAL_ORIGINS) if environment == DEFAULT_ENV else []
        items = value.split(",") if isinstance(value, str) else list(value)
        return [item.strip() for item in items if item and item.strip()]

    def trusted_proxies(self) -> list[str]:
        """The proxy addresses whose forwarded headers are trusted (empty: none)."""
        value = self.forwarded_allow_ips
        items = value.split(",") if isinstance(value, str) else list(value or [])
        return [item.strip() for item in items if item and item.strip()]
