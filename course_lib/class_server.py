"""A learner's side of a class server: ``COURSE_SERVER`` and ``COURSE_KEY``.

In a class the engines run on the instructor's machine behind a gateway
(``course_lib.class_kit.gateway``) that admits a request only with the learner's key.
Two variables move a learner's whole course there: ``COURSE_SERVER`` (the gateway's
URL) and ``COURSE_KEY`` (their key). ``apply()`` turns them into what each client
reads, so the lessons' own calls need no change:

- ``OLLAMA_HOST`` and ``VLLM_BASE_URL``: the gateway's ``/ollama`` (Ollama's root,
  so that a lesson's ``{OLLAMA}/v1`` is Ollama's OpenAI API, not vLLM's) and its
  ``/v1`` (vLLM), for the course and for the ``ollama`` module;
- ``OLLAMA_API_KEY``: the official ``ollama`` client sends it as a bearer token;
- ``NETRC``: a netrc file with the key for the gateway's host, which ``requests``
  reads for every call that brings no ``Authorization`` of its own (the gateway
  takes it as HTTP Basic auth, user ``course``);
- the OpenAI client gets the key from ``Engines.api_key`` (lessons pass it: their
  ``api_key="EMPTY"`` would be refused).

It runs when ``course_lib`` is imported (a notebook's first cell), before the lesson
creates any client; where ``COURSE_SERVER`` is unset it changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

from . import config
from .private_file import write_private

NETRC_LOGIN = "course"  # the user name the gateway expects with a key sent as Basic auth
NO_KEY = "EMPTY"  # what the course's local engines accept (they check no key)


def server() -> str | None:
    """The class gateway's URL (``COURSE_SERVER``), or None outside a class."""
    value = config._env("COURSE_SERVER").rstrip("/")
    return value or None


def key() -> str:
    """The learner's key (``COURSE_KEY``); ``EMPTY`` where none is needed."""
    return config._env("COURSE_KEY") or NO_KEY


def basic_authorization(key: str) -> str:
    """The ``Authorization`` header ``requests`` sends from the netrc file ``apply`` writes.

    >>> basic_authorization("k3y")
    'Basic Y291cnNlOmszeQ=='
    """
    return "Basic " + base64.b64encode(f"{NETRC_LOGIN}:{key}".encode()).decode()


def learner_environment(gateway_url: str, learner_key: str, netrc_file: Path) -> dict[str, str]:
    """The variables a learner's process needs to use the class server (for a spawner)."""
    url = gateway_url.rstrip("/")
    return {
        "COURSE_SERVER": url,
        "COURSE_KEY": learner_key,
        "OLLAMA_HOST": f"{url}/ollama",
        "VLLM_BASE_URL": f"{url}/v1",
        "OLLAMA_API_KEY": learner_key,
        "NETRC": str(netrc_file),
    }


def write_netrc(path: Path, gateway_url: str, learner_key: str) -> Path:
    """A netrc file (mode 0600) giving ``learner_key`` for the gateway's host."""
    host = urlsplit(gateway_url).hostname or "127.0.0.1"
    return write_private(path, f"machine {host}\nlogin {NETRC_LOGIN}\npassword {learner_key}\n")


def netrc_path(learner_key: str) -> Path:
    """The netrc file of this key under ``COURSE_HOME`` (never the learner's own ``~/.netrc``).

    Named by a digest of the key, so that learners who share one ``COURSE_HOME`` (one
    machine, one user) each keep their own file instead of overwriting each other's.
    """
    digest = hashlib.sha256(learner_key.encode()).hexdigest()[:12]
    return config.course_home() / f"class-server-{digest}.netrc"


def apply() -> str | None:
    """Point this process at the class server, if ``COURSE_SERVER`` is set; its URL."""
    url = server()
    if url is None:
        return None
    netrc_file = netrc_path(key())
    write_netrc(netrc_file, url, key())
    os.environ.update(learner_environment(url, key(), netrc_file))
    return url
