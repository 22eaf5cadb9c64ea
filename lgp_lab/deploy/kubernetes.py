"""Kubernetes manifests for a project's API, rendered from its environment's config.

The same container runs ``lgp-lab serve --env <env>`` on every replica (the workflows
are in the image; the environment's YAML is a ConfigMap). Rendered objects:

- ``ConfigMap`` with ``config/<env>.yaml``, mounted where the server reads it;
- ``Deployment`` with probes on ``/health`` (liveness, startup) and ``/ready``
  (readiness: workflows loaded, database answering), a rolling update that never drops
  below the current replicas, and every ``${VAR}`` of the config read from a Secret
  (references only: no secret value is ever rendered);
- ``Service`` (ClusterIP, port 80) and ``PodDisruptionBudget``;
- with ``auto_scaling.enabled``: a ``HorizontalPodAutoscaler`` on CPU (``autoscaler="hpa"``)
  or a KEDA ``ScaledObject`` (``autoscaler="keda"``) on CPU and the pending-runs count
  (PostgreSQL ``lgp_runs``), plus requests per second when a Prometheus address is
  given. Scale-down stabilisation is ``auto_scaling.scale_down_delay`` in both.

When the environment's database is only reachable from inside the cluster
(:func:`cluster_database_note`), the release cannot be recorded from where the manifests
are rendered: :func:`release_recorder` renders it into a ``ConfigMap`` and a ``Job`` that
records it in the cluster's database (``lgp-lab releases --record``) once applied.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lgp_lab.errors import ConfigError

__all__ = [
    "KubernetesTarget",
    "cluster_database_note",
    "release_recorder",
    "render_id",
    "render_manifests",
    "to_yaml",
]

_PORT = 8000
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")
_SECRET_HINT = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|DATABASE_URL|_URL$|DSN", re.I)
_CONFIG_DIR = "/app/config"
_PENDING_RUNS = "SELECT COUNT(*) FROM lgp_runs WHERE status = 'pending'"
_RELEASE_DIR = "/release"
_RELEASE_KEY = "release.json.gz"
# kubectl apply keeps the whole object in an annotation (at most 256 KiB in all).
_MAX_RELEASE_CHARS = 200_000
_PROBE_TIMEOUT_S = 5.0
# One week: a finished recording Job stays inspectable, then goes (it records once).
_JOB_TTL_S = 7 * 24 * 3600


@dataclass
class KubernetesTarget:
    """Where and how the app is deployed.

    Attributes:
        name: The app's name (DNS label): object names and the ``app.kubernetes.io/name``
            label.
        image: The container image holding the project (and lgp-lab).
        namespace: The namespace; ``None`` leaves it to ``kubectl -n``.
        autoscaler: ``hpa`` (any cluster) or ``keda`` (KEDA installed).
        prometheus_url: A Prometheus server KEDA can query for requests per second.
        secret_name: The Secret the ``${VAR}`` values come from (default ``<name>-secrets``).
    """

    name: str
    image: str
    namespace: str | None = None
    autoscaler: Literal["hpa", "keda"] = "hpa"
    prometheus_url: str | None = None
    secret_name: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"deployment name {self.name!r} is not a valid Kubernetes name",
                hint="use lowercase letters, digits and '-', starting and ending with a "
                "letter or digit, at most 52 characters (e.g. my-agents)",
            )
        if not self.image or any(c.isspace() for c in self.image):
            raise ConfigError(
                f"container image {self.image!r} is not valid",
                hint="pass the image that holds the project, e.g. --image "
                "registry.example.com/agents:1.4.0",
            )
        if self.autoscaler not in ("hpa", "keda"):
            raise ConfigError(
                f"autoscaler {self.autoscaler!r} is not known",
                hint="use hpa (any cluster) or keda (KEDA installed)",
            )


def render_manifests(config: Any, target: KubernetesTarget) -> list[dict[str, Any]]:
    """The Kubernetes objects that run ``config``'s environment as ``target``.

    Raises:
        ConfigError: The config has no file to ship (built-in defaults) or the target's
            name/image is not valid.
    """
    if config.source is None:
        raise ConfigError(
            f"environment {config.environment!r} has no config file to ship",
            hint=f"create config/{config.environment}.yaml (lgp-lab create writes one)",
        )
    text = config.source.read_text(encoding="utf-8")
    secret = target.secret_name or f"{target.name}-secrets"
    labels = {"app.kubernetes.io/name": target.name, "app.kubernetes.io/component": "api"}
    objects = [
        _config_map(target, labels, config.source.name, text),
        _deployment(config, target, labels, secret, _env_refs(text, secret)),
        _service(target, labels),
        _pdb(config, target, labels),
    ]
    scaling = config.auto_scaling
    if scaling.enabled:
        if target.autoscaler == "keda":
            objects.append(_scaled_object(config, target, labels))
        else:
            objects.append(_hpa(config, target, labels))
    return objects


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """The objects as one multi-document YAML stream (what ``kubectl apply -f`` takes)."""
    import yaml

    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects)


def _meta(target: KubernetesTarget, labels: dict[str, str], suffix: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": target.name + suffix, "labels": dict(labels)}
    if target.namespace:
        meta["namespace"] = target.namespace
    return meta


def _env_refs(text: str, secret: str) -> list[dict[str, Any]]:
    """One env entry per ``${VAR}`` of the config: required from the Secret when the
    config has no default, optional when it has one and looks secret, else left to the
    default."""
    refs: dict[str, dict[str, Any]] = {}
    for match in _VAR.finditer(text):
        name, default = match.group(1), match.group(2)
        if name in refs or (default is not None and not _SECRET_HINT.search(name)):
            continue
        ref: dict[str, Any] = {"name": secret, "key": name}
        if default is not None:
            ref["optional"] = True
        refs[name] = {"name": name, "valueFrom": {"secretKeyRef": ref}}
    return [refs[k] for k in sorted(refs)]


def _config_map(
    target: KubernetesTarget, labels: dict[str, str], filename: str, text: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(target, labels, "-config"),
        "data": {filename: text},
    }


def _deployment(
    config: Any,
    target: KubernetesTarget,
    labels: dict[str, str],
    secret: str,
    env_refs: list[dict[str, Any]],
) -> dict[str, Any]:
    scaling = config.auto_scaling
    replicas = scaling.min_replicas if scaling.enabled else max(1, scaling.min_replicas)
    env = [{"name": "LGP_ENV", "value": config.environment}, *env_refs]
    annotations = {}
    if config.metrics.enabled and config.metrics.public:
        annotations = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(_PORT),
            "prometheus.io/path": "/metrics",
        }
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    container = {
        "name": "api",
        "image": target.image,
        "command": ["lgp-lab"],
        "args": ["serve", "--env", config.environment, "--host", "0.0.0.0", "--port", str(_PORT)],
        "workingDir": "/app",
        "ports": [{"name": "http", "containerPort": _PORT, "protocol": "TCP"}],
        "env": env,
        "resources": {
            # CPU autoscaling is a percentage of the request: it must be set.
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"memory": "1Gi"},
        },
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 60},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 2,
        },
        "volumeMounts": [{"name": "config", "mountPath": _CONFIG_DIR, "readOnly": True}],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
    }
    template_meta: dict[str, Any] = {"labels": dict(labels)}
    if annotations:
        template_meta["annotations"] = annotations
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(labels)},
        # One new replica at a time, never fewer ready than before (gated by /ready).
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": {
            "metadata": template_meta,
            "spec": {
                "containers": [container],
                "terminationGracePeriodSeconds": 30,
                "volumes": [{"name": "config", "configMap": {"name": f"{target.name}-config"}}],
            },
        },
    }
    if scaling.enabled:
        spec.pop("replicas")  # the autoscaler owns the count; apply must not reset it
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(target, labels),
        "spec": spec,
    }
    deployment["metadata"]["annotations"] = {"lgp-lab/secret": secret}
    if scaling.enabled:
        deployment["metadata"]["annotations"]["lgp-lab/min-replicas"] = str(replicas)
    return deployment


def _service(target: KubernetesTarget, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(target, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(labels),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _pdb(config: Any, target: KubernetesTarget, labels: dict[str, str]) -> dict[str, Any]:
    # With one replica, minAvailable 1 would block every node drain: allow one down.
    several = config.auto_scaling.enabled and config.auto_scaling.min_replicas > 1
    budget = {"minAvailable": 1} if several else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(target, labels),
        "spec": {**budget, "selector": {"matchLabels": dict(labels)}},
    }


def _behavior(delay: int) -> dict[str, Any]:
    return {
        "scaleDown": {
            "stabilizationWindowSeconds": delay,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}],
        },
    }


def _hpa(config: Any, target: KubernetesTarget, labels: dict[str, str]) -> dict[str, Any]:
    scaling = config.auto_scaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(target, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.scale_up_threshold.cpu_percent,
                        },
                    },
                }
            ],
            "behavior": _behavior(scaling.scale_down_delay),
        },
    }


def _scaled_object(config: Any, target: KubernetesTarget, labels: dict[str, str]) -> dict[str, Any]:
    scaling = config.auto_scaling
    triggers: list[dict[str, Any]] = [
        {
            "type": "cpu",
            "metricType": "Utilization",
            "metadata": {"value": str(scaling.scale_up_threshold.cpu_percent)},
        }
    ]
    if config.checkpoint.backend == "postgres":
        # Queued runs per replica, counted where every replica claims them.
        triggers.append(
            {
                "type": "postgresql",
                "metadata": {
                    "query": _PENDING_RUNS,
                    "targetQueryValue": str(scaling.pending_runs_per_replica),
                    "connectionFromEnv": _url_var(config) or "DATABASE_URL",
                },
            }
        )
    if target.prometheus_url:
        triggers.append(
            {
                "type": "prometheus",
                "metadata": {
                    "serverAddress": target.prometheus_url,
                    "query": ('sum(rate(lgp_http_requests_total{route!="unmatched"}[1m]))'),
                    "threshold": f"{scaling.scale_up_threshold.requests_per_second:g}",
                },
            }
        )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": _meta(target, labels),
        "spec": {
            "scaleTargetRef": {"name": target.name},
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "cooldownPeriod": scaling.scale_down_delay,
            "advanced": {
                "horizontalPodAutoscalerConfig": {"behavior": _behavior(scaling.scale_down_delay)}
            },
            "triggers": triggers,
        },
    }


def _url_var(config: Any) -> str | None:
    """The env var the config's ``checkpoint.url`` comes from (``DATABASE_URL``)."""
    text = config.source.read_text(encoding="utf-8") if config.source else ""
    for line in text.splitlines():
        if line.strip().startswith("url:"):
            match = _VAR.search(line)
            if match:
                return match.group(1)
    return None


def cluster_database_note(config: Any, target: KubernetesTarget | None = None) -> str | None:
    """Why ``config``'s database cannot be checked or written from this machine, or
    ``None`` when it can (it answers here, or it is a SQLite file).

    The manifests read the database URL from the cluster's Secret; this machine's
    ``DATABASE_URL`` may be unset, or name a host only the cluster resolves or reaches.
    Only the TCP connection is tried (bounded): a server that answers but refuses the
    login is reachable, and its error is for the caller to report.
    """
    checkpoint = config.checkpoint
    if checkpoint.backend == "sqlite":
        return None
    secret = (target.secret_name or f"{target.name}-secrets") if target else "the Secret"
    url = (checkpoint.url or "").strip()
    if not url:
        names = sorted(v for v in config.missing_env if "URL" in v.upper())
        variable = names[0] if names else "checkpoint.url"
        return (
            f"the {checkpoint.backend} database is only reachable from inside the cluster "
            f"({variable} is not set here; the pods read it from {secret})"
        )
    cause = _unreachable(url)
    if cause is None:
        return None
    from lgp_lab.config import redact_url

    return (
        f"the {checkpoint.backend} database at {redact_url(url)} is only reachable from "
        f"inside the cluster (from here: {cause}); the pods' /ready probe checks it once "
        "the manifests are applied"
    )


def _unreachable(url: str) -> str | None:
    """Why no TCP connection to the server of ``url`` opens from here, or ``None``."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(url)
    except Exception:
        return None  # not parsed here: opening the database reports it, as before
    hosts = str(params.get("hostaddr") or params.get("host") or "localhost").split(",")
    ports = str(params.get("port") or "5432").split(",")
    causes = []
    for i, host in enumerate(hosts):
        port = ports[i] if i < len(ports) else ports[-1]
        if host.startswith("/"):  # a unix socket directory
            if (Path(host) / f".s.PGSQL.{port}").exists():
                return None
            causes.append(f"no socket {host}/.s.PGSQL.{port}")
            continue
        try:
            with socket.create_connection((host, int(port)), timeout=_PROBE_TIMEOUT_S):
                return None
        except socket.gaierror:
            causes.append(f"host {host!r} is not known")
        except TimeoutError:
            causes.append(f"{host}:{port} did not answer in {_PROBE_TIMEOUT_S:.0f}s")
        except ConnectionRefusedError:
            causes.append(f"{host}:{port} refused the connection")
        except (OSError, ValueError) as exc:
            causes.append(f"{host}:{port}: {exc.strerror or exc}")
    return "; ".join(causes)


def render_id(release: Any) -> str:
    """The id of one rendering of ``release`` (its files and its manifests): the same
    rendering gets the same id, so applying it again changes nothing."""
    digest = hashlib.sha256()
    for part in (release.environment, release.content_hash, release.manifests or ""):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:12]


def release_recorder(config: Any, target: KubernetesTarget, release: Any) -> list[dict[str, Any]]:
    """A ``ConfigMap`` holding ``release`` and a ``Job`` that records it in the cluster's
    database when applied (``lgp-lab releases --record``, once per rendering).

    ``release.render_id`` must be set (:func:`render_id`). The Job runs the app's image
    with the app's config and Secret, as the API's pods do.

    Raises:
        ConfigError: The packed release is too large to apply as a ConfigMap.
    """
    from lgp_lab.storage.releases import pack_release

    if not release.render_id:
        raise ValueError("release.render_id is not set; set it with render_id(release)")
    payload = base64.b64encode(pack_release(release)).decode("ascii")
    if len(payload) > _MAX_RELEASE_CHARS:
        raise ConfigError(
            f"the release is {len(payload)} characters packed, more than the "
            f"{_MAX_RELEASE_CHARS} a ConfigMap applied with kubectl apply can carry",
            hint="make the database reachable from here (kubectl port-forward to it, and "
            "DATABASE_URL on 127.0.0.1) so the release is recorded directly, or keep "
            "data out of workflows/ (in the image or object storage)",
        )
    suffix = f"-rel-{release.render_id[:6]}"  # with a 52-character name: 63, a DNS label
    labels = {"app.kubernetes.io/name": target.name, "app.kubernetes.io/component": "release"}
    text = config.source.read_text(encoding="utf-8") if config.source else ""
    secret = target.secret_name or f"{target.name}-secrets"
    container = {
        "name": "record",
        "image": target.image,
        "command": ["lgp-lab"],
        "args": ["releases", "--env", config.environment, "--record",
                 f"{_RELEASE_DIR}/{_RELEASE_KEY}"],
        "workingDir": "/app",
        "env": [{"name": "LGP_ENV", "value": config.environment}, *_env_refs(text, secret)],
        "resources": {"requests": {"cpu": "50m", "memory": "256Mi"},
                      "limits": {"memory": "512Mi"}},
        "volumeMounts": [
            {"name": "config", "mountPath": _CONFIG_DIR, "readOnly": True},
            {"name": "release", "mountPath": _RELEASE_DIR, "readOnly": True},
        ],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
    }  # fmt: skip
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(target, labels, suffix),
        "binaryData": {_RELEASE_KEY: payload},
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(target, labels, suffix),
        "spec": {
            "backoffLimit": 4,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": _JOB_TTL_S,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": f"{target.name}-config"}},
                        {"name": "release", "configMap": {"name": target.name + suffix}},
                    ],
                },
            },
        },
    }
    return [config_map, job]
