"""Throughput and latency against concurrency, one line per engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .load import BenchResult

PANELS = (
    ("output_throughput", "output tokens/s (all requests)", None),
    ("median_ttft_ms", "TTFT, ms (median; dotted: p99)", "p99_ttft_ms"),
    ("median_tpot_ms", "TPOT, ms (median; dotted: p99)", "p99_tpot_ms"),
)


def plot_sweep(curves: Mapping[str, Sequence[BenchResult]], title: str = ""):
    """A 3-panel matplotlib figure: throughput, TTFT and TPOT against concurrency."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for label, results in curves.items():
        x = [r.spec.max_concurrency or r.spec.num_prompts for r in results]
        for ax, (key, ylabel, tail) in zip(axes, PANELS):
            line = ax.plot(x, [r.summary[key] for r in results], marker="o", label=label)[0]
            if tail:
                ax.plot(x, [r.summary[tail] for r in results], ls=":", color=line.get_color())
            ax.set_xscale("log", base=2)
            ax.set_xticks(x, [str(v) for v in x])
            ax.set_xlabel("concurrent requests")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
