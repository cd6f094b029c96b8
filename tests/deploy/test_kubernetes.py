"""deploy/kubernetes/: every overlay, alone and with each component, renders; the built-in
objects are valid for the Kubernetes API and pass a best-practice linter; and the workloads
run what Compose runs, with the environment Compose gives (found from the services' settings
classes), secrets only from Secrets."""

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from scripts import compose_env
from tests.deploy import compose, test_compose
from tests.deploy.dockerfile import stage_environment
from tests.deploy.kubernetes import (
    NAMESPACE,
    VARIANTS,
    Variant,
    container,
    environment_sources,
    find,
    objects,
    of_kind,
    pod_spec,
    rendered,
    tool,
    workloads,
)
from tests.deploy.project import (
    ROOT,
    has_prestart,
    python_package,
    python_services,
    service_names,
    settings_class,
    variables,
)
from tests.deploy.test_compose import SECRET_NAME, local_env
from tests.deploy.test_consistency import (
    compose_service,
    compose_services_running,
    dockerfile,
    must_be_set,
)
from tracker_contracts.messaging import NOTIFIER_TASK_QUEUE
from tracker_contracts.permissions import BROKER_PERMISSIONS, TOPIC_EXCHANGES
from tracker_runtime.provision import topology_definitions

KUBERNETES_VERSION = "1.30.0"  # the oldest release the manifests support (README)
PRODUCTION = Variant("production")
DEVELOPMENT = Variant("development")
IN_CLUSTER_DATA = [variant for variant in VARIANTS if variant.component == "in-cluster-data"]
KEDA = [variant for variant in VARIANTS if variant.component == "keda"]
MONITORING = [variant for variant in VARIANTS if variant.component == "monitoring"]
PYTHON_SERVICES = python_services()
HTTP_SERVICES = ["auth", "tasks"]
SCALED_SERVICES = ["auth", "tasks", "notifier"]
IMAGE_USER = 10001
APPLY_FIRST = "task-tracker/apply-first"
TMP = "/tmp"  # noqa: S108 (a container's own scratch folder, an emptyDir)
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (a pod listens on its own network namespace)

# The fixture that clears the variables the services read (shared with the Compose tests).
clean_environment = test_compose.clean_environment

# Custom resources of the operators the components use: the API server validates them against
# their operators' own definitions, which kubernetes-validate does not hold.
CUSTOM_RESOURCES = {
    "postgresql.cnpg.io/v1": {"Cluster", "Database"},
    # The cluster operator's cluster; the messaging topology operator's users, permissions
    # and the shared topology.
    "rabbitmq.com/v1beta1": {
        "RabbitmqCluster",
        "User",
        "Permission",
        "TopicPermission",
        "Exchange",
        "Queue",
        "Binding",
    },
    "keda.sh/v1alpha1": {"ScaledObject", "TriggerAuthentication"},
    "monitoring.coreos.com/v1": {"ServiceMonitor", "PodMonitor"},
}

# The linter's findings that do not apply, and why. Keyed by check, then by "Kind.name" (or
# "*" for every object).
LINTER_EXCEPTIONS: dict[str, dict[str, str]] = {
    "CKV_K8S_43": {
        "*": "images are pinned by the commit tag the image workflow pushes; an operator who "
        "wants digests sets them with kustomize `images: digest:` in the overlay",
    },
    "CKV_K8S_35": {
        "*": "the services read their settings, secrets included, from environment variables "
        "(twelve-factor, DESIGN.md section 6); the values come from Secrets, never the manifests",
    },
    "CKV_K8S_9": {
        "Deployment.notifier": "a Celery worker takes work from its queue; no Service routes "
        "to it, so there is nothing for readiness to gate (liveness reads its heartbeat)",
        "Deployment.scheduler": "Celery beat accepts no connections (liveness checks its "
        "schedule file)",
    },
}
# The development overlay follows the newest images of main.
DEVELOPMENT_LINTER_EXCEPTIONS = {"CKV_K8S_14": "development runs the `latest` images of main"}


def variant_id(variant: Variant) -> str:
    return variant.name


def deployment(variant: Variant, service: str) -> dict[str, Any]:
    return find(variant, "Deployment", service)


def workloads_running(variant: Variant, service: str) -> list[tuple[str, dict[str, Any]]]:
    """(Compose service, Kubernetes workload) pairs running this service's code."""
    pairs = []
    for name in compose_services_running(service):
        kind = "Job" if name.startswith("migrate-") else "Deployment"
        pairs.append((name, find(variant, kind, name)))
    return pairs


def carries_secret(name: str) -> bool:
    """Whether a variable holds a secret: a SecretStr in a settings class, a name ending in
    _PASSWORD, _SECRET or _KEY, or a URL that carries credentials (databases, the broker)."""
    secret_variables = {
        variable_name
        for service in PYTHON_SERVICES
        for variable in variables(settings_class(service))
        if variable.is_secret
        for variable_name in variable.names
    }
    return (
        name in secret_variables
        or bool(SECRET_NAME.search(name))
        or name.endswith(("_DATABASE_URL", "_RABBITMQ_URL"))
        or name == "RABBITMQ_URL"
    )


# ---- rendering, schemas and the linter ----


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_every_variant_renders_into_its_namespace(variant: Variant) -> None:
    found = objects(variant)
    assert {item["kind"] for item in found} >= {"Deployment", "Job", "Service", "Ingress"}
    for item in found:
        assert item["metadata"].get("namespace") == NAMESPACE, item["metadata"]["name"]
        assert item["metadata"]["labels"]["app.kubernetes.io/part-of"] == "task-tracker"


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_the_built_in_objects_are_valid_for_the_kubernetes_api(
    variant: Variant, tmp_path: Path
) -> None:
    built_in = []
    for item in objects(variant):
        custom = CUSTOM_RESOURCES.get(item["apiVersion"])
        if custom is None:
            built_in.append(item)
        else:
            assert item["kind"] in custom, f"{item['apiVersion']} {item['kind']} is unknown"
    manifest = tmp_path / "built-in.yaml"
    manifest.write_text(yaml.safe_dump_all(built_in))
    validate = tool("kubernetes-validate")
    result = subprocess.run(
        [
            validate,
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "--quiet",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_the_linter_finds_nothing_but_the_justified_exceptions(variant: Variant) -> None:
    with tempfile.TemporaryDirectory(prefix="checkov-") as folder:
        manifest = Path(folder) / f"{variant.name}.yaml"
        manifest.write_text(rendered(variant))
        checkov = [tool("checkov"), "--file", str(manifest), "--framework", "kubernetes"]
        result = subprocess.run(
            [*checkov, "--output", "json", "--quiet", "--compact", "--skip-download"],
            capture_output=True,
            text=True,
            check=False,
            cwd=folder,
        )
    assert result.returncode in {0, 1}, result.stderr
    report = json.loads(result.stdout)
    assert not isinstance(report, list), "one framework, one report"
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, summary
    # Each object counts once, and each container of a workload once more.
    assert summary["resource_count"] >= len(objects(variant)), "checkov read every object"
    unexpected = []
    for check in report["results"]["failed_checks"]:
        kind, _namespace, name = check["resource"].split(".", 2)
        exceptions = LINTER_EXCEPTIONS.get(check["check_id"], {})
        if "*" in exceptions or f"{kind}.{name}" in exceptions:
            continue
        if variant.overlay == "development" and check["check_id"] in DEVELOPMENT_LINTER_EXCEPTIONS:
            continue
        unexpected.append(f"{check['check_id']} {check['resource']}: {check['check_name']}")
    assert not unexpected, "\n".join(unexpected)


# ---- the environment: as Compose gives it, secrets from Secrets ----


@pytest.mark.parametrize("variant", [DEVELOPMENT, PRODUCTION], ids=variant_id)
@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_every_variable_a_service_must_get_is_set(variant: Variant, service: str) -> None:
    """Set by the workload, or by the image itself (the address it listens on, say)."""
    wanted = [variable for variable in variables(settings_class(service)) if must_be_set(variable)]
    image = stage_environment(dockerfile(service).final, {})
    for _, workload in workloads_running(variant, service):
        sources = {*image, *environment_sources(variant, workload)}
        missing = [v.name for v in wanted if not any(name in sources for name in v.names)]
        assert not missing, f"{workload['metadata']['name']} does not set {missing}"


@pytest.mark.parametrize("variant", [DEVELOPMENT, PRODUCTION], ids=variant_id)
@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_each_workload_sets_the_variables_compose_sets(variant: Variant, service: str) -> None:
    for compose_name, workload in workloads_running(variant, service):
        expected = set(compose.environment_of(compose_service(compose_name)))
        actual = set(environment_sources(variant, workload))
        assert actual == expected, f"{compose_name}: differs from Compose"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_values_written_in_compose_are_the_same_here(service: str) -> None:
    """A value Compose writes out (not from .env) is a fact of the stack, such as where auth
    answers or the scheduler's data folder; the manifests say the same."""
    for compose_name, workload in workloads_running(PRODUCTION, service):
        sources = environment_sources(PRODUCTION, workload)
        for name, value in compose.environment_of(compose_service(compose_name)).items():
            if compose.references(value) or value.startswith(compose.SECRETS_MOUNT):
                continue
            source = sources[name]
            assert (source.value or source.config_map) == value, f"{compose_name}: {name}"


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_secrets_come_only_from_secrets(variant: Variant) -> None:
    for workload in workloads(variant):
        for name, source in environment_sources(variant, workload).items():
            if carries_secret(name):
                assert source.secret is not None, f"{workload['metadata']['name']}: {name}"
    for config_map in of_kind(variant, "ConfigMap"):
        for name, value in config_map.get("data", {}).items():
            assert not carries_secret(name), f"ConfigMap {config_map['metadata']['name']}: {name}"
            assert "@" not in urlsplit(value).netloc, f"{name} carries credentials"
    assert not of_kind(variant, "Secret"), "Secrets are created by the cluster's operator"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_the_workloads_give_each_service_settings_it_accepts_in_production(
    service: str, clean_environment: pytest.MonkeyPatch
) -> None:
    """With each Secret holding what Compose would compute for the same variable."""
    compose_services = compose.load(compose.COMPOSE_FILE, local_env())["services"]
    secrets = compose_env.new_secrets()
    for compose_name, workload in workloads_running(PRODUCTION, service):
        secret_values = compose.environment_of(compose_services[compose_name], secrets)
        with clean_environment.context() as patch:
            for name, source in environment_sources(PRODUCTION, workload).items():
                value = secret_values[name] if source.secret else source.value or source.config_map
                patch.setenv(name, value or "")
            settings = settings_class(service)(_env_file=None)
            assert getattr(settings, "is_production", False), compose_name


def test_the_readme_lists_every_secret_the_workloads_read() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploy on Kubernetes", 1)[1].split("\n## ", 1)[0]
    for variant in VARIANTS:
        for workload in workloads(variant):
            for source in environment_sources(variant, workload).values():
                if source.secret is not None:
                    secret, key = source.secret
                    assert secret in section, f"README does not name the Secret {secret}"
                    assert key in section, f"README does not name {secret}'s key {key}"


# ---- the workloads ----


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_every_pod_is_unprivileged_with_a_read_only_root_and_bounded(variant: Variant) -> None:
    for workload in workloads(variant):
        name = workload["metadata"]["name"]
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        spec = container(workload)
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert security["runAsUser"] == IMAGE_USER, name
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        mounts = {mount["mountPath"]: mount["name"] for mount in spec["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert "emptyDir" in volumes[mounts[TMP]], f"{name}: /tmp is an emptyDir"
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(spec["resources"][bound]), f"{name}: {bound}"


@pytest.mark.parametrize("service", service_names())
def test_every_service_runs_its_own_image(service: str) -> None:
    image = container(deployment(PRODUCTION, service))["image"]
    assert image.startswith(f"ghcr.io/OWNER/REPO/{service}:"), image
    for workload in workloads(PRODUCTION):
        name = workload["metadata"]["name"]
        if name in {service, f"migrate-{service}"}:
            assert container(workload)["image"] == image, name


@pytest.mark.parametrize("service", HTTP_SERVICES)
def test_http_services_are_probed_on_their_health_endpoints(service: str) -> None:
    spec = container(deployment(PRODUCTION, service))
    image_port = int(stage_environment(dockerfile(service).final, {})[f"{service.upper()}_PORT"])
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    assert ports == {"http": image_port}
    assert spec["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service_object = find(PRODUCTION, "Service", service)
    assert service_object["spec"]["ports"][0]["port"] == image_port, "reached as <name>:8000"


def heartbeat_limit(command: str) -> float:
    """The age in seconds past which a heartbeat check fails."""
    match = re.search(r"st_mtime < (\d+)", command)
    assert match is not None, command
    return float(match.group(1))


def test_the_worker_and_beat_have_liveness_checks_that_mean_something() -> None:
    notifier = container(deployment(PRODUCTION, "notifier"))
    command = " ".join(notifier["livenessProbe"]["exec"]["command"])
    image = stage_environment(dockerfile("notifier").final, {})
    healthcheck = dockerfile("notifier").final.healthcheck
    assert healthcheck is not None
    interval = settings_class("notifier").model_fields["heartbeat_interval"].default
    assert "NOTIFIER_HEARTBEAT_FILE" in command
    assert image["NOTIFIER_HEARTBEAT_FILE"].startswith(f"{TMP}/"), "on the writable /tmp"
    assert heartbeat_limit(command) == heartbeat_limit(" ".join(healthcheck))
    # Several heartbeats may be missed (a slow loop, a broker reconnecting), not many.
    assert 3 * interval <= heartbeat_limit(command) <= 12 * interval
    scheduler = container(deployment(PRODUCTION, "scheduler"))
    command = " ".join(scheduler["livenessProbe"]["exec"]["command"])
    assert "SCHEDULER_DATA_DIR" in command
    assert "st_mtime" in command


def test_a_stopping_notifier_has_time_to_finish_its_mail() -> None:
    notifier = deployment(PRODUCTION, "notifier")
    assert pod_spec(notifier)["terminationGracePeriodSeconds"] >= 60
    assert container(notifier)["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    for service in [*HTTP_SERVICES, "frontend"]:
        assert "preStop" in container(deployment(PRODUCTION, service))["lifecycle"], service


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_exactly_one_scheduler_runs(variant: Variant) -> None:
    scheduler = deployment(variant, "scheduler")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
    for autoscaler in of_kind(variant, "HorizontalPodAutoscaler") + of_kind(
        variant, "ScaledObject"
    ):
        assert autoscaler["spec"]["scaleTargetRef"]["name"] != "scheduler"
    data_dir = environment_sources(variant, scheduler)["SCHEDULER_DATA_DIR"].value
    mounts = {mount["mountPath"] for mount in container(scheduler)["volumeMounts"]}
    assert data_dir in mounts, "beat's data folder is writable"


@pytest.mark.parametrize("variant", [DEVELOPMENT, PRODUCTION], ids=variant_id)
def test_the_first_apply_holds_the_migrations_and_what_they_read(variant: Variant) -> None:
    """README, "Apply": the objects labelled to go first are the migrations and the
    ConfigMaps they read, so the Jobs can start before anything else exists."""
    first = [
        item for item in objects(variant) if item["metadata"]["labels"].get(APPLY_FIRST) == "true"
    ]
    jobs = {item["metadata"]["name"] for item in first if item["kind"] == "Job"}
    assert jobs == {item["metadata"]["name"] for item in of_kind(variant, "Job")}
    config_maps = {item["metadata"]["name"] for item in first if item["kind"] == "ConfigMap"}
    for job in of_kind(variant, "Job"):
        read = {
            entry["configMapRef"]["name"]
            for entry in container(job).get("envFrom", [])
            if "configMapRef" in entry
        }
        assert read <= config_maps, job["metadata"]["name"]
    assert {item["kind"] for item in first} == {"Job", "ConfigMap"}


@pytest.mark.parametrize("service", [name for name in PYTHON_SERVICES if has_prestart(name)])
def test_migrations_run_the_prestart_compose_runs(service: str) -> None:
    job = find(PRODUCTION, "Job", f"migrate-{service}")
    assert container(job)["command"] == compose_service(f"migrate-{service}")["entrypoint"]
    assert container(job)["command"] == ["python", "-m", f"{python_package(service)}.prestart"]
    assert pod_spec(job)["restartPolicy"] in {"OnFailure", "Never"}


def test_production_scales_and_survives_node_drains() -> None:
    autoscaled = {
        item["spec"]["scaleTargetRef"]["name"]
        for item in of_kind(PRODUCTION, "HorizontalPodAutoscaler")
    }
    budgets = {
        item["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for item in of_kind(PRODUCTION, "PodDisruptionBudget")
    }
    assert set(SCALED_SERVICES) <= autoscaled
    assert set(SCALED_SERVICES) <= budgets
    for service in SCALED_SERVICES:
        spec = deployment(PRODUCTION, service)["spec"]
        assert "replicas" not in spec, f"{service}: its autoscaler owns the replica count"
        keys = {
            item["topologyKey"] for item in spec["template"]["spec"]["topologySpreadConstraints"]
        }
        assert "kubernetes.io/hostname" in keys, service


@pytest.mark.parametrize("variant", MONITORING, ids=variant_id)
def test_prometheus_scrapes_every_process_on_its_metrics_port(variant: Variant) -> None:
    service_monitor = find(variant, "ServiceMonitor", "task-tracker-http")
    pod_monitor = find(variant, "PodMonitor", "task-tracker-celery")
    [endpoint] = service_monitor["spec"]["endpoints"]
    [pod_endpoint] = pod_monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert (pod_endpoint["port"], pod_endpoint["path"]) == ("metrics", "/metrics")
    scraped = {
        *service_monitor["spec"]["selector"]["matchExpressions"][0]["values"],
        *pod_monitor["spec"]["selector"]["matchExpressions"][0]["values"],
    }
    assert scraped == {*HTTP_SERVICES, "notifier", "scheduler"}
    allowed = {
        port["port"]
        for rule in find(variant, "NetworkPolicy", "allow-prometheus")["spec"]["ingress"]
        for port in rule["ports"]
    }
    for name in HTTP_SERVICES:
        assert service_monitor["spec"]["selector"]["matchExpressions"][0]["key"] == (
            "app.kubernetes.io/name"
        )
        assert find(variant, "Service", name)["spec"]["ports"][0]["name"] == "http"
    for name in ("notifier", "scheduler"):
        ports = {
            port["name"]: port["containerPort"]
            for port in container(deployment(variant, name))["ports"]
        }
        default = settings_class(name).model_fields["metrics_port"].default
        assert ports["metrics"] == default, f"{name} serves its metrics on its default port"
        assert default in allowed
        image = stage_environment(dockerfile(name).final, {})
        assert image[f"{name.upper()}_METRICS_HOST"] == ALL_INTERFACES
    assert 8000 in allowed


@pytest.mark.parametrize("variant", KEDA, ids=variant_id)
def test_keda_scales_the_notifier_on_its_queue(variant: Variant) -> None:
    scaled = find(variant, "ScaledObject", "notifier")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "notifier"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == NOTIFIER_TASK_QUEUE
    autoscaled = {
        item["spec"]["scaleTargetRef"]["name"]
        for item in of_kind(variant, "HorizontalPodAutoscaler")
    }
    assert "notifier" not in autoscaled, "one autoscaler per workload"


@pytest.mark.parametrize("variant", [DEVELOPMENT, PRODUCTION], ids=variant_id)
def test_the_ingress_serves_the_public_url_over_tls(variant: Variant) -> None:
    ingress = find(variant, "Ingress", "frontend")
    public_url = find_config_value(variant, "PUBLIC_URL")
    host = urlsplit(public_url).hostname
    assert urlsplit(public_url).scheme == "https"
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [host]
    assert ingress["spec"]["tls"][0]["hosts"] == [host]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]


def find_config_value(variant: Variant, name: str) -> str:
    values = [
        str(item["data"][name]) for item in of_kind(variant, "ConfigMap") if name in item["data"]
    ]
    assert len(values) == 1, name
    return values[0]


SITE_SPECIFIC_GATEWAY_SETTINGS = {"GATEWAY_TRUSTED_PROXIES", "GATEWAY_HSTS"}
"""What stands in front of the gateway differs: Compose reads these from its .env."""


def test_the_gateway_proxies_to_the_services_by_their_names() -> None:
    sources = environment_sources(PRODUCTION, deployment(PRODUCTION, "frontend"))
    compose_environment = compose.environment_of(compose_service("frontend"))
    values = {name: source.value for name, source in sources.items()}
    assert set(values) == set(compose_environment)
    for name in set(values) - SITE_SPECIFIC_GATEWAY_SETTINGS:
        assert values[name] == compose_environment[name], name
    assert str(values["GATEWAY_HSTS"]).startswith("max-age=")
    services = {item["metadata"]["name"] for item in of_kind(PRODUCTION, "Service")}
    for name in ("AUTH_UPSTREAM", "TASKS_UPSTREAM"):
        assert compose_environment[name].split(":")[0] in services


# ---- the network ----


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_the_network_is_denied_by_default(variant: Variant) -> None:
    deny = find(variant, "NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_only_the_notifier_reaches_mail_servers() -> None:
    smtp_ports = {25, 465, 587}
    for policy in of_kind(PRODUCTION, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            ports = {port["port"] for port in rule.get("ports", [])}
            if ports & smtp_ports:
                selected = policy["spec"]["podSelector"]["matchLabels"]
                assert selected == {"app.kubernetes.io/name": "notifier"}, policy["metadata"]


# ---- PostgreSQL and RabbitMQ in the cluster ----


@pytest.mark.parametrize("variant", IN_CLUSTER_DATA, ids=variant_id)
def test_in_cluster_data_has_one_database_and_role_per_service(variant: Variant) -> None:
    (cluster,) = of_kind(variant, "Cluster")
    assert cluster["spec"]["instances"] == 3
    roles = {role["name"] for role in cluster["spec"]["managed"]["roles"]}
    databases = {
        item["spec"]["name"]: item["spec"]["owner"] for item in of_kind(variant, "Database")
    }
    assert set(databases.values()) == roles, "each role owns one database"
    compose_databases = {
        make_url(url).database: make_url(url).username
        for name, url in compose_env.new_secrets().items()
        if name.endswith("_database_url")
    }
    assert databases == compose_databases
    for item in of_kind(variant, "Database"):
        assert item["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    (rabbitmq,) = of_kind(variant, "RabbitmqCluster")
    assert rabbitmq["spec"]["replicas"] == 3


def test_the_readme_urls_name_the_in_cluster_databases() -> None:
    """The connection URLs the README has operators store point at the right databases."""
    readme = (ROOT / "README.md").read_text()
    variant = IN_CLUSTER_DATA[0]
    databases = {item["spec"]["name"] for item in of_kind(variant, "Database")}
    found = set(re.findall(r"@task-tracker-postgres-rw:5432/(\w+)", readme))
    assert found == databases


@pytest.mark.parametrize("variant", IN_CLUSTER_DATA, ids=variant_id)
def test_in_cluster_data_has_one_broker_user_per_service_with_its_permissions(
    variant: Variant,
) -> None:
    """The Messaging Topology Operator's users and permissions say what
    ``tracker_contracts.permissions`` says (what `tracker_runtime.provision` applies)."""
    users = {item["metadata"]["name"]: item["spec"] for item in of_kind(variant, "User")}
    assert set(users) == {f"task-tracker-{service}" for service in BROKER_PERMISSIONS}
    for service, permissions in BROKER_PERMISSIONS.items():
        user = f"task-tracker-{service}"
        assert users[user]["importCredentialsSecret"] == {
            "name": f"task-tracker-rabbitmq-{service}"
        }
        (granted,) = [
            item["spec"]
            for item in of_kind(variant, "Permission")
            if item["spec"]["userReference"]["name"] == user
        ]
        assert granted["vhost"] == "/"
        assert granted["permissions"] == {
            "configure": permissions.configure_pattern,
            "write": permissions.write_pattern,
            "read": permissions.read_pattern,
        }
        topics = {
            item["spec"]["permissions"]["exchange"]: item["spec"]["permissions"]
            for item in of_kind(variant, "TopicPermission")
            if item["spec"]["userReference"]["name"] == user
        }
        assert topics == {
            exchange: {
                "exchange": exchange,
                "write": permissions.topic_write_pattern(exchange),
                "read": permissions.topic_read_pattern(exchange),
            }
            for exchange in TOPIC_EXCHANGES
        }


@pytest.mark.parametrize("variant", IN_CLUSTER_DATA, ids=variant_id)
def test_in_cluster_data_declares_the_shared_topology(variant: Variant) -> None:
    """The Messaging Topology Operator's exchanges, queues and bindings are what
    `tracker_runtime.provision` declares elsewhere (``topology_definitions``), in the
    virtual host the users' permissions are on, on the cluster of the component."""
    wanted = topology_definitions(["/"])
    kinds = ("Exchange", "Queue", "Binding")
    for item in (item for kind in kinds for item in of_kind(variant, kind)):
        assert item["spec"].pop("rabbitmqClusterReference") == {"name": "task-tracker-rabbitmq"}
    exchanges = [item["spec"] for item in of_kind(variant, "Exchange")]
    assert sorted(
        (e["name"], e["vhost"], e["type"], e["durable"], e["autoDelete"], e.get("arguments", {}))
        for e in exchanges
    ) == sorted(
        (e["name"], e["vhost"], e["type"], e["durable"], e["auto_delete"], e["arguments"])
        for e in wanted["exchanges"]
    )
    queues = [item["spec"] for item in of_kind(variant, "Queue")]
    assert sorted(
        (
            q["name"],
            q["vhost"],
            q["durable"],
            q["autoDelete"],
            {"x-queue-type": q["type"], **q.get("arguments", {})},
        )
        for q in queues
    ) == sorted(
        (q["name"], q["vhost"], q["durable"], q["auto_delete"], q["arguments"])
        for q in wanted["queues"]
    )
    bindings = [item["spec"] for item in of_kind(variant, "Binding")]
    assert sorted(
        (b["vhost"], b["source"], b["destination"], b["destinationType"], b["routingKey"])
        for b in bindings
    ) == sorted(
        (b["vhost"], b["source"], b["destination"], b["destination_type"], b["routing_key"])
        for b in wanted["bindings"]
    )
