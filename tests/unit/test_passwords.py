"""Generated passwords always pass Azure's rules; secret files are 0600, never overwritten, never echoed."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from hpctl.core import passwords
from hpctl.core.passwords import generate_password, read_secret_file, write_secret_file
from hpctl.core.vm_rules import password_problems, validate_admin_password
from hpctl.errors import InputError

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def test_generated_passwords_pass_the_rules_over_many_draws() -> None:
    seen = set()
    for _ in range(2000):
        password = generate_password()
        assert len(password) == passwords.DEFAULT_LENGTH
        assert password_problems(password, "hpctladmin") == []
        assert validate_admin_password(password, "hpctladmin") == password
        assert set(password) <= set(passwords.ALPHABET)
        seen.add(password)
    assert len(seen) == 2000


@pytest.mark.parametrize("length", [12, 13, 16, 64, 123])
def test_every_length_in_range_passes(length: int) -> None:
    for _ in range(200):
        password = generate_password(length)
        assert len(password) == length
        assert password_problems(password) == []


@pytest.mark.parametrize("length", [0, 8, 11, 124])
def test_out_of_range_length_is_refused(length: int) -> None:
    with pytest.raises(ValueError):
        generate_password(length)


def test_username_never_appears_in_the_password() -> None:
    for _ in range(500):
        assert "abc" not in generate_password(12, username="aBc").lower()


def test_username_collision_is_redrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    results = iter(["opsXyz-12345678", "Good-pass-2345678"])

    class FakeRandom:
        def shuffle(self, chars: list[str]) -> None:
            chars[:] = list(next(results))

    monkeypatch.setattr(passwords.secrets, "SystemRandom", FakeRandom)
    assert generate_password(15, username="OPS") == "Good-pass-2345678"


def test_alphabet_avoids_shell_and_json_trouble() -> None:
    for ch in "\"'\\`$&<> \t\n[]":
        assert ch not in passwords.ALPHABET


@posix_only
def test_secret_file_is_0600_in_0700_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "web-01.password"
    secret = generate_password()
    old_umask = os.umask(0o022)
    try:
        written = write_secret_file(target, secret)
    finally:
        os.umask(old_umask)
    assert written == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    assert target.read_text() == secret


@posix_only
def test_mode_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        target = write_secret_file(tmp_path / "pw", "Secret-Value-123")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@posix_only
def test_existing_parent_keeps_its_mode(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir(mode=0o755)
    os.chmod(parent, 0o755)
    write_secret_file(parent / "pw", "Secret-Value-123")
    assert stat.S_IMODE(parent.stat().st_mode) == 0o755


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "pw"
    target.write_text("keep me")
    with pytest.raises(InputError) as info:
        write_secret_file(target, "New-Secret-123")
    assert target.read_text() == "keep me"
    assert "New-Secret-123" not in info.value.message
    assert "\n" not in info.value.message
    assert "already exists" in info.value.message


@posix_only
def test_refuses_a_symlink_even_a_dangling_one(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    link = tmp_path / "pw"
    link.symlink_to(victim)
    with pytest.raises(InputError):
        write_secret_file(link, "New-Secret-123")
    assert not victim.exists()


def test_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        write_secret_file(tmp_path, "New-Secret-123")


def test_read_back(tmp_path: Path) -> None:
    secret = generate_password()
    path = write_secret_file(tmp_path / "pw", secret)
    assert read_secret_file(path) == secret


@pytest.mark.parametrize(
    ("content", "expected"), [(b"Abc-123-xyz-Q\n", "Abc-123-xyz-Q"), (b"Abc-123-xyz-Q\r\n", "Abc-123-xyz-Q")]
)
def test_read_strips_one_final_newline(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "pw"
    path.write_bytes(content)
    assert read_secret_file(path) == expected


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty"),
        (b"\n", "empty"),
        (b"a\nb\n", "more than one line"),
        (b"\xff\xfe", "UTF-8"),
        (b"x" * 2000, "larger"),
    ],
)
def test_read_refuses_bad_files(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "pw"
    path.write_bytes(content)
    with pytest.raises(InputError, match=says) as info:
        read_secret_file(path)
    assert "\n" not in info.value.message
    assert info.value.message.startswith("--admin-password-file")


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_secret_file(tmp_path / "nope")


def test_nothing_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("DEBUG")
    secret = generate_password()
    read_secret_file(write_secret_file(tmp_path / "pw", secret))
    out, err = capsys.readouterr()
    assert secret not in out + err
    assert all(secret not in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------- Windows: the ACL, not mode bits


def test_windows_acl_command_grants_the_current_user_alone(tmp_path):
    from hpctl.core.passwords import windows_acl_command

    path = tmp_path / "web-01-admin-password"
    assert windows_acl_command(path, "alice", "CORP") == [
        "icacls", str(path), "/inheritance:r", "/grant:r", "CORP\\alice:F"]
    assert windows_acl_command(path, "alice", None)[-1] == "alice:F"


@pytest.fixture
def fake_icacls(tmp_path, monkeypatch):
    """An `icacls` on PATH that logs its arguments and the target's size at the moment it runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "icacls.log"
    script = bin_dir / "icacls"
    script.write_text('#!/bin/sh\nprintf "%s|%s\\n" "$*" "$(wc -c < "$1" 2>/dev/null || echo dir)" >> "$ICACLS_LOG"\n'
                      'exit "${ICACLS_EXIT:-0}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("ICACLS_LOG", str(log))
    monkeypatch.setenv("USERNAME", "alice")
    monkeypatch.setenv("USERDOMAIN", "CORP")
    monkeypatch.setattr("hpctl.core.passwords.ON_WINDOWS", True)
    return log


def test_on_windows_the_file_is_made_private_before_the_secret_is_written(tmp_path, fake_icacls):
    path = write_secret_file(tmp_path / "secrets" / "rg" / "vm-admin-password", "Correct-Horse-9-Battery")
    calls = fake_icacls.read_text().splitlines()
    # The new folders and then the file each get the ACL; the file still held 0 bytes when it did.
    assert calls[-1].strip() == f"{path} /inheritance:r /grant:r CORP\\alice:F|0"
    assert any(c.startswith(f"{tmp_path / 'secrets'} /inheritance:r") for c in calls)
    assert path.read_text() == "Correct-Horse-9-Battery"


def test_on_windows_a_failed_acl_leaves_no_secret_behind(tmp_path, fake_icacls, monkeypatch):
    from hpctl.errors import HpctlError

    (tmp_path / "secrets").mkdir()
    monkeypatch.setenv("ICACLS_EXIT", "5")
    with pytest.raises(HpctlError) as caught:
        write_secret_file(tmp_path / "secrets" / "vm-admin-password", "Correct-Horse-9-Battery")
    assert "icacls exit 5" in caught.value.message
    assert not (tmp_path / "secrets" / "vm-admin-password").exists()
