"""Which models are loaded, for how long, and who waits: Ollama's scheduler, in small.

A request for a loaded model (same runner options) takes it at once. Any other joins
one load queue of ``OLLAMA_MAX_QUEUE`` places (full → 503, the only 503 Ollama
gives); loads happen one at a time, in order. At ``OLLAMA_MAX_LOADED_MODELS`` an
idle model is evicted first, else the one whose keep_alive ends soonest, once its
requests are done. When a model's last request ends, its keep_alive timer starts:
0 unloads at once, a negative value never. Runners are keyed by the model file and
adapters, as Ollama keys them, so two names for one file share a runner.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from ...cores import llama_threads
from ..describe import StoredModel
from ..errors import OllamaError
from ..settings import LabSettings
from .engine import LlamaRunner, RunnerConfig, model_metadata
from .options import Options, env_keep_alive

log = logging.getLogger("lab_ollama.scheduler")
BUSY = "server busy, please try again.  maximum pending requests exceeded"
FOREVER_SECONDS = 292 * 365.25 * 86400  # Go's longest duration, what Ollama shows as Forever


@dataclass(eq=False)
class Loaded:
    """A runner and its bookkeeping: references, keep_alive, expiry."""

    model: StoredModel
    config: RunnerConfig
    options: tuple
    keep_alive: float
    runner: LlamaRunner | None = None
    refcount: int = 0
    expires_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().astimezone())
    timer: asyncio.TimerHandle | None = None
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def set_expiry(self) -> None:
        seconds = min(self.keep_alive, FOREVER_SECONDS)
        self.expires_at = dt.datetime.now().astimezone() + dt.timedelta(seconds=seconds)


def runner_key(model: StoredModel) -> tuple[Path | None, tuple[Path, ...]]:
    return model.model_path, tuple(model.adapters)


class Scheduler:
    """Loads, shares, expires and evicts runners; lives on the server's event loop."""

    def __init__(self, settings: LabSettings) -> None:
        self.settings = settings
        self.default_keep_alive = env_keep_alive(settings.keep_alive)
        self.max_loaded = settings.max_loaded_models or 3
        self.loaded: dict[tuple, Loaded] = {}
        self.pending = 0
        self._load_lock = asyncio.Lock()

    async def acquire(self, model: StoredModel, options: Options, keep_alive: float | None) -> Loaded:
        """A runner for this model and these runner options, loading it if needed."""
        key = runner_key(model)
        loaded = self.loaded.get(key)
        if loaded is not None and loaded.runner is not None and loaded.options == options.runner:
            return self._take(loaded, keep_alive)
        if self.pending >= self.settings.max_queue:
            raise OllamaError(503, BUSY)
        self.pending += 1
        try:
            async with self._load_lock:
                loaded = self.loaded.get(key)
                if loaded is not None and loaded.options == options.runner:
                    return self._take(loaded, keep_alive)
                if loaded is not None:
                    await self._unload_when_idle(loaded)  # runner options changed: reload
                while len(self.loaded) >= self.max_loaded:
                    await self._unload_when_idle(self._victim())
                return self._take(await self._load(model, options, keep_alive), keep_alive)
        finally:
            self.pending -= 1

    async def _load(self, model: StoredModel, options: Options, keep_alive: float | None) -> Loaded:
        config = RunnerConfig(
            model_path=model.model_path,
            adapters=tuple(model.adapters),
            num_ctx=options["num_ctx"],
            num_parallel=self.settings.num_parallel,
            num_batch=options["num_batch"],
            num_thread=options["num_thread"] or llama_threads(),
            use_mmap=options["use_mmap"],
            cache_type=self.settings.cache_type,
            flash_attention=self.settings.flash_attention_mode,
        )
        ka = self.default_keep_alive if keep_alive is None else keep_alive
        loaded = Loaded(model=model, config=config, options=options.runner, keep_alive=ka)
        loaded.set_expiry()
        key = runner_key(model)
        self.loaded[key] = loaded  # /api/ps lists a model once its load starts
        try:
            loaded.runner = await asyncio.to_thread(LlamaRunner, config)
        except Exception as exc:
            del self.loaded[key]
            log.exception("loading %s failed", model.name.display)
            raise OllamaError(500, f"llama runner process has terminated: {exc}") from exc
        return loaded

    def _take(self, loaded: Loaded, keep_alive: float | None) -> Loaded:
        loaded.refcount += 1
        loaded.idle.clear()
        if loaded.timer is not None:
            loaded.timer.cancel()
            loaded.timer = None
        if keep_alive is not None:
            loaded.keep_alive = keep_alive
        return loaded

    def release(self, loaded: Loaded) -> None:
        """A request is done with its runner; the last one starts the keep_alive timer."""
        loaded.refcount -= 1
        if loaded.refcount > 0:
            return
        loaded.idle.set()
        loaded.set_expiry()
        if loaded.keep_alive == 0:
            asyncio.get_running_loop().create_task(self._expire(loaded))
        elif not math.isinf(loaded.keep_alive):
            loaded.timer = asyncio.get_running_loop().call_later(
                loaded.keep_alive, lambda: asyncio.ensure_future(self._expire(loaded))
            )

    async def _expire(self, loaded: Loaded) -> None:
        if loaded.refcount == 0 and self.loaded.get(runner_key(loaded.model)) is loaded:
            await self._unload(loaded)

    async def unload(self, model: StoredModel) -> None:
        """keep_alive 0 with an empty prompt: unload as soon as the model is idle."""
        loaded = self.loaded.get(runner_key(model))
        if loaded is not None:
            loaded.keep_alive = 0
            if loaded.refcount == 0:
                await self._unload(loaded)

    def _victim(self) -> Loaded:
        """Idle models first, then the one whose keep_alive ends soonest."""
        return min(self.loaded.values(), key=lambda l: (l.refcount > 0, l.expires_at))

    async def _unload_when_idle(self, loaded: Loaded) -> None:
        while loaded.refcount > 0:
            await loaded.idle.wait()
        await self._unload(loaded)

    async def _unload(self, loaded: Loaded) -> None:
        key = runner_key(loaded.model)
        if self.loaded.get(key) is loaded:
            del self.loaded[key]
        if loaded.timer is not None:
            loaded.timer.cancel()
        if loaded.runner is not None:
            runner, loaded.runner = loaded.runner, None
            await asyncio.to_thread(runner.close)
            log.info("unloaded %s", loaded.model.name.display)

    async def close(self) -> None:
        for loaded in list(self.loaded.values()):
            await self._unload(loaded)

    def ps(self) -> list[dict]:
        """``/api/ps``: loaded models, latest expiry first."""
        entries = []
        for loaded in sorted(self.loaded.values(), key=lambda l: l.expires_at, reverse=True):
            model = loaded.model
            name = model.name.display
            entries.append(
                {
                    "name": name,
                    "model": name,
                    "size": (loaded.runner and loaded.runner.allocated) or memory_estimate(loaded.config),
                    "digest": model.digest,
                    "details": model.details(),
                    "expires_at": loaded.expires_at.isoformat(),
                    "size_vram": 0,
                    "context_length": loaded.config.num_ctx,
                }
            )
        return entries

    def runners(self) -> list[dict]:
        """The lab's debug view: slots and batch composition of each loaded runner."""
        return [
            {"model": l.model.name.display, "refcount": l.refcount, **(l.runner.status() if l.runner else {})}
            for l in self.loaded.values()
        ]


def memory_estimate(config: RunnerConfig) -> int:
    """Weights plus the KV cache for every slot, in bytes, at the cache type's size
    (OLLAMA_KV_CACHE_TYPE; q8_0 and q4_0 blocks of 32 take 34 and 18 bytes): used only
    when llama.cpp's buffer lines were not heard (see ``buffers``), where Ollama falls
    back to the file size alone (``llm/llama_server.go:2669-2675``)."""
    info = model_metadata(str(config.model_path))
    arch = info.get("general.architecture", "llama")
    layers = int(info.get(f"{arch}.block_count", 0))
    heads = int(info.get(f"{arch}.attention.head_count", 1)) or 1
    kv_heads = int(info.get(f"{arch}.attention.head_count_kv", heads))
    head_dim = int(info.get(f"{arch}.embedding_length", 0)) // heads
    per_element = {"q8_0": 34 / 32, "q4_0": 18 / 32}.get(config.cache_type, 2)
    kv = int(2 * layers * kv_heads * head_dim * per_element * config.num_ctx * config.num_parallel)
    files = config.model_path.stat().st_size + sum(p.stat().st_size for p in config.adapters)
    return files + kv
