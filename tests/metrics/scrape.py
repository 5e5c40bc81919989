"""Reading a /metrics scrape back (prometheus-client's own parser) and the alert rules' metric names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

RULES = Path(__file__).resolve().parents[2] / "docs" / "prometheus-alerts.yml"
# PromQL words that look like metric names: functions, aggregations, keywords, and label names in by()/on().
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHERS = re.compile(r"\{[^}]*\}")
_DURATIONS = re.compile(r"\[[^\]]*\]")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name (with _total, _bucket, ... suffixes) -> [(labels, value)]; declared families map to []."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        found.setdefault(family.name, [])
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for lab, v in found.get(name, []) if all(lab.get(k) == w for k, w in labels.items()))


def rule_groups() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return document["groups"]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (ours all begin with wallet_)."""
    bare = _DURATIONS.sub("", _MATCHERS.sub("", _LABEL_LISTS.sub("", _STRINGS.sub("", expr))))
    return {name for name in _NAME.findall(bare) if name.startswith("wallet_")}


def alert_metric_names() -> set[str]:
    return {name for group in rule_groups() for rule in group["rules"] for name in metric_names(rule["expr"])}
