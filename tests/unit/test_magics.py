"""The ``%ollama`` magics pick the real binary when there is one, else ``course ollama``."""

import os
import stat

from course_lib import magics


def test_falls_back_to_course_ollama(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    command, which = magics.ollama_command()
    assert command[-1] == "ollama" and "course ollama" in which


def test_prefers_a_real_binary_and_says_so(monkeypatch, tmp_path, capsys):
    fake = tmp_path / "ollama"
    fake.write_text('#!/bin/sh\necho "real ollama got: $@"\ncat\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    magics.ollama_line("list --x")
    magics.ollama_cell("run smollm2:135m", "a prompt from the cell\n")
    out = capsys.readouterr().out.splitlines()
    assert out == [f"(running the real ollama: {fake})", "real ollama got: list --x",
                   f"(running the real ollama: {fake})", "real ollama got: run smollm2:135m", "a prompt from the cell"]  # fmt: skip


def test_cell_create_uses_the_cell_as_modelfile(monkeypatch, tmp_path, capsys):
    fake = tmp_path / "ollama"
    fake.write_text('#!/bin/sh\ncat "$4"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    magics.ollama_cell("create mine", "FROM smollm2:135m\nPARAMETER temperature 0\n")
    assert "PARAMETER temperature 0" in capsys.readouterr().out
    assert not list(tmp_path.glob(".Modelfile-*"))
