"""Reports of real simulated incidents: probable cause and key metrics against the injected truth,
the report's fields in Portuguese and English, and the plot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from nexus_ml.crisis import build_report, plot_key_metrics, render_markdown
from nexus_ml.crisis.signals import metric_signals
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.execute.audit import AuditEntry, MemoryAudit
from nexus_ml.sim import (
    BadRelease,
    DemandSurge,
    ErrorBurst,
    LatencyDegradation,
    MemoryLeak,
    SlowDependency,
)
from tests.crisis.conftest import Collect, at

H = timedelta(hours=1)


def test_memory_leak_is_found_with_its_size(collect: Collect) -> None:
    leak = MemoryLeak(module="crm", start=at(13), duration=6 * H, magnitude=0.4)
    incident = collect(ErrorType.MEMORY_LEAK, [leak])
    report = build_report(incident, "en")
    assert report.finding.code == "memory_leak"
    memory = metric_signals(incident)["memory_usage"]
    assert memory.rise == pytest.approx(0.4, abs=0.08)  # the injected growth, at the end
    assert memory.peak_at is not None and memory.peak_at >= leak.end - H
    km = report.crisis.key_metrics
    assert km["memory_usage_peak"] - km["memory_usage_baseline"] == pytest.approx(0.4, abs=0.08)
    assert "Memory leak" in report.crisis.probable_cause


def test_claimed_leak_without_memory_growth_is_not_confirmed(collect: Collect) -> None:
    burst = ErrorBurst(module="crm", start=at(15), duration=H, magnitude=0.2)
    report = build_report(collect(ErrorType.MEMORY_LEAK, [burst]), "pt")
    assert report.finding.code == "memory_not_confirmed"
    assert "não confirmado" in report.crisis.probable_cause


def test_demand_surge_explains_a_degradation(collect: Collect) -> None:
    surge = DemandSurge(module="crm", start=at(14), duration=2 * H, magnitude=2.0)
    incident = collect(ErrorType.PERFORMANCE_DEGRADATION, [surge])
    report = build_report(incident, "en")
    assert report.finding.code == "demand_surge"
    demand = metric_signals(incident)["requests_per_min"]
    # ×3 at full strength, ramping over a tenth of the window at each end.
    assert 2.3 <= demand.mean_ratio <= 3.2
    assert demand.ratio == pytest.approx(3.0, rel=0.25)


def test_error_burst_after_a_deploy_is_the_release(collect: Collect) -> None:
    release = BadRelease(module="crm", start=at(15), duration=H, magnitude=1.0)
    audit = MemoryAudit()
    audit.write(AuditEntry(at=at(15), event="deploy", module="nexus-crm",
                           data={"version": "2", "previous_version": "1"}))  # fmt: skip
    audit.write(AuditEntry(at=at(15.75), event="action_taken", module="nexus-crm",
                           action="rollback", reason="failed_release"))  # fmt: skip
    report = build_report(collect(ErrorType.ERROR_BURST, [release], audit=audit), "pt")
    assert report.finding.code == "bad_release"
    assert report.finding.params["version"] == "2" and report.finding.params["previous"] == "1"
    # 5 % extra errors for magnitude 1 (BadRelease's model), on a ~0.2 % base.
    assert report.crisis.key_metrics["error_rate_peak"] == pytest.approx(0.052, abs=0.015)
    assert report.crisis.actions_taken == (
        "2026-03-09 15:45 action_taken: rollback (failed_release)",
    )
    assert any("versão 2 implantada" in e.what for e in report.timeline)


def test_error_burst_without_a_deploy(collect: Collect) -> None:
    burst = ErrorBurst(module="crm", start=at(15), duration=H, magnitude=0.2)
    incident = collect(ErrorType.ERROR_BURST, [burst])
    report = build_report(incident, "en")
    assert report.finding.code == "error_burst"
    errors = metric_signals(incident)["error_rate"]
    assert errors.peak == pytest.approx(0.2, abs=0.03)
    assert errors.first_deviation_at == burst.start


def test_slow_dependency_names_the_link(collect: Collect) -> None:
    slow = SlowDependency(module="crm", target="user-management", start=at(15), duration=2 * H,
                          magnitude=300.0)  # fmt: skip
    incident = collect(ErrorType.SLOW_DEPENDENCY, [slow])
    report = build_report(incident, "en")
    assert report.finding.code == "slow_dependency"
    assert report.finding.params["target"] == "nexus-user-management"
    assert metric_signals(incident)["network_latency"].rise == pytest.approx(300, abs=30)


def test_slow_dependency_that_is_itself_degraded(collect: Collect) -> None:
    slow = SlowDependency(module="crm", target="user-management", start=at(15), duration=2 * H,
                          magnitude=300.0)  # fmt: skip
    sick = LatencyDegradation(module="user-management", start=at(14.5), duration=3 * H,
                              magnitude=6.0, crash_fraction=0.01)  # fmt: skip
    report = build_report(collect(ErrorType.SLOW_DEPENDENCY, [slow, sick]), "en")
    assert report.finding.code == "dependency_degraded"
    assert report.finding.params["target"] == "nexus-user-management"


def test_crash_after_progressive_degradation(collect: Collect) -> None:
    crash = LatencyDegradation(module="crm", start=at(12), duration=4 * H, magnitude=4.0)
    incident = collect(ErrorType.CRASH, [crash])
    report = build_report(incident, "en")
    assert report.finding.code == "progressive_degradation"
    signals = metric_signals(incident)
    assert signals["error_rate"].peak >= 0.99  # the last 5 % of the window: everything fails
    assert signals["error_rate"].peak_at >= crash.end - 0.05 * 4 * H  # type: ignore[operator]


@pytest.mark.parametrize(
    ("language", "headings", "absent"),
    [
        ("pt", ["## Resumo", "## Linha do tempo", "## Métricas-chave", "## Ações tomadas",
                "## Impacto", "## Causa provável", "## Próximos passos", "## Retenção"],
         "## Summary"),
        ("en", ["## Summary", "## Timeline", "## Key metrics", "## Actions taken", "## Impact",
                "## Probable cause", "## Next steps", "## Retention"],
         "## Resumo"),
    ],
)  # fmt: skip
def test_report_fields_in_both_languages(
    collect: Collect, language: str, headings: list[str], absent: str
) -> None:
    leak = MemoryLeak(module="crm", start=at(13), duration=6 * H, magnitude=0.4)
    audit = MemoryAudit()
    audit.write(AuditEntry(at=at(18.5), event="action_taken", module="nexus-crm",
                           action="restart", reason="degradation"))  # fmt: skip
    report = build_report(collect(ErrorType.MEMORY_LEAK, [leak], audit=audit), language)  # type: ignore[arg-type]
    c = report.crisis
    assert c.module == "nexus-crm" and c.error_type is ErrorType.MEMORY_LEAK
    assert (c.started_at, c.ended_at) == (leak.start, leak.end)
    assert c.retention_days == 60 and report.expires_at == leak.end + timedelta(days=60)
    assert "6 h 00 min" in c.summary and "nexus-crm" in c.summary
    assert set(c.key_metrics) == {
        f"{m}_{k}" for m in ("memory_usage", "requests_per_min", "response_time")
        for k in ("baseline", "peak")
    }  # fmt: skip
    assert c.actions_taken == ("2026-03-09 18:30 action_taken: restart (degradation)",)
    assert len(c.next_steps) >= 2 and c.impact and c.probable_cause
    times = [e.at for e in report.timeline]
    assert times == sorted(times) and leak.start in times and leak.end in times
    text = render_markdown(report, plot_path="plot.png")
    for heading in headings:
        assert heading in text
    assert absent not in text
    assert c.probable_cause in text and "![" in text and "(plot.png)" in text
    assert "| 2026-03-09 18:30 | action_taken: restart (degradation) |" in text


def test_report_without_seasonal_reference_uses_the_time_before(collect: Collect) -> None:
    from nexus_ml.catalog import load_catalog
    from nexus_ml.crisis import collect_incident, load_collection_plans
    from nexus_ml.ingest import FrameSource
    from tests.crisis.conftest import NOW, history

    burst = ErrorBurst(module="crm", start=at(15), duration=H, magnitude=0.2)
    frame = history(burst)
    recent = frame[frame["timestamp"] >= at(0)]  # no data a week earlier
    incident = collect_incident(
        module="crm", error_type=ErrorType.ERROR_BURST, started_at=burst.start,
        ended_at=burst.end, plan=load_collection_plans().for_type(ErrorType.ERROR_BURST),
        source=FrameSource(recent), catalog=load_catalog(), now=NOW,
    )  # fmt: skip
    assert incident.reference is None and incident.evidence["reference"]["available"] is False
    report = build_report(incident, "en")
    assert report.finding.code == "error_burst"
    assert report.crisis.key_metrics["error_rate_baseline"] < 0.01


def test_plot_is_a_png_of_the_key_metrics(collect: Collect, tmp_path: Path) -> None:
    from matplotlib.image import imread

    leak = MemoryLeak(module="crm", start=at(13), duration=6 * H, magnitude=0.4)
    path = plot_key_metrics(collect(ErrorType.MEMORY_LEAK, [leak]), tmp_path / "k" / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(path).shape[:2]
    assert width == 900 and height > 600  # three stacked panels


def test_open_incident_report(collect: Collect) -> None:
    from nexus_ml.crisis import CollectedIncident

    burst = ErrorBurst(module="crm", start=at(15), duration=H, magnitude=0.2)
    closed = collect(ErrorType.ERROR_BURST, [burst])
    manifest = closed.manifest.model_copy(update={"ended_at": None})
    incident = CollectedIncident(manifest, closed.frame, closed.evidence, closed.reference)
    report = build_report(incident, "pt")
    assert report.crisis.ended_at is None and report.expires_at is None
    assert "em aberto" in report.crisis.summary
    assert "após o encerramento" in render_markdown(report)
    en = render_markdown(build_report(incident, "en"))
    assert "still open" in en and "after the incident is closed" in en
