"""course_lib.jupyter_lab: how `course lab` runs JupyterLab (the real run is in tests/make_lab)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from course_lib import jupyter_lab


def test_serves_the_course_folder_and_opens_on_the_lessons(tmp_path):
    (tmp_path / "notebooks").mkdir()
    assert jupyter_lab.served(tmp_path / "notebooks", root=tmp_path) == (tmp_path.resolve(), "/lab/tree/notebooks")
    assert jupyter_lab.served(tmp_path, root=tmp_path) == (tmp_path.resolve(), "/lab")


def test_a_folder_outside_the_course_is_served_itself(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "course").mkdir()
    assert jupyter_lab.served(elsewhere, root=tmp_path / "course") == (elsewhere.resolve(), "/lab")


def test_no_browser_is_tried_without_a_display(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    argv = jupyter_lab.command(tmp_path, open_browser=True, root=tmp_path)
    assert "--no-browser" in argv and f"--ServerApp.root_dir={tmp_path.resolve()}" in argv
    monkeypatch.setenv("DISPLAY", ":0")
    assert "--no-browser" not in jupyter_lab.command(tmp_path, open_browser=True, root=tmp_path)
    assert "--no-browser" in jupyter_lab.command(tmp_path, open_browser=False, root=tmp_path)


def test_no_url_from_a_process_that_exits():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    started = time.monotonic()
    assert jupyter_lab.wait_for_url(process, timeout=30) is None
    assert time.monotonic() - started < 10


def test_leftovers_get_their_grace_then_are_killed():
    sleeper = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
    started = time.monotonic()
    jupyter_lab.stop_leftovers([psutil.Process(sleeper.pid)], grace=0.5)
    assert not psutil.pid_exists(sleeper.pid) and time.monotonic() - started < 5


def test_the_banner_names_the_url_and_what_ctrl_c_stops():
    text = jupyter_lab.banner("http://localhost:8888/lab/tree/notebooks?token=t", jupyter_lab.Path("notebooks"), ["ollama", "vllm"])
    assert "http://localhost:8888/lab/tree/notebooks?token=t" in text
    assert "engines started for it: ollama, vllm" in text
    assert "already running" in jupyter_lab.banner("http://x/lab", jupyter_lab.Path("notebooks"), [])
