"""Strong admin passwords for new VMs, and the 0600 files they are handed over in; never logged."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
from pathlib import Path

from hpctl.errors import HpctlError, InputError

DEFAULT_LENGTH = 24
MIN_LENGTH = 12
MAX_LENGTH = 123
# Look-alikes (O/0, I/l/1) are left out because these passwords get typed into RDP prompts by hand.
LOWER = "".join(ch for ch in string.ascii_lowercase if ch not in "l")
UPPER = "".join(ch for ch in string.ascii_uppercase if ch not in "IO")
DIGITS = "23456789"
# No quotes, backslash, backtick, '$', '&', '<', '>' or space: the password must survive being pasted into
# PowerShell, cmd, bash and JSON without quoting surprises.
SPECIAL = "!#%*+-.:=?@^_~"
ALPHABET = LOWER + UPPER + DIGITS + SPECIAL
# A secret file is one line of text; anything bigger is not a password file.
MAX_SECRET_FILE_BYTES = 1024
# Windows ignores mode bits, so privacy there comes from the file's ACL (see make_private_on_windows).
ON_WINDOWS = os.name == "nt"


def generate_password(length: int = DEFAULT_LENGTH, *, username: str | None = None) -> str:
    """A random password meeting Azure's Windows rules: every character class, 12-123 characters.

    With `username`, a draw that happens to contain it (Windows refuses that) is thrown away and redrawn.
    """
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"password length must be {MIN_LENGTH}-{MAX_LENGTH}, got {length}")
    rng = secrets.SystemRandom()
    while True:
        # One from each class guarantees complexity; the rest is uniform over the whole alphabet.
        chars = [
            secrets.choice(LOWER),
            secrets.choice(UPPER),
            secrets.choice(DIGITS),
            secrets.choice(SPECIAL),
        ]
        chars += [secrets.choice(ALPHABET) for _ in range(length - len(chars))]
        rng.shuffle(chars)
        password = "".join(chars)
        if username and len(username) >= 3 and username.lower() in password.lower():
            continue
        return password


def _make_private_dirs(directory: Path) -> None:
    """Create missing parents with mode 0700; directories that already exist are left as they are."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700)
        # mkdir's mode is filtered through the umask; set it outright.
        os.chmod(path, 0o700)
        if ON_WINDOWS:
            make_private_on_windows(path)


def write_secret_file(path: str | os.PathLike[str], secret: str) -> Path:
    """Write `secret` to a new file readable only by its owner (0600) and return its path.

    Refuses to overwrite anything already at `path` (a file, a directory or a symlink), so a secret is never
    silently replaced and a planted symlink is never followed.
    """
    target = Path(path).expanduser()
    if target.exists() or target.is_symlink():
        raise InputError(
            f"{target} already exists: hpctl never overwrites a secret file; choose another path or remove it"
        )
    _make_private_dirs(target.parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        # Someone created it between the check and the open: same answer, never clobber.
        raise InputError(
            f"{target} already exists: hpctl never overwrites a secret file; choose another path or remove it"
        ) from None
    try:
        # os.open's mode is filtered through the umask too; make 0600 explicit.
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        if ON_WINDOWS:
            # Windows ignores the mode bits: the file would inherit its folder's ACL (often readable by
            # other users and administrators' tools). Cut inheritance and grant only the current user, before
            # the secret is written.
            make_private_on_windows(target)
        os.write(fd, secret.encode("utf-8"))
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)
    return target


def windows_acl_command(path: Path, user: str, domain: str | None) -> list[str]:
    """icacls arguments that leave `path` readable and writable by `user` alone: inherited entries removed,
    the user's grant replaced by full control (a new file or folder has no other explicit entries)."""
    account = f"{domain}\\{user}" if domain else user
    return ["icacls", str(path), "/inheritance:r", "/grant:r", f"{account}:F"]


def make_private_on_windows(path: Path) -> None:
    user = os.environ.get("USERNAME")
    if not user:
        raise HpctlError(f"Can't tell the current Windows user (USERNAME is unset), so {path} can't be made private.")
    command = windows_acl_command(path, user, os.environ.get("USERDOMAIN"))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HpctlError(f"Could not limit {path} to {user} (icacls exit {result.returncode}); nothing was written "
                         "to it.", hint=(result.stderr or result.stdout).strip()[:200] or None)


def read_secret_file(path: str | os.PathLike[str], flag: str = "--admin-password-file") -> str:
    """The secret in a one-line file (final newline dropped); InputError if missing, empty or multi-line."""
    target = Path(path).expanduser()
    try:
        data = target.read_bytes()[: MAX_SECRET_FILE_BYTES + 1]
    except FileNotFoundError:
        raise InputError(
            f"{flag} {target} does not exist: give the path of a file holding the password"
        ) from None
    except IsADirectoryError:
        raise InputError(
            f"{flag} {target} is a directory: give the path of a file holding the password"
        ) from None
    except PermissionError:
        raise InputError(f"{flag} {target} cannot be read: check its permissions") from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise InputError(
            f"{flag} {target} is larger than {MAX_SECRET_FILE_BYTES} bytes: it should hold one line"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{flag} {target} is not UTF-8 text: save the password as plain text") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise InputError(f"{flag} {target} is empty: put the password on its first line")
    if "\n" in text or "\r" in text:
        raise InputError(f"{flag} {target} has more than one line: keep only the password in it")
    return text
