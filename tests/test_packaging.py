"""The wheel built from a plain copy of the tracked files (no symlinks, as a Windows clone has) holds every
module, data file and template hpctl needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tracked() -> list[tuple[str, str]]:
    """(mode, path) of every tracked file."""
    out = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [(line.split()[0], line.split("\t", 1)[1]) for line in out.splitlines()]


def test_the_repository_holds_no_symlinks():
    links = [path for mode, path in tracked() if mode == "120000"]
    assert not links, f"symlinks break Windows clones: {links}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    pytest.importorskip("setuptools", minversion="77")
    pytest.importorskip("wheel")
    src = tmp_path_factory.mktemp("src")
    for _, path in tracked():
        target = src / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, target)  # copies contents only: a symlink would become a plain file or fail
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True)
    (built,) = out.glob("hpctl-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_ships_every_template(wheel):
    names = set(wheel.namelist())
    templates = sorted(p.name for p in (ROOT / "templates").glob("*.json"))
    assert "hotpatch-vm.json" in templates and "hpctl-reader.role.json" in templates
    missing = [t for t in templates if f"hpctl/templates/{t}" not in names]
    assert not missing, f"the wheel lacks templates {missing}"


def test_the_wheel_ships_every_module_and_data_file(wheel):
    names = set(wheel.namelist())
    wanted = [p.relative_to(ROOT).as_posix() for p in (ROOT / "hpctl").rglob("*")
              if p.suffix in (".py", ".json") and "__pycache__" not in p.parts]
    missing = [w for w in wanted if w not in names]
    assert not missing, f"the wheel lacks {missing}"


def test_the_actions_requirements_are_pinned_hashed_and_complete():
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    from packaging.requirements import Requirement
    from packaging.version import Version

    text = (ROOT / "requirements" / "action.txt").read_text()
    pins: dict[str, str] = {}
    for block in text.replace("\\\n", " ").splitlines():
        block = block.split("#", 1)[0].strip()
        if not block:
            continue
        spec, *hashes = block.split("--hash=")
        name, _, version = spec.strip().partition("==")
        assert version, f"{spec.strip()} is not pinned with =="
        assert hashes and all(h.strip().startswith("sha256:") for h in hashes), f"{name} has no sha256 hash"
        pins[name.lower().replace("_", "-")] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for line in needed:
        req = Requirement(line)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} (needed by hpctl) is missing from requirements/action.txt"
        assert req.specifier.contains(Version(pins[name]), prereleases=True), f"{name}=={pins[name]} not {req}"


def test_pyproject_lists_every_package():
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {p.parent.relative_to(ROOT).as_posix().replace("/", ".") for p in (ROOT / "hpctl").rglob("__init__.py")}
    data = {f"{p.parent.relative_to(ROOT).as_posix().replace('/', '.')}" for p in (ROOT / "hpctl").rglob("data/*.json")}
    # hpctl.templates is the top-level templates/ folder (package-dir), not a folder under hpctl/.
    assert listed == found | data | {"hpctl.templates"}, "add new packages to [tool.setuptools] packages"
