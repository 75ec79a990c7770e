"""``course bench …``: the serving benchmark, the cross-check with vLLM's, lab Ollama's and the class gateway's overheads."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, model

bench_app = typer.Typer(no_args_is_help=True, help="Measure the engines (one at a time).")

ENGINES = {"vllm": "openai", "ollama": "ollama"}


def _spec(engine: str, base_url: Optional[str], model_name: Optional[str], **load):
    from .load import LoadSpec

    if engine not in ENGINES:
        raise typer.BadParameter(f"expected one of {', '.join(ENGINES)}", param_hint="--engine")
    if engine == "vllm":
        url, name = base_url or config.vllm_base_url(), model_name or config.VLLM_SERVED_NAME
    else:
        url, name = base_url or config.ollama_url(), model_name or config.OLLAMA_MODEL
    return LoadSpec(ENGINES[engine], url, name, **load)


def _concurrencies(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise typer.BadParameter("a comma-separated list of positive integers, e.g. 1,4,16")
    return values


@bench_app.command("serve")
def serve_cmd(
    engine: Annotated[str, typer.Option(help="vllm (/v1/completions) or ollama (/api/generate).")] = "vllm",
    base_url: Annotated[Optional[str], typer.Option(help="Default: VLLM_BASE_URL or OLLAMA_HOST.")] = None,
    model_name: Annotated[Optional[str], typer.Option("--model", help="Default: the course's model name.")] = None,
    concurrency: Annotated[str, typer.Option(help="Max concurrent requests, one run each.")] = "1,4,16",
    request_rate: Annotated[float, typer.Option(help="Requests/s (Poisson at burstiness 1); inf = all at once.")] = math.inf,
    burstiness: Annotated[float, typer.Option(help="Gamma shape of the gaps; <1 is burstier.")] = 1.0,
    input_len: Annotated[int, typer.Option(help="Prompt tokens (exact).")] = 128,
    output_len: Annotated[int, typer.Option(help="Output tokens (exact on vLLM; at most, on Ollama).")] = 64,
    num_prompts: Annotated[int, typer.Option(help="Timed requests per run.")] = 32,
    warmups: Annotated[int, typer.Option(help="Untimed requests before each run.")] = 1,
    goodput: Annotated[str, typer.Option(help='SLOs in ms, e.g. "ttft:1000 tpot:100".')] = "",
    out: Annotated[Path, typer.Option(help="Folder for results.{json,csv}, requests-cN.json, sweep.png.")] = Path(
        "build/bench"
    ),
) -> None:
    """Sweep concurrency against one engine; print, save and plot the metrics."""
    from . import load, plots
    from .metrics import SLO

    slo = SLO.parse(goodput) if goodput else None
    spec = _spec(engine, base_url, model_name, input_len=input_len, output_len=output_len,
                 num_prompts=num_prompts, request_rate=request_rate, burstiness=burstiness, warmups=warmups)  # fmt: skip
    results = load.sweep(spec, _concurrencies(concurrency), slo)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps([r.row() for r in results], indent=1, default=str))
    load.write_csv(results, out / "results.csv")
    for r in results:  # every request's timestamps, for plots of your own
        r.to_json(out / f"requests-c{r.spec.max_concurrency}.json")
    plots.plot_sweep({engine: results}, f"{spec.model} at {spec.base_url}").savefig(out / "sweep.png", dpi=110)
    typer.echo(f"{'conc':>5} {'req/s':>7} {'out tok/s':>10} {'TTFT p50':>9} {'TTFT p99':>9} "
               f"{'TPOT p50':>9} {'ITL p50':>8}" + ("  goodput" if slo else ""))  # fmt: skip
    for r in results:
        s = r.summary
        typer.echo(f"{r.spec.max_concurrency:>5} {s['request_throughput']:7.2f} {s['output_throughput']:10.1f} "
                   f"{s['median_ttft_ms']:9.0f} {s['p99_ttft_ms']:9.0f} {s['median_tpot_ms']:9.1f} "
                   f"{s['median_itl_ms']:8.1f}" + (f"  {s['goodput']:7.2f}" if slo else ""))  # fmt: skip
        if s["failed"]:
            typer.secho(f"      {s['failed']:.0f} failed: {next(x.error for x in r.records if not x.ok)}", fg="red")
    typer.echo(f"wrote {out}/results.json, results.csv, requests-c*.json, sweep.png (times in ms)")


@bench_app.command("crosscheck")
def crosscheck_cmd(
    base_url: Annotated[Optional[str], typer.Option(help="Default: VLLM_BASE_URL.")] = None,
    concurrency: Annotated[int, typer.Option(help="Max concurrent requests.")] = 8,
    num_prompts: Annotated[int, typer.Option(help="Timed requests.")] = 32,
    input_len: Annotated[int, typer.Option(help="Prompt tokens.")] = 128,
    output_len: Annotated[int, typer.Option(help="Output tokens.")] = 64,
) -> None:
    """Our benchmark, then vLLM's own (`vllm bench serve`), on one vLLM server and the same prompts."""
    from .vllm_crosscheck import crosscheck

    spec = _spec("vllm", base_url, None, input_len=input_len, output_len=output_len,
                 num_prompts=num_prompts, max_concurrency=concurrency)  # fmt: skip
    prepared = model.prepared_model()
    _, _, rows = crosscheck(spec, str(prepared.path) if prepared else config.HF_MODEL_ID)
    typer.echo(f"{'metric':>20} {'course':>10} {'vllm bench':>11} {'diff':>7}")
    for row in rows:
        typer.echo(f"{row['metric']:>20} {row['course']:10.2f} {row['vllm']:11.2f} {row['diff']:+7.1%}")


@bench_app.command("lab-overhead")
def lab_overhead_cmd(
    tokens: Annotated[int, typer.Option(help="Tokens generated per request.")] = 128,
    runs: Annotated[int, typer.Option(help="Runs per side and case; medians are reported.")] = 5,
) -> None:
    """Lab Ollama against raw llama.cpp on the same GGUF: what the server costs."""
    from .lab_vs_llamacpp import main

    main(tokens, runs)


@bench_app.command("gateway")
def gateway_cmd(
    engine: Annotated[str, typer.Option(help="vllm (/v1/completions) or ollama (/api/generate).")] = "ollama",
    concurrency: Annotated[int, typer.Option(help="Max concurrent requests.")] = 4,
    num_prompts: Annotated[int, typer.Option(help="Timed requests per round and side.")] = 16,
    rounds: Annotated[int, typer.Option(help="Rounds; the sides alternate within each.")] = 4,
    input_len: Annotated[int, typer.Option(help="Prompt tokens.")] = 128,
    output_len: Annotated[int, typer.Option(help="Output tokens.")] = 64,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON here.")] = None,
) -> None:
    """The running class gateway's overhead: one load, directly and through it (instructor's key)."""
    from ..class_kit import gateway
    from .gateway_overhead import SIDES, measure

    settings = gateway.running()
    if settings is None:
        typer.secho("Error: no class gateway runs here; start one with `course class gateway up`.", fg="red", err=True)
        raise typer.Exit(1)
    direct, key = _behind_gateway(settings, engine)
    spec = _spec(engine, direct, None, input_len=input_len, output_len=output_len,
                 num_prompts=num_prompts, max_concurrency=concurrency)  # fmt: skip
    found = measure(spec, settings.url, key, rounds, progress=True)
    typer.echo(f"{'':>8} {'done':>5} {'failed':>6} {'out tokens':>10} {'TTFT p50':>9} {'TTFT p90':>9} {'ITL p50':>8} {'out tok/s':>10}")
    rows = {side: found.summaries[side] for side in SIDES}
    for side, s in rows.items():
        typer.echo(f"{side:>8} {s['completed']:5.0f} {s['failed']:6.0f} {s['total_output_tokens']:10.0f} {s['median_ttft_ms']:9.1f} "
                   f"{s['p90_ttft_ms']:9.1f} {s['median_itl_ms']:8.2f} {s['output_throughput']:10.1f}")  # fmt: skip
    r = found.ratios
    typer.echo(f"{'ratio':>8} {'':>5} {'':>6} {'':>10} {r['median_ttft_ms']:9.3f} {r['p90_ttft_ms']:9.3f} "
               f"{r['median_itl_ms']:8.3f} {r['output_throughput']:10.3f}  (gateway / direct; times in ms)")  # fmt: skip
    _write_json(json_out, found.to_dict())


def _behind_gateway(settings, engine: str) -> tuple[str, str]:
    """The engine's own URL behind a running class gateway, and the instructor's key
    (never rate-limited), admitted by the gateway from now on."""
    from ..class_kit import gateway, keys

    key = keys.issue_instructor()
    gateway.reload()  # a key made just now is admitted
    return (settings.vllm_url + "/v1" if engine == "vllm" else settings.ollama_url), key


def _write_json(path: Optional[Path], data: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1))
        typer.echo(f"wrote {path}")


def _rates(text: str) -> list[float]:
    try:
        values = sorted(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = []
    if not values or values[0] <= 0:
        raise typer.BadParameter("a comma-separated list of positive request rates, e.g. 0.5,1,2,4")
    return values


@bench_app.command("capacity")
def capacity_cmd(
    engine: Annotated[str, typer.Option(help="vllm (/v1/completions) or ollama (/api/generate).")] = "vllm",
    rates: Annotated[str, typer.Option(help="Offered rates to try, requests/s (Poisson), ascending.")] = "0.25,0.5,1,2,4,8",
    num_prompts: Annotated[int, typer.Option(help="Requests per rate.")] = 32,
    input_len: Annotated[int, typer.Option(help="Prompt tokens.")] = 128,
    output_len: Annotated[int, typer.Option(help="Output tokens.")] = 64,
    slo: Annotated[str, typer.Option(help="vLLM's --goodput syntax, in ms. Default: lesson 10's.")] = "ttft:1000 tpot:100",
    direct: Annotated[bool, typer.Option(help="Bypass a running class gateway.")] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON here.")] = None,
) -> None:
    """What this machine serves a class: the highest rate meeting the SLO, through the class gateway if one runs."""
    from dataclasses import replace

    from ..class_kit import gateway
    from .capacity import PACES_S, TARGET, sweep
    from .gateway_overhead import gateway_base_url
    from .metrics import SLO

    settings = None if direct else gateway.running()
    engine_url, headers = None, {}
    if settings is not None:
        engine_url, key = _behind_gateway(settings, engine)
        headers = {"Authorization": f"Bearer {key}"}
    spec = _spec(engine, engine_url, None, input_len=input_len, output_len=output_len, num_prompts=num_prompts)
    if settings is not None:
        spec = replace(spec, base_url=gateway_base_url(spec, settings.url))
    through = "gateway" if settings else "direct"
    target = SLO.parse(slo)
    typer.echo(f"{spec.base_url} ({through}): {num_prompts} requests per rate, {input_len} tokens in, {output_len} out; "
               f"SLO {slo}, met by {TARGET:.0%} of the requests")  # fmt: skip
    found = sweep(spec, _rates(rates), target, headers=headers, through=through,
                  report=lambda rate, met: typer.echo(f"  {rate:8.3g} req/s: {met:6.1%} met the SLO"))  # fmt: skip
    if found.best_rate is None:
        typer.echo(f"Even {min(found.met)} req/s misses the SLO here: try lower rates, or a looser SLO.")
    else:
        typer.echo(f"capacity at the SLO: {found.best_rate:g} req/s; learners it carries, at one request every "
                   + ", ".join(f"{pace} s: {found.learners(pace)}" for pace in PACES_S))  # fmt: skip
    _write_json(json_out, found.to_dict())
