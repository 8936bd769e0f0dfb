"""The seed's rules as data: bundled values, validation errors with field path and value,
overrides, and how each category is sampled."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_ml.crisis.rules import CategoryRule, Sampling, load_rules
from nexus_ml.crisis.sampling import sample
from nexus_ml.errors import ConfigError, InputError


def test_bundled_rules_carry_the_seeds_retention_and_sampling() -> None:
    rules = load_rules()
    seed = {
        "affected_transactions": (90, Sampling.ALL_FAILED),
        "impacted_customers": (30, Sampling.UNIQUE),
        "response_time_samples": (7, Sampling.SMART),
        "stack_traces": (14, Sampling.UNIQUE),
        "failed_integration_calls": (30, Sampling.FAILED_ONLY),
    }
    for category, (days, how) in seed.items():
        rule = rules.categories[category]
        assert (rule.retention_days, rule.sampling) == (days, how), category
    for name in ("PAYMENT_FAILURE", "INTEGRATION_BREAK", "PERFORMANCE_DEGRADATION", "CRASH"):
        rule = rules.for_type(name.lower())
        assert set(rule.collect) | set(rule.ignore) == set(rules.categories)
    assert rules.for_type("PAYMENT_FAILURE").severity.value == "CRITICAL"
    assert "affected_transactions" in rules.for_type("PAYMENT_FAILURE").collect
    assert "affected_transactions" in rules.for_type("PERFORMANCE_DEGRADATION").ignore


@pytest.mark.parametrize(
    ("yaml_text", "field", "value"),
    [
        ("error_types:\n  PAYMENT_FAILURE: {severity: URGENT}\n",
         "error_types.PAYMENT_FAILURE.severity", "URGENT"),
        ("categories:\n  stack_traces: {retention_days: 0}\n",
         "categories.stack_traces.retention_days", 0),
        ("error_types:\n  UI_BUG: {collect: [stack_traces, nope]}\n", "", None),
        ("categories:\n  impacted_customers: {key: null}\n",
         "categories.impacted_customers", None),
    ],
)  # fmt: skip
def test_a_bad_rules_file_names_the_field_and_the_value(
    tmp_path: Path, yaml_text: str, field: str, value: object
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert str(path) in str(err.value)
    if field:
        assert err.value.field == field
        assert repr(value) in str(err.value)
    else:
        assert "unknown category 'nope'" in str(err.value)


def test_an_override_changes_one_field_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("categories:\n  stack_traces: {retention_days: 60}\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules.retention_days("stack_traces") == 60
    assert rules.categories["stack_traces"].sampling is Sampling.UNIQUE
    assert rules.retention_days("affected_transactions") == 90
    with pytest.raises(InputError, match="unknown error type 'NOPE'"):
        rules.for_type("NOPE")


def test_sampling_keeps_failures_unique_keys_and_the_tail() -> None:
    failed = CategoryRule(retention_days=1, sampling=Sampling.ALL_FAILED)
    rows = [{"status": "ok"}, {"status": "declined"}, {"status_code": 503}, {"failed": True}]
    assert sample(failed, rows) == rows[1:]
    unique = CategoryRule(retention_days=1, sampling=Sampling.UNIQUE, key="customer_id")
    ids = [{"customer_id": c} for c in ("a", "b", "a", "c", None)]
    assert sample(unique, ids, seen={"c"}) == [{"customer_id": "a"}, {"customer_id": "b"}]
    smart = CategoryRule(retention_days=1, sampling=Sampling.SMART, max_rows=50)
    values = [{"value": float(v)} for v in range(1000)]
    kept = sample(smart, values)
    assert len(kept) == 50
    top = {r["value"] for r in kept}
    assert all(v in top for v in range(975, 1000))  # the largest outliers, up to half the cap
    assert min(top) == 0.0 and 400 < sorted(top)[12] < 600  # and an even spread of the rest
