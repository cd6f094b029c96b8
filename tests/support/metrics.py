"""Reading a process's own Prometheus metrics in tests, and another process's from its
``/metrics`` text."""

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families


def sample(name: str, **labels: str) -> float:
    """The current value of the sample ``name`` with ``labels`` in this process (0 before
    it was first counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with ``labels`` in a scraped ``/metrics`` text (0
    when it is absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0
