"""Kubernetes manifests rendered from the shipped production config validate against the
current Kubernetes schemas (kubernetes-validate, strict), and carry the probes, secret
references and auto-scaling settings of the config."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from conftest import write

from lgp_lab.config import load_config, parse_config_file
from lgp_lab.deploy.kubernetes import KubernetesTarget, render_manifests, to_yaml
from lgp_lab.errors import ConfigError

K8S_VERSION = kubernetes_validate.latest_version()


def _by_kind(objects: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objects}


@pytest.mark.parametrize("autoscaler", ["hpa", "keda"])
def test_default_production_manifests_validate(project: Path, autoscaler: str) -> None:
    config = load_config("production", project)
    objects = render_manifests(
        config, KubernetesTarget("agents", "registry.example.com/agents:1.0", autoscaler=autoscaler)
    )
    for obj in objects:
        if obj["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: no schema in kubernetes-validate (checked below)
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    kinds = [o["kind"] for o in objects]
    expected = "ScaledObject" if autoscaler == "keda" else "HorizontalPodAutoscaler"
    assert kinds == ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget", expected]
    # The stream kubectl applies parses back to the same objects.
    assert list(yaml.safe_load_all(to_yaml(objects))) == objects


def test_deployment_probes_secrets_and_config(project: Path) -> None:
    config = load_config("production", project)
    objects = _by_kind(render_manifests(config, KubernetesTarget("agents", "agents:1", "prod")))
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["args"][:3] == ["serve", "--env", "production"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LGP_ENV"]["value"] == "production"
    # Required values come from the Secret (references only, never a value).
    for var in ("DATABASE_URL", "LGP_API_KEY"):
        ref = env[var]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "agents-secrets", "key": var}
    # A secret-looking var with a default is optional; a plain one keeps its default.
    assert env["LANGFUSE_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "LGP_CORS_ORIGINS" not in env
    # The ConfigMap ships the environment's file as it is, mounted where serve reads it.
    shipped = objects["ConfigMap"]["data"]["production.yaml"]
    assert shipped == (project / "config" / "production.yaml").read_text()
    assert container["volumeMounts"][0]["mountPath"] == "/app/config"
    assert all(o["metadata"]["namespace"] == "prod" for o in objects.values())
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 1, "maxUnavailable": 0}
    assert "replicas" not in deployment["spec"]  # the autoscaler owns it


def test_auto_scaling_is_rendered_into_hpa_and_keda(project: Path) -> None:
    path = project / "config" / "production.yaml"
    text = path.read_text().replace("max_replicas: 10", "max_replicas: 7")
    text = text.replace("min_replicas: 1", "min_replicas: 2")
    text = text.replace("scale_down_delay: 300", "scale_down_delay: 120")
    text = text.replace("cpu_percent: 80", "cpu_percent: 65")
    write(path, text)
    config = load_config("production", project)
    hpa = _by_kind(render_manifests(config, KubernetesTarget("a", "a:1")))[
        "HorizontalPodAutoscaler"
    ]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 7)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 65
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    objects = _by_kind(
        render_manifests(
            config,
            KubernetesTarget("a", "a:1", autoscaler="keda", prometheus_url="http://prom:9090"),
        )
    )
    keda = objects["ScaledObject"]
    assert keda["apiVersion"] == "keda.sh/v1alpha1"
    spec = keda["spec"]
    assert spec["scaleTargetRef"] == {"name": "a"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (2, 7, 120)
    triggers = {t["type"]: t["metadata"] for t in spec["triggers"]}
    assert triggers["cpu"] == {"value": "65"}
    assert "status = 'pending'" in triggers["postgresql"]["query"]
    assert triggers["postgresql"]["connectionFromEnv"] == "DATABASE_URL"
    assert triggers["postgresql"]["targetQueryValue"] == "10"
    assert triggers["prometheus"]["threshold"] == "100"
    # Two replicas minimum: the disruption budget keeps one up.
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] == 1


def test_auto_scaling_config_errors_are_clear(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "config" / "production.yaml",
        "auto_scaling:\n  min_replicas: 5\n  max_replicas: 2\n",
    )
    with pytest.raises(ConfigError) as caught:
        parse_config_file(bad)
    text = str(caught.value)
    assert "auto_scaling" in text and "max_replicas (2) is below min_replicas (5)" in text
    typo = write(tmp_path / "config" / "hosted.yaml", "auto_scaling:\n  max_replica: 3\n")
    with pytest.raises(ConfigError, match="did you mean 'max_replicas'"):
        parse_config_file(typo)


def test_bad_target_names_the_value_and_fix(project: Path) -> None:
    with pytest.raises(ConfigError, match="'My_App' is not a valid Kubernetes name"):
        KubernetesTarget("My_App", "img:1")
    with pytest.raises(ConfigError, match="container image"):
        KubernetesTarget("app", "")
