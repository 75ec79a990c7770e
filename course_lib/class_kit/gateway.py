"""The class gateway: Debian's nginx in front of the course's engines.

nginx does the admitting, the rate limiting and the logging, so nothing home-made
stands between learners and engines: a ``map`` from the ``Authorization`` header to a
learner name (a generated file, rewritten and reloaded on ``revoke``), ``limit_req``
keyed by that name, and a JSON access log whose token counts njs reads from the
responses (``usage.js``). It runs in the foreground under ``COURSE_HOME/class/gateway``
with its own configuration, pid file, temp folders and logs, started and stopped like
the engines (``services``); it never touches the system's nginx or /etc/nginx.

Routes, chosen so that the official clients work unchanged with a gateway URL:

* ``/api/``    → Ollama's ``/api/`` (``ollama.Client(host=GATEWAY, headers=...)``)
* ``/ollama/`` → Ollama's root (``openai.OpenAI(base_url=GATEWAY + "/ollama/v1")``)
* ``/v1/``     → vLLM's ``/v1/`` (``openai.OpenAI(base_url=GATEWAY + "/v1")``)
* ``/vllm/``   → vLLM's root (its ``/metrics``, ``/tokenize``, ``/v1/`` too)

The learner's key stops at the gateway: the engines get no ``Authorization`` header.
The key is the learner's secret with the gateway, the engines need none by default,
and a vLLM started with ``--api-key`` would want its own key, not a learner's.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import requests

from .. import class_server, config, services
from . import class_home, keys

JS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
USAGE_JS = Path(__file__).with_name("usage.js")
PACKAGES = ("nginx", "libnginx-mod-http-js")
SBIN = ("/usr/sbin/nginx", "/sbin/nginx")  # where Debian puts nginx; not on a user's PATH
RATE = re.compile(r"[1-9]\d*r/[sm]")
HEALTH = "/gateway/health"


class GatewayError(RuntimeError):
    """The gateway cannot be configured, started or reloaded; the message says why."""


@dataclass(frozen=True)
class Settings:
    """Where the gateway listens, where the engines are, and each learner's rate."""

    port: int = 8080
    host: str = "127.0.0.1"
    ollama_url: str = ""  # default: the course's Ollama (OLLAMA_HOST)
    vllm_url: str = ""  # default: the course's vLLM server without /v1 (VLLM_BASE_URL)
    rate: str = "2r/s"  # nginx's limit_req rate: N requests a second (r/s) or minute (r/m)
    burst: int = 5  # requests above the rate admitted at once before 429s

    def resolved(self) -> Settings:
        """These settings with the engines' URLs filled in and checked."""
        if not RATE.fullmatch(self.rate):
            raise GatewayError(f"rate {self.rate!r} is not nginx's form: a whole number then r/s or r/m, e.g. 2r/s")
        if self.burst < 0 or not 0 < self.port < 65536:
            raise GatewayError(f"burst must be >= 0 and port within 1-65535 (got burst {self.burst}, port {self.port})")
        ollama = (self.ollama_url or config.ollama_url()).rstrip("/")
        vllm = (self.vllm_url or config.vllm_root_url()).rstrip("/")
        return Settings(self.port, self.host, ollama, vllm, self.rate, self.burst)

    @property
    def url(self) -> str:
        return service(self).url


def prefix() -> Path:
    """The gateway's own nginx prefix: configuration, pid, temp folders and logs."""
    return class_home() / "gateway"


def access_log() -> Path:
    return prefix() / "logs" / "access.json"


def find_nginx() -> str:
    """The nginx binary, after checking that njs is installed; else GatewayError saying
    which Debian packages to install."""
    explicit = os.environ.get("NGINX")
    if explicit and not Path(explicit).is_file():
        raise GatewayError(f"NGINX={explicit} is not a file")
    nginx = explicit or shutil.which("nginx") or next(
        (p for p in SBIN if Path(p).is_file()), None)  # fmt: skip
    missing = "nginx" if nginx is None else "njs, nginx's JavaScript module," if not JS_MODULE.is_file() else None
    if missing:
        raise GatewayError(f"the class gateway needs {missing} (Debian: `apt-get install {' '.join(PACKAGES)}`)")
    return nginx


def service(settings: Settings) -> services.Service:
    """How ``services`` runs this gateway: nginx in the foreground with its own files."""
    root = prefix()
    argv = [find_nginx(), "-p", f"{root}/", "-c", str(root / "nginx.conf"), "-e", str(root / "logs" / "error.log"),
            "-g", "daemon off;"]  # fmt: skip
    return services.Service("class-gateway", argv, settings.host, settings.port, HEALTH)


def _json_text(body: dict) -> str:
    """A JSON body as an nginx string: single-quoted, no variables in it."""
    text = json.dumps(body)
    assert "'" not in text and "$" not in text, text
    return f"'{text}'"


#: OpenAI-compatible paths (vLLM's, and Ollama's own /v1): their clients read an error's
#: reason from {"error": {"message": ...}}; Ollama's native API and client use {"error": "..."}.
OPENAI_PATHS = "~^/(v1|vllm/v1|ollama/v1)/"
ERRORS = {  # nginx variable: (HTTP status, OpenAI error type, message)
    "no_key": (401, "authentication_error", "No learner key. Set COURSE_KEY to the key your instructor gave you; "
                                            "clients send it as the header Authorization: Bearer KEY."),
    "revoked": (401, "authentication_error",
                "This learner key was revoked. Ask your instructor for a new key and set COURSE_KEY to it."),
    "engine_down": (502, "server_error",
                    "The engine behind the gateway does not answer. Tell your instructor (`course up` starts it)."),
}


def _error_maps(errors: dict[str, tuple[int, str, str]]) -> str:
    """One nginx variable per error, ``$<name>_error``: its body in the shape the path's clients read."""
    lines = ["map $uri $openai_path {", "    default 0;", f'    "{OPENAI_PATHS}" 1;', "}"]
    for name, (_, kind, message) in errors.items():
        lines += [f"map $openai_path ${name}_error {{",
                  f"    default {_json_text({'error': message})};",
                  f"    1 {_json_text({'error': {'message': message, 'type': kind, 'param': None, 'code': None}})};",
                  "}"]  # fmt: skip
    return "\n    ".join(lines)


def render_keys() -> str:
    """The generated include: key → learner for admitted keys, and for revoked ones.

    A key comes as ``Bearer KEY`` (the ``ollama`` and ``openai`` clients) or as HTTP
    Basic auth ``course:KEY`` (``requests`` reading the netrc file a learner's
    ``course_lib`` writes: ``class_server``). ``$keys_version`` changes with the keys,
    so that a reload is seen to have taken effect. ``$rate_key`` is what ``limit_req``
    counts by: the learner, or "" for the instructor (nginx counts no empty key).
    """

    def entries(found: dict[str, str]) -> list[str]:
        return [f'    "{header}" {name};' for key, name in sorted(found.items())
                for header in (f"Bearer {key}", class_server.basic_authorization(key))]  # fmt: skip

    lines = ['map $http_authorization $learner {', '    default "";', *entries(keys.active())]
    lines += ['}', 'map $http_authorization $revoked {', '    default "";', *entries(keys.revoked())]
    lines += ['}', 'map $learner $rate_key {', '    default $learner;', f'    {keys.INSTRUCTOR} "";', '}']
    version = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    return "\n".join([*lines, f'map $pid $keys_version {{ default "{version}"; }}', ""])


def _route(path: str, upstream: str, burst: int) -> str:
    """A proxied location: the key check, the learner's rate, the token counting."""
    return f"""
        location {path} {{
            if ($revoked) {{ return 401 $revoked_error; }}
            if ($learner = "") {{ return 401 $no_key_error; }}
            limit_req zone=learners burst={burst} nodelay;
            proxy_pass {upstream};
            js_body_filter usage.count buffer_type=buffer;
        }}"""


def render(settings: Settings) -> str:
    """nginx.conf for ``settings`` (resolved)."""
    root = prefix()
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    count, per = settings.rate.split("r/")
    errors = {**ERRORS, "too_many": (429, "rate_limit_error", (
        f"Rate limit: each learner may send {count} requests per {'second' if per == 's' else 'minute'}, "
        f"with bursts of {settings.burst} more. Wait a moment and retry."))}
    routes = "".join(_route(path, upstream, settings.burst) for path, upstream in (
        ("/api/", f"{settings.ollama_url}/api/"), ("/ollama/", f"{settings.ollama_url}/"),
        ("/v1/", f"{settings.vllm_url}/v1/"), ("/vllm/", f"{settings.vllm_url}/")))  # fmt: skip
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"""# Generated by course_lib.class_kit.gateway; edits are overwritten.
load_module {JS_MODULE};
# As root, workers run as root rather than nobody, who may not reach these folders.
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 1024; }}

http {{
    client_body_temp_path {root}/temp/body;
    proxy_temp_path {root}/temp/proxy;
    fastcgi_temp_path {root}/temp/fastcgi;
    uwsgi_temp_path {root}/temp/uwsgi;
    scgi_temp_path {root}/temp/scgi;
    client_max_body_size 64m;
    server_tokens off;
    map_hash_bucket_size 128;

    include {root}/learners.conf;
    {_error_maps(errors)}
    js_import usage from {USAGE_JS};
    js_var $prompt_tokens null;
    js_var $completion_tokens null;

    log_format usage escape=json '{{"time":"$time_iso8601","learner":"$learner","revoked":"$revoked",'
        '"method":"$request_method","uri":"$request_uri","status":$status,"request_time":$request_time,'
        '"upstream_response_time":"$upstream_response_time","request_length":$request_length,'
        '"bytes_sent":$bytes_sent,"prompt_tokens":$prompt_tokens,"completion_tokens":$completion_tokens}}';
    access_log {access_log()} usage;

    limit_req_zone $rate_key zone=learners:10m rate={settings.rate};
    limit_req_status 429;

    # Streams pass through as they come; a long generation may take minutes.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Authorization "";
    proxy_set_header Accept-Encoding "";
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;

    server {{
        listen {host}:{settings.port};
        default_type application/json;
        error_page 429 @too_many;
        error_page 502 504 @engine_down;

        location = {HEALTH} {{ access_log off; return 200 '{{"status":"ok","keys":"$keys_version"}}'; }}
        location @too_many {{ return 429 $too_many_error; }}
        location @engine_down {{ return 502 $engine_down_error; }}
        location / {{ return 404 '{{"error":"The gateway serves /api/ and /ollama/ (Ollama), /v1/ and /vllm/ (vLLM)."}}'; }}
{routes}
    }}
}}
"""


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def configure(settings: Settings) -> Settings:
    """Write nginx.conf, the keys include and the settings, then let nginx check them."""
    settings = settings.resolved()
    root = prefix()
    for folder in ("logs", "temp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _write(root / "learners.conf", render_keys())
    _write(root / "nginx.conf", render(settings))
    _write(root / "settings.json", json.dumps(asdict(settings), indent=1) + "\n")
    _check(service(settings))
    return settings


def _check(gateway: services.Service) -> None:
    """``nginx -t`` on the written configuration: a mistake is named before any start."""
    argv = [arg for arg in gateway.argv if arg not in ("-g", "daemon off;")]
    checked = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise GatewayError(f"nginx rejects the gateway's configuration:\n{checked.stderr.strip()}")


def saved() -> Settings | None:
    """The settings of the last configured gateway, if any."""
    try:
        return Settings(**json.loads((prefix() / "settings.json").read_text()))
    except FileNotFoundError:
        return None


def up(settings: Settings, timeout: float = 30.0) -> Settings:
    """Configure and start the gateway (kept until ``down``); return the resolved settings.

    A port held by another program is a ServiceError naming it; nothing is left running.
    """
    settings = settings.resolved()
    current = running()
    if current is not None and current != settings:
        raise GatewayError(f"a class gateway already runs at {current.url} from {prefix()}; stop it first (`down`)")
    configure(settings)  # a port held by another program: services.start says so, before starting anything
    services.start(service(settings), timeout=timeout, keep=True)
    return settings


def down() -> bool:
    """Stop the gateway; True if one was running."""
    settings = saved()
    return settings is not None and services.stop(service(settings))


def running() -> Settings | None:
    """The running gateway's settings, or None."""
    settings = saved()
    return settings if settings is not None and services.running_pid(service(settings)) else None


def reload(timeout: float = 10.0) -> None:
    """Rewrite the keys include and make the running nginx use it; return only once no
    worker with the old keys takes a request any more.

    A reload (SIGHUP) starts new workers and asks the old ones to finish: each closes
    its idle keep-alive connections and accepts nothing new, but only when it gets to
    the signal. So this waits for the new keys to answer (``$keys_version``) and for
    every old worker to have gone or to call itself "shutting down" (nginx retitles it
    before closing its connections); a stream an old worker is sending still finishes.
    """
    settings = running()
    (prefix() / "logs").mkdir(parents=True, exist_ok=True)
    text = render_keys()
    _write(prefix() / "learners.conf", text)
    if settings is None:
        return
    _check(service(settings))
    master = services.running_pid(service(settings))
    old = services.process_tree(master)[:-1]
    os.kill(master, signal.SIGHUP)
    version = re.search(r'\$keys_version \{ default "(\w+)"', text).group(1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers_with(settings, version) and all(_finishing(worker) for worker in old):
            return
        time.sleep(0.05)
    raise GatewayError(f"nginx did not take the new keys within {timeout:.0f} s; see {prefix() / 'logs' / 'error.log'}")


def _answers_with(settings: Settings, version: str) -> bool:
    try:
        return requests.get(settings.url + HEALTH, timeout=2).json().get("keys") == version
    except (requests.RequestException, ValueError):
        return False


def _finishing(worker: psutil.Process) -> bool:
    """True when an old nginx worker has exited or is shutting down (takes nothing new)."""
    try:
        return "shutting down" in " ".join(worker.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return True


def revoke(learner: str) -> None:
    """Revoke ``learner``'s key; once this returns, the gateway answers that key with 401."""
    keys.revoke(learner)
    reload()
