"""Release gate: judge a candidate version against the baseline from their metric samples.

- :func:`~nexus_ml.release.judge.judge` — Mann–Whitney U with a Hodges–Lehmann shift and an
  effect-size band per continuous metric, a two-proportion test per error rate, a weighted
  score, critical metrics and the cluster's release status → :class:`Verdict`.
- :mod:`~nexus_ml.release.analysis` — interval-based analysis (Argo-style measurements with a
  failure limit), for the judge and for a fixed-threshold gate.
- :mod:`~nexus_ml.release.scenarios` — labelled release scenarios built on the simulator.
- :mod:`~nexus_ml.release.store` — stored verdicts (files or PostgreSQL).
"""

from nexus_ml.release.config import DEFAULT_CONFIG, JudgeConfig, MetricCheck, load_judge_config
from nexus_ml.release.judge import judge
from nexus_ml.release.samples import MetricSamples, read_samples_csv
from nexus_ml.release.verdict import MetricResult, ReleaseStatus, Verdict

__all__ = [
    "DEFAULT_CONFIG",
    "JudgeConfig",
    "MetricCheck",
    "MetricResult",
    "MetricSamples",
    "ReleaseStatus",
    "Verdict",
    "judge",
    "load_judge_config",
    "read_samples_csv",
]
