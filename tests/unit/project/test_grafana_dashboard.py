"""The Grafana dashboard shipped in deploy/grafana queries exactly the metrics the services export."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY
from tests.paths import ROOT

import shared.metrics  # noqa: F401 - registers the metrics

SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_every_metric_of_the_readme_table_has_a_panel_and_every_panel_queries_an_exported_metric() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "messaging.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queried = {_base(name) for expr in expressions for name in re.findall(r"\bmessaging_[a-z_]+", expr)}
    exported = {metric.name for metric in REGISTRY.collect() if metric.name.startswith("messaging_")}
    readme = (ROOT / "README.md").read_text()
    documented = {_base(name) for name in re.findall(r"`(messaging_[a-z_]+)`", readme)}
    assert queried <= exported, f"panels query metrics nobody exports: {sorted(queried - exported)}"
    assert documented <= queried, f"documented metrics without a panel: {sorted(documented - queried)}"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
