"""How `make test` finds or installs Chromium, and what a skip says where it cannot.

The install itself ran in `make test` (its `browser` step); here the decisions around
it, on a machine made to look like one where Chromium cannot be had.
"""

from __future__ import annotations

import pytest

from . import chromium


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(chromium, "STATUS_FILE", tmp_path / "chromium-unavailable.txt")
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(chromium.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    return chromium.STATUS_FILE


def test_a_user_who_may_not_install_packages_gets_the_reason(no_chromium, monkeypatch):
    monkeypatch.setattr(chromium.os, "geteuid", lambda: 1000)  # not root, and no sudo on PATH
    assert chromium.install() is None
    assert "may not install packages" in chromium.unavailable_reason()
    assert no_chromium.read_text() == chromium.unavailable_reason() + "\n"


def test_no_apt_get_is_said_too(no_chromium, monkeypatch):
    monkeypatch.setattr(chromium.shutil, "which", lambda name: None)
    assert chromium.install() is None
    assert "no apt-get" in chromium.unavailable_reason()


def test_a_found_chromium_clears_an_old_reason(no_chromium, monkeypatch, tmp_path):
    no_chromium.write_text("an old reason\n")
    browser = tmp_path / "chromium"
    browser.write_text("")
    monkeypatch.setenv("CHROMIUM", str(browser))
    assert chromium.install() == str(browser)
    assert not no_chromium.exists()


def test_a_wrong_chromium_variable_is_named_in_the_reason(no_chromium, monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "missing"))
    assert chromium.find() is None
    assert "is not a file" in chromium.unavailable_reason()
