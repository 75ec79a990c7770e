"""Secrets are written owner-only and whole: a leftover of a killed write changes neither."""

import os

from course_lib.private_file import write_private


def test_written_owner_only_whatever_the_umask_and_a_leftover(tmp_path):
    target = tmp_path / "sub" / "keys.json"
    leftover = target.with_name("keys.json.partial")
    leftover.parent.mkdir()
    leftover.write_text("half a secret")
    leftover.chmod(0o644)
    old_umask = os.umask(0)
    try:
        assert write_private(target, "secret") == target
    finally:
        os.umask(old_umask)
    assert target.read_text() == "secret" and oct(target.stat().st_mode & 0o777) == "0o600"
    assert not leftover.exists()
    write_private(target, "new")
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) == "0o600"
