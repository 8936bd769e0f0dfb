"""Backtest plots logged with every trained module: forecasts vs actuals with intervals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nexus_ml.models.training.fanout import ModuleFit


def plot_module(fit: ModuleFit, history: pd.DataFrame, out_dir: Path, *, level: int = 80) -> Path:
    """One PNG per module: a panel per forecast field plus the combined anomaly score.

    ``history`` is the module's wide frame; only the backtest window and one day before it are
    drawn so the intervals stay readable.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    fields = sorted(fit.scores)
    panels = len(fields) + (1 if fit.anomaly_scores is not None else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(11, 2.2 * panels), sharex=True, squeeze=False)
    first_origin = min(w.origins[0] for w in fit.window.values())
    shown = history.loc[history.index >= first_origin - pd.Timedelta(days=1)]
    for ax, name in zip(axes[:, 0], fields, strict=False):
        score = fit.scores[name]
        ax.plot(shown.index, shown[name], color="0.3", lw=0.7, label="actual")
        for _, fc in score.forecasts.groupby("origin"):
            ax.fill_between(
                fc["ds"], fc[f"lo-{level}"], fc[f"hi-{level}"], color="tab:blue", alpha=0.25
            )
            ax.plot(fc["ds"], fc["mean"], color="tab:blue", lw=1.0)
        ax.set_title(
            f"{name}: MASE {score.mase:.3f}, {level}% coverage {score.coverage:.0%}", fontsize=9
        )
    if fit.anomaly_scores is not None:
        ax = axes[-1, 0]
        ax.plot(fit.anomaly_scores.index, fit.anomaly_scores["combined"], color="tab:red", lw=0.8)
        ax.set_ylim(0, 1)
        ax.set_title("anomaly score (combined)", fontsize=9)
    fig.suptitle(f"{fit.module}: backtest", fontsize=11)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{fit.module}-backtest.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
