"""Where the engines are and what the model is called, read from the environment.

Every notebook and command asks this module, never the environment directly, so one
variable moves the whole course to a real Ollama, a GPU vLLM or a remote server.

| variable          | default                    | meaning                                   |
|-------------------|----------------------------|-------------------------------------------|
| ``OLLAMA_HOST``   | ``127.0.0.1:11434``        | Ollama (real or lab), parsed as Ollama does |
| ``VLLM_BASE_URL`` | ``http://127.0.0.1:8000/v1`` | the OpenAI-compatible vLLM server        |
| ``COURSE_HOME``   | a per-user cache folder    | converted model, pid and log files        |
| ``COURSE_ENGINE`` | ``auto``                   | ``auto``: real Ollama if one answers, else lab; ``lab``/``real`` force it |
| ``COURSE_SERVER`` | unset                      | a class gateway: sets the two URLs above (``class_server``) |
| ``COURSE_KEY``    | unset                      | the learner's key for that gateway        |
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: The model's name in the real Ollama library (``ollama pull smollm2:135m``).
OLLAMA_MODEL = "smollm2:135m"
#: The model's Hugging Face id; the vLLM server always serves under this name.
HF_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: The name the vLLM server answers to (``--served-model-name``), identical on a GPU.
VLLM_SERVED_NAME = HF_MODEL_ID

OLLAMA_DEFAULT_PORT = 11434
VLLM_DEFAULT_PORT = 8000
ENGINE_CHOICES = ("auto", "lab", "real")


def _env(key: str) -> str:
    """An environment variable as Ollama reads one: trimmed, outer quotes removed."""
    return os.environ.get(key, "").strip().strip("\"'")


@dataclass(frozen=True)
class HostURL:
    """A parsed ``OLLAMA_HOST``: what a client connects to, what a server binds."""

    scheme: str
    host: str
    port: int
    path: str = ""

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:11434``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = f"/{self.path}" if self.path else ""
        return f"{self.scheme}://{host}:{self.port}{suffix}"


def parse_ollama_host(value: str | None) -> HostURL:
    """Parse ``OLLAMA_HOST`` the way Ollama's ``envconfig.Host()`` does.

    No scheme means http on port 11434; an explicit ``http://`` without a port means
    80 and ``https://`` means 443; a bare port keeps the loopback address; a path is
    kept; an invalid port falls back to the default (Ollama logs a warning).

    >>> parse_ollama_host(None).url
    'http://127.0.0.1:11434'
    >>> parse_ollama_host("").url
    'http://127.0.0.1:11434'
    >>> parse_ollama_host("0.0.0.0").url
    'http://0.0.0.0:11434'
    >>> parse_ollama_host("0.0.0.0:11435").url
    'http://0.0.0.0:11435'
    >>> parse_ollama_host(":9999").url
    'http://127.0.0.1:9999'
    >>> parse_ollama_host("example.com").url
    'http://example.com:11434'
    >>> parse_ollama_host("http://example.com").url
    'http://example.com:80'
    >>> parse_ollama_host("https://example.com").url
    'https://example.com:443'
    >>> parse_ollama_host("https://example.com:56000/path").url
    'https://example.com:56000/path'
    >>> parse_ollama_host("ollama.com").url
    'https://ollama.com:443'
    >>> parse_ollama_host("[::1]").url
    'http://[::1]:11434'
    >>> parse_ollama_host("[::1]:8080").url
    'http://[::1]:8080'
    >>> parse_ollama_host("  '127.0.0.1:1234'  ").url
    'http://127.0.0.1:1234'
    >>> parse_ollama_host("localhost:99999").port
    11434
    """
    text = (value or "").strip().strip("\"'")
    default_port = str(OLLAMA_DEFAULT_PORT)
    scheme, sep, hostport = text.partition("://")
    if not sep:
        scheme, hostport = "http", text
        if text == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = "80"
    elif scheme == "https":
        default_port = "443"
    hostport, _, path = hostport.partition("/")
    split = _split_host_port(hostport)
    if split is None:
        host, port = "127.0.0.1", default_port
        bare = hostport.strip("[]")
        if _is_ip(bare):
            host = str(ipaddress.ip_address(bare))
        elif hostport:
            host = hostport
    else:
        host, port = split
        host = host or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        port = default_port
    return HostURL(scheme=scheme, host=host, port=int(port), path=path)


def _split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort``: None where it would return an error."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or not hostport[end + 1 :].startswith(":"):
            return None
        return hostport[1:end], hostport[end + 2 :]
    if hostport.count(":") != 1:
        return None
    host, port = hostport.split(":")
    return host, port


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def ollama_host() -> HostURL:
    """The Ollama endpoint from ``OLLAMA_HOST`` (real or lab, whichever answers)."""
    return parse_ollama_host(os.environ.get("OLLAMA_HOST"))


def ollama_url() -> str:
    """Base URL of Ollama's native API, e.g. ``http://127.0.0.1:11434``."""
    return ollama_host().url


def normalise_base_url(value: str | None) -> str:
    """A vLLM base URL without trailing slash; the local default when unset.

    >>> normalise_base_url("http://gpu-box:8001/v1/")
    'http://gpu-box:8001/v1'
    >>> normalise_base_url("")
    'http://127.0.0.1:8000/v1'
    """
    default = f"http://127.0.0.1:{VLLM_DEFAULT_PORT}/v1"
    return (value or default).strip().rstrip("/")


def root_url(base_url: str) -> str:
    """The server root of an OpenAI-compatible base URL (``/v1`` dropped).

    >>> root_url("http://127.0.0.1:8123/v1")
    'http://127.0.0.1:8123'
    """
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def vllm_base_url() -> str:
    """Base URL of vLLM's OpenAI-compatible API (``VLLM_BASE_URL``), ending in /v1."""
    return normalise_base_url(_env("VLLM_BASE_URL"))


def vllm_root_url() -> str:
    """The vLLM server without ``/v1``: where ``/health`` and ``/metrics`` live. Behind
    a class gateway (``COURSE_SERVER``) that is the gateway's ``/vllm``."""
    server = _env("COURSE_SERVER").rstrip("/")
    if server and vllm_base_url() == f"{server}/v1":
        return f"{server}/vllm"
    return root_url(vllm_base_url())


def vllm_bind() -> tuple[str, int]:
    """Host and port for a vLLM server the course starts, taken from VLLM_BASE_URL."""
    parts = urlsplit(vllm_base_url())
    return parts.hostname or "127.0.0.1", parts.port or VLLM_DEFAULT_PORT


def is_local_host(host: str) -> bool:
    """True for addresses a server on this machine can bind: loopback or all.

    >>> [is_local_host(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "gpu-box")]
    [True, True, True, True, False]
    """
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def course_home() -> Path:
    """Folder for the converted model, pid files and logs (``COURSE_HOME``)."""
    explicit = _env("COURSE_HOME")
    if explicit:
        return Path(explicit).expanduser()
    cache = _env("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "inference-engines-course"


def engine_choice() -> str:
    """``COURSE_ENGINE``: ``auto`` (default), ``lab`` or ``real``."""
    choice = _env("COURSE_ENGINE").lower() or "auto"
    if choice not in ENGINE_CHOICES:
        raise ValueError(
            f"COURSE_ENGINE={choice!r} is not one of {', '.join(ENGINE_CHOICES)}"
        )
    return choice


def quick_mode() -> bool:
    """``COURSE_QUICK=1`` (set by ``make test``) shrinks sweeps in notebooks."""
    return _env("COURSE_QUICK") not in ("", "0", "false", "no")


def converted_model_dir() -> Path:
    """Where ``course model prepare`` puts the Hugging Face folder made from the GGUF."""
    return course_home() / "models" / "SmolLM2-135M-Instruct-from-Q4_1-gguf"


def hf_cache_has_real_weights(repo_id: str = HF_MODEL_ID) -> bool:
    """True when the original weights already sit in the local Hugging Face cache.

    Looks only at the cache on disk, never at the network.
    """
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    needed = ("config.json", "model.safetensors", "tokenizer.json")
    return all(isinstance(try_to_load_from_cache(repo_id, f), str) for f in needed)


def vllm_model() -> str:
    """The ``model`` argument for ``vllm.LLM`` and the server (DESIGN.md's rule).

    The Hugging Face id when its real weights are already cached locally, else the
    converted folder. The converted (dequantized Q4_1) weights are never put in the
    Hugging Face cache under the real id: that would pass them off as the original.
    """
    return HF_MODEL_ID if hf_cache_has_real_weights() else str(converted_model_dir())
