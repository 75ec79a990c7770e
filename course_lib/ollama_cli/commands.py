"""The one-shot commands of Ollama's CLI, through the official ``ollama`` client.

Each prints what ``ollama <command>`` prints. Failures raise ``CliError`` with
Ollama's line (``Error: …``); the typer layer prints it and exits 1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import ollama

from ..lab_ollama import OLLAMA_VERSION
from ..store import modelfile as mf
from .formatting import go_duration, human_bytes, human_time, processor, table
from .progress import Progress

CONNECT = "could not connect to ollama server, run 'ollama serve' to start it"


class CliError(Exception):
    """A failure, worded as Ollama's CLI words it (without the ``Error: `` prefix)."""


def client() -> ollama.Client:
    return ollama.Client()  # OLLAMA_HOST, parsed as Ollama parses it


def heartbeat(c: ollama.Client) -> None:
    """``HEAD /`` first, as the CLI does; connection refused → Ollama's message."""
    try:
        c._client.head("/")
    except httpx.TransportError as exc:
        raise CliError(CONNECT) from exc


def error_text(exc: ollama.ResponseError, streamed: bool) -> str:
    """A stream call that failed before streaming shows ``404 Not Found: msg``."""
    if streamed and exc.status_code > 0:
        return f"{exc.status_code} {HTTPStatus(exc.status_code).phrase}: {exc.error}"
    return exc.error


def _stream(statuses: Iterator[Any]) -> Iterator[dict]:
    try:
        for status in statuses:
            yield status.model_dump(exclude_none=True) if hasattr(status, "model_dump") else dict(status)
    except ollama.ResponseError as exc:
        raise CliError(error_text(exc, streamed=True)) from exc


def ndjson(c: ollama.Client, path: str, body: dict) -> Iterator[dict]:
    """A streamed POST, line by line, with the client's error handling."""
    return c._request(dict, "POST", path, json=body, stream=True)


def pull(name: str, insecure: bool = False) -> None:
    c = client()
    heartbeat(c)
    progress = Progress()
    try:
        for status in _stream(c.pull(name, insecure=insecure, stream=True)):
            progress.update(status)
    finally:
        progress.close()


def list_models(prefix: str = "") -> None:
    c = client()
    heartbeat(c)
    rows = []
    for m in c.list().models:
        if prefix and not m.model.startswith(prefix):
            continue
        rows.append([m.model, (m.digest or "")[:12], human_bytes(m.size or 0), human_time(m.modified_at)])
    print(table(["NAME", "ID", "SIZE", "MODIFIED"], rows))


def ps(prefix: str = "") -> None:
    c = client()
    heartbeat(c)
    rows = []
    now = dt.datetime.now(dt.timezone.utc)
    for m in c.ps().models:
        if prefix and not m.model.startswith(prefix):
            continue
        expires = m.expires_at
        until = "Stopping..." if expires and expires < now else human_time(expires, "Never", now)
        context = str(getattr(m, "context_length", "") or "")
        rows.append([m.model, (m.digest or "")[:12], human_bytes(m.size or 0),
                     processor(m.size or 0, m.size_vram or 0), context, until])  # fmt: skip
    print(table(["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"], rows))


def _show(c: ollama.Client, name: str, verbose: bool = False) -> dict:
    try:
        return c._request_raw("POST", "/api/show", json={"model": name, "verbose": verbose}).json()
    except ollama.ResponseError as exc:
        raise CliError(exc.error) from exc


def show(name: str, part: str | None = None, verbose: bool = False) -> None:
    """``ollama show``: one part (modelfile, parameters…), or the summary."""
    c = client()
    heartbeat(c)
    info = _show(c, name, verbose)
    if part:  # Ollama prints the template and the system as they are, no newline added
        print(info.get(part, "") or "", end="" if part in ("template", "system") else "\n")
        return
    print(summary(info, verbose))


def summary(info: dict, verbose: bool = False) -> str:
    """The sections ``ollama show M`` prints: Model, Capabilities, Parameters, System, License."""
    model_info = info.get("model_info") or {}
    details = info.get("details") or {}
    arch = model_info.get("general.architecture", details.get("family", ""))
    rows = [
        ("architecture", arch),
        ("parameters", details.get("parameter_size", "")),
        ("context length", model_info.get(f"{arch}.context_length", "")),
        ("embedding length", model_info.get(f"{arch}.embedding_length", "")),
        ("quantization", details.get("quantization_level", "")),
    ]
    out = ["  Model", *_rows(rows)]
    if info.get("capabilities"):
        out += ["", "  Capabilities", *[f"    {c}" for c in info["capabilities"]]]
    params = [line.split(None, 1) for line in (info.get("parameters") or "").splitlines() if line.strip()]
    if params:
        out += ["", "  Parameters", *_rows([(p[0], p[1] if len(p) > 1 else "") for p in params])]
    if info.get("system"):
        out += ["", "  System", *[f"    {line}" for line in info["system"].splitlines()[:2]]]
    if info.get("license"):
        out += ["", "  License", *[f"    {line}" for line in info["license"].strip().splitlines()[:2]]]
    if verbose:
        out += ["", "  Metadata", *_rows(sorted((k, v) for k, v in model_info.items()))]
    return "\n".join(out) + "\n"


def _rows(pairs: list[tuple[str, Any]]) -> list[str]:
    width = max((len(k) for k, _ in pairs), default=0) + 4
    return [f"    {k.ljust(width)}{v}" for k, v in pairs if v not in ("", None)]


def copy(source: str, destination: str) -> None:
    c = client()
    heartbeat(c)
    try:
        c.copy(source, destination)
    except ollama.ResponseError as exc:
        raise CliError(exc.error) from exc
    print(f"copied '{source}' to '{destination}'")


def remove(names: list[str]) -> None:
    c = client()
    heartbeat(c)
    for name in names:
        try:  # as `ollama rm`: unload first, quietly
            c.generate(model=name, prompt="", keep_alive=0)
        except ollama.ResponseError:
            pass
        try:
            c.delete(name)
        except ollama.ResponseError as exc:
            raise CliError(exc.error) from exc
        print(f"deleted '{name}'")


def stop(name: str) -> None:
    c = client()
    heartbeat(c)
    try:
        c.generate(model=name, prompt="", keep_alive=0)
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise CliError(f'couldn\'t find model "{name}" to stop') from exc
        raise CliError(exc.error) from exc


def version() -> None:
    c = client()
    try:
        server = c._client.get("/api/version").json()["version"]
    except (httpx.TransportError, ValueError, KeyError):
        print("Warning: could not connect to a running Ollama instance")
        print(f"Warning: client version is {OLLAMA_VERSION}")
        return
    print(f"ollama version is {server}")
    if server != OLLAMA_VERSION:
        print(f"Warning: client version is {OLLAMA_VERSION}")


# -- create -----------------------------------------------------------------------


def _upload(c: ollama.Client, path: Path) -> str:
    """Send a local file as a blob (HEAD first, as the CLI does); return its digest."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    digest = "sha256:" + sha.hexdigest()
    if c._client.head(f"/api/blobs/{digest}").status_code != 200:
        with path.open("rb") as handle:
            reply = c._client.post(f"/api/blobs/{digest}", content=handle.read())
        if reply.status_code >= 400:
            raise CliError(reply.json().get("error", reply.text))
    return digest


def _local_file(value: str, base: Path) -> Path | None:
    """FROM/ADAPTER values that name a file: absolute, ~, or relative to the Modelfile."""
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = base / path
    return path if path.is_file() else None


def create(name: str, file: str = "Modelfile", quantize: str | None = None) -> None:
    path = Path(file)
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        if file == "Modelfile":  # no -f: Ollama looks for weights in "." and finds none
            raise CliError("no Modelfile or safetensors files found") from exc
        raise CliError(f"open {file}: no such file or directory") from exc
    try:
        parsed = mf.parse(text)
    except mf.ModelfileError as exc:
        raise CliError(str(exc)) from exc
    for warning in parsed.warnings:
        print(warning, file=sys.stderr)
    c = client()
    heartbeat(c)
    request: dict[str, Any] = {"model": name, "stream": True}
    local = _local_file(parsed.from_, path.parent)
    if local is not None:
        request["files"] = {local.name: _upload(c, local)}
    else:
        request["from"] = parsed.from_
    adapters = {}
    for adapter in parsed.adapters:
        found = _local_file(adapter, path.parent)
        if found is None:
            raise CliError(f"open {adapter}: no such file or directory")
        adapters[found.name] = _upload(c, found)
    if adapters:
        request["adapters"] = adapters
    for key, value in (("template", parsed.template), ("system", parsed.system),
                       ("parameters", parsed.parameters or None), ("messages", parsed.messages or None),
                       ("license", parsed.licenses or None), ("quantize", quantize)):  # fmt: skip
        if value is not None:
            request[key] = value
    progress = Progress()
    try:
        for status in _stream(ndjson(c, "/api/create", request)):
            progress.update(status)
    finally:
        progress.close()


# -- run: one-shot ------------------------------------------------------------------


def print_stats(final: dict, out=sys.stderr) -> None:
    """``--verbose``: Ollama's statistics block, labels padded to 22 columns."""
    ns = 1e9
    lines = []
    total, load = final.get("total_duration", 0), final.get("load_duration", 0)
    pcount, pdur = final.get("prompt_eval_count", 0), final.get("prompt_eval_duration", 0)
    ecount, edur = final.get("eval_count", 0), final.get("eval_duration", 0)
    if total:
        lines.append(("total duration:", go_duration(total / ns)))
    if load:
        lines.append(("load duration:", go_duration(load / ns)))
    if pcount:
        lines.append(("prompt eval count:", f"{pcount} token(s)"))
    if pdur:
        lines.append(("prompt eval duration:", go_duration(pdur / ns)))
        lines.append(("prompt eval rate:", f"{pcount / (pdur / ns):.2f} tokens/s"))
    if ecount:
        lines.append(("eval count:", f"{ecount} token(s)"))
    if edur:
        lines.append(("eval duration:", go_duration(edur / ns)))
        lines.append(("eval rate:", f"{ecount / (edur / ns):.2f} tokens/s"))
    for label, value in lines:
        print(f"{label:<22}{value}", file=out)


def ensure_model(c: ollama.Client, name: str) -> None:
    """``ollama run`` pulls a model it does not have."""
    try:
        c._request_raw("POST", "/api/show", json={"model": name})
    except ollama.ResponseError as exc:
        if exc.status_code != 404:
            raise CliError(exc.error) from exc
        progress = Progress()
        try:
            for status in _stream(c.pull(name, stream=True)):
                progress.update(status)
        finally:
            progress.close()


def run_once(name: str, prompt: str, fmt: str | None, keepalive: str | None, verbose: bool) -> None:
    """A prompt given or piped: stream /api/generate to stdout."""
    c = client()
    heartbeat(c)
    ensure_model(c, name)
    final: dict = {}
    body: dict[str, Any] = {"model": name, "prompt": prompt, "stream": True}
    if fmt:
        body["format"] = fmt
    if keepalive:
        body["keep_alive"] = keepalive
    for chunk in _stream(ndjson(c, "/api/generate", body)):
        print(chunk.get("response", ""), end="", flush=True)
        if chunk.get("done"):
            final = chunk
    print("\n")
    if verbose:
        print_stats(final)


