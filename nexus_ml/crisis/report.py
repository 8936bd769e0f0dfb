"""The incident report: a :class:`~nexus_ml.domain.crisis.CrisisReport` built from the collected
data, rendered as Markdown (Portuguese by default, or English) with a PNG of the key metrics.

- :func:`build_report` — timeline, key metrics at peak vs baseline, actions from the audit trail,
  impact, probable cause (:mod:`nexus_ml.crisis.cause`) and next steps.
- :func:`render_markdown` — the report as Markdown.
- :func:`plot_key_metrics` — the key metrics around the incident, the incident shaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nexus_ml.crisis.cause import Finding, Language, probable_cause
from nexus_ml.crisis.collect import CollectedIncident
from nexus_ml.crisis.labels import METRIC_NAMES, TYPE_NAMES, WORDS
from nexus_ml.crisis.signals import MetricSignal, expected, incident_end, metric_signals
from nexus_ml.domain.crisis import CrisisReport
from nexus_ml.durations import report_duration

#: Audit events that count as actions in the report.
ACTION_EVENTS = ("action_taken", "action_failed", "action_skipped", "alert_sent")


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    what: str


@dataclass(frozen=True)
class IncidentReport:
    """A report in one language: the domain record plus what the Markdown needs besides."""

    crisis: CrisisReport
    incident_id: str
    language: Language
    finding: Finding
    timeline: tuple[TimelineEvent, ...]
    signals: tuple[MetricSignal, ...]
    expires_at: datetime | None
    evidence_lines: tuple[str, ...]


_FRACTIONS = {"cpu_usage", "memory_usage", "error_rate", "disk_usage"}
_MS = {"response_time", "network_latency"}


def format_value(metric: str, value: float) -> str:
    """A metric value for people: percentages, milliseconds or plain numbers."""
    if not math.isfinite(value):
        return "—"
    if metric in _FRACTIONS:
        return f"{value:.1%}"
    if metric in _MS:
        return f"{value:,.0f} ms"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _failed_requests(incident: CollectedIncident) -> float | None:
    """Extra failed requests during the incident: (error rate − baseline) × requests."""
    if not {"error_rate", "requests_per_min"} <= set(incident.manifest.metrics):
        return None
    rows = incident.module_frame()
    start, end = incident.manifest.started_at, incident_end(incident)
    before = rows[rows.index < start]["error_rate"].median()
    during = rows[(rows.index >= start) & (rows.index <= end)]
    excess = (during["error_rate"] - (before if math.isfinite(before) else 0.0)).clip(lower=0)
    minutes = incident.manifest.step_s / 60.0
    return float((excess * during["requests_per_min"] * minutes).sum())


def _impact(incident: CollectedIncident, signals: dict[str, MetricSignal], lang: Language) -> str:
    words, parts = WORDS[lang], []
    for metric, key in (("error_rate", "impact_errors"), ("response_time", "impact_latency")):
        s = signals.get(metric)
        if s is not None and math.isfinite(s.peak):
            parts.append(
                words[key].format(
                    peak=format_value(metric, s.peak), baseline=format_value(metric, s.baseline)
                )
            )
    failed = _failed_requests(incident)
    if failed is not None and failed >= 1:
        parts.append(words["impact_failed"].format(n=f"{failed:,.0f}"))
    return ("; ".join(parts) + ".") if parts else words["impact_none"] + "."


def _timeline(
    incident: CollectedIncident, signals: dict[str, MetricSignal], lang: Language
) -> tuple[TimelineEvent, ...]:
    m, words, names = incident.manifest, WORDS[lang], METRIC_NAMES[lang]
    events = [
        TimelineEvent(m.window_start, words["window_start"]),
        TimelineEvent(m.started_at, words["started"]),
        TimelineEvent(m.window_end, words["window_end"]),
    ]
    if m.ended_at is not None:
        events.append(TimelineEvent(m.ended_at, words["ended"]))
    for metric in m.metrics[:3]:
        s = signals.get(metric)
        if s is None:
            continue
        if s.first_deviation_at is not None:
            events.append(
                TimelineEvent(s.first_deviation_at, words["deviates"].format(metric=names[metric]))
            )
        if s.peak_at is not None:
            text = words["peaks"].format(metric=names[metric], value=format_value(metric, s.peak))
            events.append(TimelineEvent(s.peak_at, text))
    for deploy in incident.evidence.get("deploy_versions", []):
        text = words["deploy"].format(version=deploy["version"])
        events.append(TimelineEvent(datetime.fromisoformat(deploy["at"]), text))
    for entry in _action_entries(incident):
        events.append(TimelineEvent(datetime.fromisoformat(entry["at"]), _action_text(entry)))
    return tuple(sorted(events, key=lambda e: e.at))


def _action_entries(incident: CollectedIncident) -> list[dict[str, str]]:
    return [e for e in incident.evidence.get("audit", []) if e.get("event") in ACTION_EVENTS]


def _action_text(entry: dict[str, str]) -> str:
    what = entry.get("action") or entry.get("reason") or ""
    detail = entry.get("detail") or entry.get("reason") or ""
    return f"{entry['event']}: {what}" + (f" ({detail})" if detail and detail != what else "")


def _evidence_lines(incident: CollectedIncident, lang: Language) -> tuple[str, ...]:
    words, ev = WORDS[lang], incident.evidence
    lines: list[str] = []
    if "deploy_versions" in ev:
        deploys = ev["deploy_versions"]
        if deploys:
            lines.extend(
                f"{_at(datetime.fromisoformat(d['at']))} {d['module']}: "
                f"{d.get('previous') or '?'} → {d['version']}"
                for d in deploys
            )
        else:
            lines.append(words["deploys_none"])
    if "dependencies" in ev:
        deps = ev["dependencies"]
        lines.append(
            words["deps"].format(
                calls=", ".join(deps.get("depends_on", [])) or words["none"],
                callers=", ".join(deps.get("dependents", [])) or words["none"],
            )
        )
    if "container_logs" in ev and not ev["container_logs"].get("collected"):
        lines.append(words["logs"].format(note=ev["container_logs"].get("note", "")))
    for module, quality in ev.get("quality", {}).items():
        coverage = f"{quality.get('min_coverage', 0.0):.0%}"
        lines.append(words["coverage"].format(module=module, coverage=coverage))
    return tuple(lines)


def build_report(incident: CollectedIncident, language: Language = "pt") -> IncidentReport:
    """Build the report of a collected incident in ``language`` (``"pt"`` or ``"en"``)."""
    m = incident.manifest
    signals = metric_signals(incident)
    finding = probable_cause(incident)
    words = WORDS[language]
    end = incident_end(incident)
    summary = words["summary_line"].format(
        kind=TYPE_NAMES[language][m.error_type],
        module=m.module,
        start=_at(m.started_at),
        end=_at(m.ended_at) if m.ended_at else words["open"],
        duration=report_duration((end - m.started_at).total_seconds()),
    )
    key_metrics: dict[str, float] = {}
    for metric in m.metrics[:3]:
        s = signals[metric]
        key_metrics[f"{metric}_baseline"] = s.baseline
        key_metrics[f"{metric}_peak"] = s.peak
    crisis = CrisisReport(
        module=m.module,
        error_type=m.error_type,
        started_at=m.started_at,
        ended_at=m.ended_at,
        summary=summary,
        actions_taken=tuple(
            f"{_at(datetime.fromisoformat(e['at']))} {_action_text(e)}"
            for e in _action_entries(incident)
        ),
        impact=_impact(incident, signals, language),
        probable_cause=finding.text(language),
        next_steps=finding.next_steps(language),
        key_metrics=key_metrics,
        retention_days=m.retention_days,
    )
    return IncidentReport(
        crisis=crisis,
        incident_id=m.id,
        language=language,
        finding=finding,
        timeline=_timeline(incident, signals, language),
        signals=tuple(signals[metric] for metric in m.metrics[:3]),
        expires_at=m.expires_at,
        evidence_lines=_evidence_lines(incident, language),
    )


def render_markdown(report: IncidentReport, *, plot_path: str | None = None) -> str:
    """The report as Markdown; ``plot_path`` (relative to the Markdown file) is embedded."""
    lang, c = report.language, report.crisis
    words, names = WORDS[lang], METRIC_NAMES[lang]
    out = [
        f"# {words['report']}: {TYPE_NAMES[lang][c.error_type]} — {c.module}",
        "",
        f"`{report.incident_id}`",
        "",
        f"## {words['summary']}",
        "",
        c.summary,
        "",
        f"## {words['timeline']}",
        "",
        f"| {words['when']} | {words['event']} |",
        "| --- | --- |",
        *(f"| {_at(e.at)} | {e.what} |" for e in report.timeline),
        "",
        f"## {words['metrics']}",
        "",
        f"| {words['metric']} | {words['baseline']} | {words['peak']} | × | {words['peak_at']} |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for s in report.signals:
        ratio = f"{s.ratio:.1f}" if math.isfinite(s.ratio) else "—"
        out.append(
            f"| {names[s.metric]} | {format_value(s.metric, s.baseline)} | "
            f"{format_value(s.metric, s.peak)} | {ratio} | "
            f"{_at(s.peak_at) if s.peak_at else '—'} |"
        )
    out += ["", f"## {words['actions']}", ""]
    out += [f"- {a}" for a in c.actions_taken] or [words["no_actions"]]
    out += ["", f"## {words['impact']}", "", c.impact, "", f"## {words['cause']}", ""]
    out += [c.probable_cause, "", f"## {words['next']}", ""]
    out += [f"{i}. {step}" for i, step in enumerate(c.next_steps, start=1)]
    out += ["", f"## {words['evidence']}", "", *(f"- {line}" for line in report.evidence_lines)]
    out += ["", f"## {words['retention']}", ""]
    if report.expires_at is not None:
        expires = _at(report.expires_at)
        out.append(words["retention_line"].format(days=c.retention_days, expires=expires))
    else:
        out.append(words["retention_open"].format(days=c.retention_days))
    if plot_path:
        out += ["", f"## {words['plot']}", "", f"![{words['metrics']}]({plot_path})"]
    return "\n".join(out) + "\n"


def plot_key_metrics(
    incident: CollectedIncident, path: Path, *, language: Language = "pt", n: int = 3
) -> Path:
    """Draw the first ``n`` metrics of the plan around the incident to a PNG at ``path``.

    The incident is shaded, the normal level (the seasonal reference) is dashed and the peak
    is marked.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    m = incident.manifest
    metrics = m.metrics[:n]
    signals = metric_signals(incident)
    rows = incident.module_frame()
    fig = Figure(figsize=(9, 2.2 * len(metrics) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    for ax, metric in zip(axes, metrics, strict=True):
        ax.plot(rows.index, rows[metric], lw=1.0, color="tab:blue")
        ax.axvspan(m.started_at, incident_end(incident), color="tab:red", alpha=0.12)
        s = signals[metric]
        ax.plot(rows.index, expected(incident, metric), ls="--", lw=0.8, color="grey")
        if s.peak_at is not None:
            ax.plot([s.peak_at], [s.peak], "o", color="tab:red", ms=4)
        ax.set_ylabel(METRIC_NAMES[language][metric], fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{TYPE_NAMES[language][m.error_type]} — {m.module} ({m.id})", fontsize=10)
    axes[-1].set_xlabel("UTC")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
