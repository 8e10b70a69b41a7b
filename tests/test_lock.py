"""requirements.lock pins every dependency the set-up installs, at a release its specifier allows.

scripts/setup.sh installs with the lock as pip constraints; a dependency added to pyproject but
not to the lock would again take PyPI's newest release on a fresh machine, and a pin outside the
specifier would make the set-up fail there.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pins(text: str) -> dict[str, Version]:
    out = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            out[canonicalize_name(name)] = Version(version)
    return out


def installed_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"]
    lines += [ln for ln in (ROOT / "requirements-nodeps.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    return [Requirement(line) for line in lines]


def unlocked(requirements: list[Requirement], locked: dict[str, Version]) -> list[str]:
    """Each requirement the lock leaves unpinned or pins outside its specifier, as a readable line."""
    problems = []
    for req in requirements:
        version = locked.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: locked {version}, pyproject asks {req.specifier}")
    return problems


def test_the_lock_pins_every_installed_dependency_within_its_specifier():
    locked = pins((ROOT / "requirements.lock").read_text())
    assert len(locked) > 100  # the whole venv, not just the direct dependencies
    assert locked["torch"] == Version("2.14.1")
    assert {"pip", "setuptools", "wheel"} <= set(locked)  # the installer itself: set-up takes it from the lock
    assert unlocked(installed_requirements(), locked) == []


def test_a_missing_or_out_of_range_pin_is_reported():
    locked = pins("numpy==2.4.6\nopenvino==2026.4.1\n")
    problems = unlocked([Requirement("numpy>=1.26,<2"), Requirement("openvino>=2025.1"), Requirement("scipy")],
                        locked)
    assert problems == ["numpy: locked 2.4.6, pyproject asks <2,>=1.26", "scipy: not in requirements.lock"]
