from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from nexus_ml.domain.metrics import METRIC_FIELDS, REPLICAS
from nexus_ml.errors import ConfigError
from nexus_ml.ingest.queries import BUNDLED_QUERIES, load_query_catalog, modules_regex

RECORDING_RULES = Path(__file__).parents[2] / "deploy/prometheus/rules/nexus-recording.yml"


def test_bundled_catalog_covers_every_field_with_recorded_series() -> None:
    catalog = load_query_catalog()
    recorded = {
        r["record"]
        for g in yaml.safe_load(RECORDING_RULES.read_text())["groups"]
        for r in g["rules"]
        if "record" in r
    }
    assert catalog.extra == (REPLICAS,)  # the optional replica count is bundled too
    for f in (*METRIC_FIELDS, REPLICAS):
        q = catalog.query(f, ["nexus-crm", "nexus-agendamento"], timedelta(minutes=5))
        assert '{module=~"nexus-crm|nexus-agendamento"}' in q
        assert "[299999ms]" in q  # one step minus a millisecond: no lookback over gaps
        names = set(re.findall(r"nexus:[a-z_:0-9]+", q))
        assert names and names <= recorded, f"{f} reads {names}, not all recorded"


def test_reset_queries_fill_modules_and_range() -> None:
    catalog = load_query_catalog()
    qs = catalog.reset_queries(["nexus-crm"], timedelta(days=14))
    assert qs and all("[1209600s]" in q and '=~"nexus-crm"' in q for q in qs)


def test_module_names_are_regex_escaped() -> None:
    assert modules_regex(["a.b", "c+d"]) == r"a\\.b|c\\+d"


def test_override_file_replaces_queries(tmp_path: Path) -> None:
    data = yaml.safe_load(BUNDLED_QUERIES.read_text())
    data["fields"]["cpu_usage"] = 'avg by (module) (my_cpu{module=~"{modules}"})'
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data))
    assert (
        load_query_catalog(path).query("cpu_usage", ["x"])
        == 'avg by (module) (my_cpu{module=~"x"})'
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["fields"].pop("error_rate"),
            r"fields\.error_rate: expected a PromQL template",
        ),
        (lambda d: d["fields"].update(cpu_usage="up"), r"fields\.cpu_usage: .*got 'up'"),
        (lambda d: d["fields"].update(gpu=1), r"fields\.gpu: unknown field 'gpu'"),
        (lambda d: d["fields"].update(replicas="up"), r"fields\.replicas: .*got 'up'"),
        (lambda d: d.update(counter_resets="x"), r"counter_resets: expected a list"),
        (lambda d: d.pop("fields"), r"needs a 'fields' mapping"),
    ],
)
def test_bad_catalog_names_file_and_field(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(BUNDLED_QUERIES.read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message) as err:
        load_query_catalog(path)
    assert str(path) in str(err.value)


def test_the_replica_count_is_optional(tmp_path: Path) -> None:
    data = yaml.safe_load(BUNDLED_QUERIES.read_text())
    data["fields"].pop(REPLICAS)
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_query_catalog(path).extra == ()


def test_unknown_field_query_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no query for field 'gpu'"):
        load_query_catalog().query("gpu", ["x"])
