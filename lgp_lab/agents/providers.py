"""LLM providers for agent nodes (plan phase R8): Ollama at $0 and Claude Code over the mesh.

``create_agent_node(provider_type, config, provider_config)`` returns an async node that
sends ``state["task"]`` (or a prompt template filled from the state) to the provider and
writes the answer to the state. Provider settings come from the running Lab's
``llm_providers`` config, overridden by ``provider_config``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lgp_lab.errors import LgpError
from lgp_lab.run_context import current_lab, record_generation

__all__ = [
    "AgentResult",
    "ClaudeCodeProvider",
    "LLMProvider",
    "OfflineProvider",
    "OllamaProvider",
    "create_agent_node",
    "injected_agents",
]

log = logging.getLogger("lgp_lab.agents")


@dataclass
class AgentResult:
    """What a provider returned for one task."""

    output: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0
    session_id: str | None = None


class LLMProvider(ABC):
    """A model an agent node can call."""

    @abstractmethod
    async def execute_task(
        self, task: str, state: dict[str, Any], config: dict[str, Any]
    ) -> AgentResult:
        """Do ``task`` (with the workflow ``state`` and the node's ``config``)."""

    @abstractmethod
    def get_provider_name(self) -> str:
        """``provider:model``, as logged for each injected agent."""

    @abstractmethod
    def get_cost_estimate(self, input_tokens: int, output_tokens: int) -> float:
        """The marginal cost in USD of a call with these token counts."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release what the provider holds (HTTP clients); called when its Lab closes."""


class OllamaProvider(LLMProvider):
    """Any OpenAI-compatible endpoint through the official ``openai`` SDK; Ollama by default.

    Local models cost $0.00. An unreachable endpoint is one clear error, bounded by
    ``connect_timeout_s`` (and one retry).
    """

    def __init__(
        self,
        base_url: str = "http://localhost:11434/v1",
        default_model: str = "llama3.2",
        api_key: str = "ollama",
        timeout_s: float = 60.0,
        connect_timeout_s: float = 3.0,
        **_: Any,
    ) -> None:
        self.base_url = base_url
        self.model = default_model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._client: Any = None

    def get_provider_name(self) -> str:
        return f"ollama:{self.model}"

    async def aclose(self) -> None:
        """Close the SDK client and its connection pool."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def get_cost_estimate(self, input_tokens: int, output_tokens: int) -> float:
        return 0.0

    async def execute_task(
        self, task: str, state: dict[str, Any], config: dict[str, Any]
    ) -> AgentResult:
        from lgp_lab.extras import require_extra

        require_extra("openai", "agents", "Ollama agent nodes")
        import openai

        if self._client is None:
            from lgp_lab.agents.openai_client import openai_client

            self._client = openai_client(
                self.base_url,
                self.api_key,
                timeout_s=self.timeout_s,
                connect_timeout_s=self.connect_timeout_s,
            )
        model = config.get("model") or self.model
        messages = []
        if config.get("system"):
            messages.append({"role": "system", "content": str(config["system"])})
        messages.append({"role": "user", "content": task})
        started = time.time()
        role = config.get("role", "agent")
        kwargs: dict[str, Any] = {}
        if config.get("temperature") is not None:
            kwargs["temperature"] = config["temperature"]
        try:
            response = await self._client.chat.completions.create(
                model=model, messages=messages, **kwargs
            )
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            error = LgpError(
                f"Ollama not reachable at {self.base_url}",
                hint="start `ollama serve` or set llm_providers.ollama.base_url",
            )
            record_generation(role, started=started, model=model, input=messages, error=str(exc))
            raise error from None
        except openai.NotFoundError:
            raise LgpError(
                f"model {model!r} not found at {self.base_url}",
                hint=f"run `ollama pull {model}` or set llm_providers.ollama.default_model",
            ) from None
        except openai.APIStatusError as exc:
            raise LgpError(
                f"{self.base_url} answered {exc.status_code}: {exc.message}",
                hint="check the model name and the server's log",
            ) from None
        text = response.choices[0].message.content or ""
        usage = {}
        if response.usage is not None:
            usage = {
                "input": response.usage.prompt_tokens,
                "output": response.usage.completion_tokens,
            }
        cost = self.get_cost_estimate(usage.get("input", 0), usage.get("output", 0))
        record_generation(
            role, started=started, model=model, input=messages, output=text, usage=usage, cost=cost
        )
        return AgentResult(output=text, model=model, usage=usage, cost=cost)


class ClaudeCodeProvider(LLMProvider):
    """Claude Code over the MCP mesh, one session per role and repository.

    Its marginal cost is $0.00 per call: it is covered by the fixed subscription, which
    traces report per invocation (``cost_per_invocation``).
    """

    def __init__(
        self,
        repository: str | None = None,
        server: str = "mesh",
        mcp_session: Any = None,
        **_: Any,
    ) -> None:
        self.repository = repository
        self.server = server
        self.mcp_session = mcp_session

    def get_provider_name(self) -> str:
        return f"claude_code:{self.server}/{self.repository or '?'}"

    def get_cost_estimate(self, input_tokens: int, output_tokens: int) -> float:
        return 0.0

    async def execute_task(
        self, task: str, state: dict[str, Any], config: dict[str, Any]
    ) -> AgentResult:
        from lgp_lab.agents.claude_code import mesh_execute

        role = config.get("role", "agent")
        repository = config.get("repository") or self.repository
        if not repository:
            raise LgpError(
                f"agent {role!r} on claude_code has no repository",
                hint="pass provider_config={'repository': 'NAME'} or set "
                "llm_providers.claude_code.repository",
            )
        data = await mesh_execute(
            repository,
            task,
            state.get(f"{role}_session_id"),
            mcp_session=self.mcp_session,
            server=self.server,
            span_name=f"{role}:mesh_execute:{repository}",
        )
        return AgentResult(
            output=data["output"], model=f"claude_code/{data.get('backend')}",
            session_id=data["session_id"],
        )  # fmt: skip


class OfflineProvider(LLMProvider):
    """No model: a deterministic answer that says it is offline (first runs, CI, no LLM)."""

    def get_provider_name(self) -> str:
        return "offline:echo"

    def get_cost_estimate(self, input_tokens: int, output_tokens: int) -> float:
        return 0.0

    async def execute_task(
        self, task: str, state: dict[str, Any], config: dict[str, Any]
    ) -> AgentResult:
        started = time.time()
        role = config.get("role", "agent")
        words = task.split()
        summary = " ".join(words[:40]) + (" …" if len(words) > 40 else "")
        text = (
            f"[offline echo backend: no LLM was called] {role} received a task of "
            f"{len(words)} words: {summary}"
        )
        usage = {"input": len(words), "output": len(text.split())}
        record_generation(
            role, started=started, model="offline", input=task, output=text, usage=usage, cost=0.0
        )
        return AgentResult(output=text, model="offline", usage=usage)


AUTO = "auto"
_PROBE_TIMEOUT_S = 1.0

# The agents created in this process, by (defining file, role): a reload that
# recreates a node replaces its entry instead of adding one.
_INJECTED: dict[tuple[str, str], dict[str, str]] = {}


def __getattr__(name: str) -> Any:
    if name == "PROVIDERS":  # kept for callers of the former hard-coded mapping
        from lgp_lab.agents.registry import providers

        return providers()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def injected_agents() -> list[dict[str, str]]:
    """The agents created in this process with their provider (``provider:model`` once run)."""
    return [dict(a) for a in _INJECTED.values()]


def create_agent_node(
    provider_type: str | None = "claude_code",
    config: dict[str, Any] | None = None,
    provider_config: dict[str, Any] | None = None,
) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    """An async LangGraph node backed by an LLM provider.

    Args:
        provider_type: ``claude_code`` (default), ``ollama``, ``offline``, any provider a
            package registers under the ``lgp_lab.providers`` entry point, or ``auto``:
            Ollama when enabled and reachable, else Claude Code over the mesh when a
            ``repository`` is given, else the offline provider (the log says why).
        config: The agent: ``role`` (default ``agent``), ``prompt`` (a template filled
            from the state, default ``{task}``), ``output_key`` (default
            ``<role>_output``), and optional ``system``, ``model``, ``temperature``.
        provider_config: Overrides of the provider's settings from ``llm_providers``.

    Each Lab that runs the node gets its own provider (settings come from its config),
    closed when that Lab closes.

    Raises:
        ValueError: An unknown provider; the message lists the known ones.
    """
    from lgp_lab.agents.registry import providers as registered

    provider_type = provider_type or "claude_code"
    classes = registered()
    if provider_type not in classes and provider_type != AUTO:
        known = ", ".join(sorted([*classes, AUTO]))
        raise ValueError(f"unknown provider {provider_type!r}; known providers: {known}")
    config = dict(config or {})
    role = str(config.setdefault("role", "agent"))
    output_key = config.get("output_key") or f"{role}_output"
    template = str(config.get("prompt") or "{task}")
    entry = {"role": role, "provider": provider_type}
    _INJECTED[(_caller_file(), role)] = entry
    cache = _ProviderCache()

    async def build(lab: Any) -> LLMProvider:
        if provider_type == AUTO:
            provider, why = await _auto_provider(lab, provider_config or {})
        else:
            settings: dict[str, Any] = {}
            section = getattr(lab.config.llm_providers, provider_type, None) if lab else None
            if section is not None:
                settings = section.model_dump()
            settings.update(provider_config or {})
            provider, why = classes[provider_type](**settings), ""
        entry["provider"] = provider.get_provider_name()
        log.info("agent %s → %s%s", role, provider.get_provider_name(), why)
        return provider

    async def node(state: dict[str, Any]) -> dict[str, Any]:
        task = template.format_map(_Missing(state))
        provider = await cache.get(current_lab(), build)
        result = await provider.execute_task(task, state, config)
        update: dict[str, Any] = {output_key: result.output}
        if result.session_id:
            update[f"{role}_session_id"] = result.session_id
        return update

    node.__name__ = f"{role}_{provider_type}"
    node.__qualname__ = node.__name__
    return node


class _ProviderCache:
    """One provider per Lab, held weakly by the Lab and closed when it closes.

    Keyed by the Lab object (not ``id(lab)``, which a new Lab can reuse), so a closed
    and collected Lab leaves nothing behind.
    """

    def __init__(self) -> None:
        self._by_lab: weakref.WeakKeyDictionary[Any, LLMProvider] = weakref.WeakKeyDictionary()
        self._no_lab: LLMProvider | None = None

    async def get(self, lab: Any, build: Callable[[Any], Awaitable[LLMProvider]]) -> LLMProvider:
        cached = self._no_lab if lab is None else self._by_lab.get(lab)
        if cached is not None:
            return cached
        provider = await build(lab)
        cached = self._no_lab if lab is None else self._by_lab.get(lab)
        if cached is not None:  # a concurrent run built one first: keep that one
            await provider.aclose()
            return cached
        if lab is None:
            self._no_lab = provider
        else:
            self._by_lab[lab] = provider
            lab.on_close(_closer(weakref.ref(lab), provider))
        return provider


def _closer(lab_ref: weakref.ReferenceType[Any], provider: LLMProvider) -> Callable[[], None]:
    def close() -> None:
        lab = lab_ref()
        if lab is None or not lab.engine.running:
            return
        if lab.engine.in_loop_thread():  # closed from a node: cannot wait on the loop
            lab.engine.loop.create_task(provider.aclose())
        else:
            lab.engine.call(provider.aclose(), timeout=2.0)

    return close


def _caller_file() -> str:
    import sys

    frame = sys._getframe(2)  # the code that called create_agent_node
    return str(frame.f_globals.get("__file__") or frame.f_globals.get("__name__") or "?")


async def _auto_provider(lab: Any, overrides: dict[str, Any]) -> tuple[LLMProvider, str]:
    """The configured provider when enabled and reachable, else offline (saying why)."""
    providers = lab.config.llm_providers if lab is not None else None
    if providers is not None and providers.ollama.enabled:
        settings = {**providers.ollama.model_dump(), **overrides}
        if await _reachable(settings["base_url"]):
            return OllamaProvider(**settings), ""
        reason = f"Ollama at {settings['base_url']} is not reachable"
    else:
        reason = "no LLM provider enabled (llm_providers.ollama.enabled: false)"
    repository = overrides.get("repository") or (
        providers.claude_code.repository if providers is not None else None
    )
    if repository and (providers is None or providers.claude_code.enabled):
        server = providers.claude_code.server if providers is not None else "mesh"
        return ClaudeCodeProvider(repository=repository, server=server), (
            f" (via the mesh: claude when installed, else its offline backend; {reason})"
        )
    return OfflineProvider(), f" ({reason}; answers are offline placeholders)"


async def _reachable(base_url: str, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether an OpenAI-compatible endpoint answers ``GET /models`` within ``timeout``.

    Async with one overall bound: the probe runs inside a node on the engine loop, where
    a blocking request would stall every other run and HTTP request with it.
    """
    import httpx

    try:
        # Built off the loop: httpx loads the CA bundle when a client is made (~100 ms of
        # blocking file I/O on a fresh install), even for a plain http:// URL.
        client = await asyncio.to_thread(httpx.AsyncClient, timeout=timeout)
        async with client:
            response = await asyncio.wait_for(client.get(base_url.rstrip("/") + "/models"), timeout)
        return response.status_code < 500
    except (httpx.HTTPError, TimeoutError, OSError):
        return False


class _Missing(dict):
    """Fills a prompt template from the state; absent keys become empty strings."""

    def __missing__(self, key: str) -> str:
        return ""
