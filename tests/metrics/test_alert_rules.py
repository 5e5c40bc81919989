"""docs/prometheus-alerts.yml parses as Prometheus rule groups (and passes promtool when it is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.metrics.scrape import RULES, alert_metric_names, metric_names, rule_groups

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def test_the_rules_file_is_a_list_of_rule_groups():
    groups = rule_groups()
    assert groups and len({g["name"] for g in groups}) == len(groups)
    for group in groups:
        assert set(group) <= {"name", "interval", "rules", "limit"}, group
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
            assert _LABEL_NAME.match(rule["alert"]) and isinstance(rule["expr"], str) and rule["expr"].strip()
            assert "for" not in rule or _DURATION.match(rule["for"]), rule
            for key, value in {**rule.get("labels", {}), **rule.get("annotations", {})}.items():
                assert _LABEL_NAME.match(key) and isinstance(value, str), (rule["alert"], key)
            assert metric_names(rule["expr"]), f"{rule['alert']} names no metric of this service"
    assert len(alert_metric_names()) >= 10


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (le, route) (rate(wallet_x_bucket{route="/a/<b>", le="1"}[5m]))', {"wallet_x_bucket"}),
    ('wallet_a > 0 and on() hour() >= 4 unless wallet_b{x=~"wallet_c"}', {"wallet_a", "wallet_b"}),
    ("time() - max without (wallet_label) (wallet_d)", {"wallet_d"}),
])
def test_metric_names_are_read_out_of_expressions(expr, names):
    assert metric_names(expr) == names


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules():
    done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
