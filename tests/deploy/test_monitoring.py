"""The monitoring resources agree with the code: the Grafana dashboard queries only metrics
the processes export, and the Compose Prometheus scrapes every process on the port it serves
its metrics on."""

import importlib
import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from tests.deploy import compose
from tests.deploy.dockerfile import stage_environment
from tests.deploy.project import ROOT, settings_class
from tests.deploy.test_consistency import compose_service, dockerfile
from tracker_notifier.metrics import metrics as notifier_metrics

DASHBOARD = ROOT / "deploy" / "grafana" / "task-tracker.json"
PROMETHEUS_CONFIG = ROOT / "compose" / "prometheus" / "prometheus.yml"
METRIC_NAME = re.compile(r"\btracker_[a-z_]+")
MODULES_WITH_METRICS = (
    "tracker_runtime.http_metrics",
    "tracker_runtime.metrics",
    "tracker_runtime.relay",
    "tracker_tasks.metrics",
    "tracker_scheduler.beat",
)
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
SCRAPED = {"auth": "port", "tasks": "port", "notifier": "metrics_port", "scheduler": "metrics_port"}
"""Each process Prometheus scrapes, and the setting of the port it serves its metrics on."""


def exported() -> set[str]:
    """The name of every sample the processes' metrics can export."""
    for module in MODULES_WITH_METRICS:
        importlib.import_module(module)
    notifier_metrics()
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("tracker_")
        for suffix in SUFFIXES[family.type]
    }


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_queries_only_metrics_the_processes_export() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {name for expr in expressions(dashboard) for name in METRIC_NAME.findall(expr)}

    assert queried, "the dashboard queries task-tracker's metrics"
    assert queried <= exported(), sorted(queried - exported())


def test_the_dashboard_shows_what_an_operator_on_call_opens_first() -> None:
    queried = " ".join(expressions(json.loads(DASHBOARD.read_text())))
    for metric in (
        "tracker_http_requests_total",
        "tracker_http_request_duration_seconds_bucket",
        "tracker_outbox_pending",
        "tracker_outbox_oldest_pending_age_seconds",
        "tracker_events_dead_lettered_total",
        "tracker_mails_failed_total",
        "tracker_digest_duration_seconds_bucket",
        "tracker_reminder_lateness_seconds_bucket",
        "tracker_live_streams",
    ):
        assert metric in queried, metric


def test_every_panel_reads_the_chosen_prometheus() -> None:
    """The data source is a variable: the dashboard works in any Grafana, not only Compose's."""
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


@pytest.mark.parametrize("process", sorted(SCRAPED))
def test_compose_prometheus_scrapes_each_process_on_its_metrics_port(process: str) -> None:
    [target] = scrape_jobs()[process]["dns_sd_configs"]
    image = stage_environment(dockerfile(process).final, {})
    variable = f"{process.upper()}_{SCRAPED[process].upper()}"
    port = int(image.get(variable, settings_class(process).model_fields[SCRAPED[process]].default))
    assert target["names"] == [process]
    assert target["port"] == port
    assert variable not in compose.environment_of(compose_service(process)), "the image's port"


def test_compose_prometheus_scrapes_nothing_else() -> None:
    assert set(scrape_jobs()) == set(SCRAPED)


def test_the_monitoring_profile_runs_prometheus_and_grafana_with_the_dashboard() -> None:
    for name in ("prometheus", "grafana"):
        assert compose_service(name)["profiles"] == ["monitoring"]
    mounts = compose_service("grafana")["volumes"]
    assert "../deploy/grafana:/etc/grafana/dashboards:ro" in mounts
    prometheus_mounts = compose_service("prometheus")["volumes"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus_mounts
