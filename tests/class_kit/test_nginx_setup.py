"""How `make test` finds or installs nginx with njs, and what a skip says where it cannot.

The install itself ran in `make test` (its `gateway` step); here the decisions around
it, on a machine made to look like one where nginx or njs cannot be had.
"""

from __future__ import annotations

import pytest

from course_lib.class_kit import gateway

from ..make_lab import nginx


@pytest.fixture
def no_packages(monkeypatch, tmp_path):
    """No nginx on PATH, and a user who may not install packages (not root, no sudo)."""
    monkeypatch.setattr(nginx, "STATUS_FILE", tmp_path / "nginx-unavailable.txt")
    monkeypatch.delenv("NGINX", raising=False)
    monkeypatch.setattr(gateway.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(gateway, "SBIN", ())
    monkeypatch.setattr(gateway.os, "geteuid", lambda: 1000)
    return nginx.STATUS_FILE


def test_a_user_who_may_not_install_packages_gets_the_reason(no_packages):
    assert nginx.install() is None
    reason = nginx.unavailable_reason()
    assert "may not install packages" in reason and "apt-get install nginx libnginx-mod-http-js" in reason
    assert no_packages.read_text() == reason + "\n"
    with pytest.raises(gateway.GatewayError, match="needs nginx"):
        gateway.find_nginx()


def test_nginx_without_njs_is_named(monkeypatch, tmp_path):
    binary = tmp_path / "nginx"
    binary.write_text("")
    monkeypatch.setenv("NGINX", str(binary))
    monkeypatch.setattr(gateway, "JS_MODULE", tmp_path / "ngx_http_js_module.so")
    with pytest.raises(gateway.GatewayError, match="needs njs"):
        gateway.find_nginx()
    monkeypatch.setenv("NGINX", str(tmp_path / "missing"))
    with pytest.raises(gateway.GatewayError, match="is not a file"):
        gateway.find_nginx()
