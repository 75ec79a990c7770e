"""Lesson 06's explorer: one engine's sampler chain over the model's real next-token logits.

The engines apply the same knobs in different orders (vLLM: temperature, min-p, top-k,
top-p; llama.cpp and lab Ollama: the filters, then temperature), so "which tokens can be
drawn" depends on the engine. The explorer draws what one chain keeps, and its title
says which chain and what the bars mean. The chains themselves are the lesson's code,
passed in: a chain maps (logits, temperature, top_k, top_p, min_p) to the probabilities
the engine draws from (0 for removed tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

import numpy as np

Chain = Callable[[np.ndarray, float, int, float, float], np.ndarray]


def title(engine: str, drawn: np.ndarray) -> str:
    """What the plot shows, in one line.

    >>> title("vLLM", np.array([0.7, 0.3, 0.0]))
    'vLLM: 2 tokens can be drawn (blue; grey = removed). Bars: the model at T=1; dots: what vLLM draws with'
    """
    kept = int(np.count_nonzero(drawn))
    return (f"{engine}: {kept} token{'s' if kept != 1 else ''} can be drawn (blue; grey = removed). "
            f"Bars: the model at T=1; dots: what {engine} draws with")


class SamplingExplorer:
    """``widgets.interact(SamplingExplorer(model, chains).draw, ...)`` in a notebook."""

    def __init__(self, model, chains: Mapping[str, Chain], shown: int = 20) -> None:
        self.model, self.chains, self.shown = model, dict(chains), shown
        self._logits = lru_cache(maxsize=16)(model.logits)  # sliders redraw often; the prompt rarely changes

    def draw(self, text: str, engine: str, temperature: float, top_k: int, top_p: float, min_p: float) -> None:
        """Plot the ``shown`` most likely next tokens after ``text`` under ``engine``'s chain."""
        import matplotlib.pyplot as plt

        z = np.asarray(self._logits(text), dtype=np.float64)
        model_p = np.exp(z - z.max())
        model_p /= model_p.sum()
        drawn = self.chains[engine](z, temperature, top_k, top_p, min_p)
        top = np.argsort(-model_p, kind="stable")[: self.shown]
        fig, ax = plt.subplots(figsize=(8, 3.2))
        ax.bar(range(top.size), model_p[top], color=["#4C72B0" if drawn[i] > 0 else "#CCCCCC" for i in top])
        kept = [k for k, i in enumerate(top) if drawn[i] > 0]
        ax.plot(kept, drawn[top][kept], "o", color="#C44E52", label=f"drawn with ({engine})")
        ax.set_xticks(range(top.size), [self.model.piece(i) for i in top], rotation=60, fontsize=8)
        ax.set_ylabel("probability")
        ax.set_title(title(engine, drawn), fontsize=9)
        ax.legend(fontsize=8)
        plt.tight_layout()
        plt.show()
