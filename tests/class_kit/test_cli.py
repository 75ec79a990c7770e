"""``course class …`` on bad input: a clear message and exit status 1, never a traceback."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from course_lib.cli import app

from ..make_lab import nginx


@pytest.fixture
def course(tmp_path, monkeypatch):
    """The real command line, in this process, with a COURSE_HOME of its own."""
    monkeypatch.setenv("COURSE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["class", *args])


def test_a_bad_roster_names_its_line(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("learner,email\nada,a@x\nAda Lovelace,b@x\n")
    done = course("keys", "--roster", str(roster), "--out", str(tmp_path / "keys.csv"))
    assert done.exit_code == 1 and "line 3: 'Ada Lovelace' is not a valid learner name" in done.output
    assert "Traceback" not in done.output and not (tmp_path / "keys.csv").exists()
    missing = course("keys", "--roster", str(tmp_path / "none.csv"), "--out", str(tmp_path / "keys.csv"))
    assert missing.exit_code == 1 and "no such roster file" in missing.output


def test_keys_are_written_once_and_kept(course, tmp_path):
    roster, out = tmp_path / "roster.csv", tmp_path / "keys.csv"
    roster.write_text("learner\nada\nbob\n")
    done = course("keys", "--roster", str(roster), "--out", str(out))
    assert done.exit_code == 0
    first = out.read_text()
    assert first.startswith("learner,email,key\nada,,") and len(first.splitlines()) == 3  # not the instructor's key
    instructor = done.output.split("course bench gateway`): ")[1].strip()
    assert len(instructor) > 30 and instructor not in first
    again = course("keys", "--roster", str(roster), "--out", str(out))
    assert again.exit_code == 0 and out.read_text() == first and instructor in again.output
    roster.write_text("learner\nada\ninstructor\n")
    taken = course("keys", "--roster", str(roster), "--out", str(out))
    assert taken.exit_code == 1 and "line 3: 'instructor' is the instructor's own name" in taken.output


def test_revoking_a_learner_without_a_key_is_refused(course):
    done = course("revoke", "zed")
    assert done.exit_code == 1 and "no key was issued to 'zed'" in done.output


def test_a_bad_rate_or_port_is_refused_before_anything_starts(course):
    rate = course("gateway", "up", "--rate", "5")
    assert rate.exit_code == 1 and "r/s or r/m" in rate.output
    port = course("gateway", "up", "--port", "70000")
    assert port.exit_code == 1 and "port within 1-65535" in port.output
    status = course("gateway", "status")
    assert status.exit_code == 1 and "not running" in status.output


def test_usage_without_a_log_says_so(course):
    done = course("usage")
    assert done.exit_code == 0 and "no requests logged" in done.output


def test_a_port_in_use_is_said_and_nothing_starts(course):
    nginx.require()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = course("gateway", "up", "--port", str(port), "--ollama-url", "http://127.0.0.1:9", "--vllm-url", "http://127.0.0.1:9")
    assert done.exit_code == 1 and f"port {port} on 127.0.0.1 is already in use" in done.output
    assert "Traceback" not in done.output
    assert course("gateway", "status").exit_code == 1


def test_class_down_stops_only_the_engines_class_up_started(home):
    """`course up`'s engines, or a real Ollama, found running by `class up`, outlive `class down`."""
    from course_lib.class_kit import classroom

    assert classroom.engines_started_by_class() == []
    classroom._remember_engines(["vllm"])  # as `class up` records it when it started vLLM alone
    classroom._remember_engines([])  # a second `class up` that found both running adds nothing
    assert classroom.engines_started_by_class() == ["vllm"]
    classroom._engines_file().unlink()
