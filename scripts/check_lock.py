"""Fails when requirements.lock and pyproject.toml disagree.

Every requirement in pyproject.toml (the dependencies, the `test` extra and the build
system's) must be pinned in the lock at a version its specifier allows, and so must
everything those pins need in turn, extras included, as the installed packages' metadata
says. A lock entry nothing needs any more is reported too. Works offline in a second: it
reads the venv that scripts/bootstrap installed from the lock, and never resolves anything.

    .venv/bin/python scripts/check_lock.py [--root DIR]

Exit status 0 when they agree; 1 with one line per disagreement otherwise.
"""

import argparse
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# Extras installed by CI and developers; `bench` (locust) is installed by hand when needed.
LOCKED_EXTRAS = ("test",)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(path: Path) -> dict[str, Version]:
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def roots(pyproject: Path) -> list[Requirement]:
    data = tomllib.loads(pyproject.read_text())
    found = [Requirement(r) for r in data["project"].get("dependencies", [])]
    optional = data["project"].get("optional-dependencies", {})
    for extra in LOCKED_EXTRAS:
        found += [Requirement(r) for r in optional.get(extra, [])]
    found += [Requirement(r) for r in data.get("build-system", {}).get("requires", [])]
    return found


def applies(requirement: Requirement, extra: str = "") -> bool:
    if requirement.marker is None:
        return True
    return requirement.marker.evaluate({**default_environment(), "extra": extra})


def disagreements(root: Path) -> list[str]:
    pins = read_lock(root / "requirements.lock")
    project = canonicalize_name(
        tomllib.loads((root / "pyproject.toml").read_text())["project"]["name"]
    )
    problems = []
    needed: set[str] = set()
    queue = [(r, "pyproject.toml") for r in roots(root / "pyproject.toml") if applies(r)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement, wanted_by = queue.pop()
        name = canonicalize_name(requirement.name)
        if name == project:
            continue
        needed.add(name)
        if name not in pins:
            problems.append(f"{requirement} (wanted by {wanted_by}) is not in the lock")
            continue
        if not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(
                f"{requirement} (wanted by {wanted_by}) is locked at {name}=={pins[name]}"
            )
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            installed = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name} is locked but not installed: run scripts/bootstrap")
            continue
        if Version(installed.version) != pins[name]:
            problems.append(f"{name} {installed.version} is installed; the lock says {pins[name]}")
        for line in installed.requires or []:
            sub = Requirement(line)
            if applies(sub) or any(applies(sub, extra) for extra in requirement.extras):
                queue.append((sub, f"{name}=={pins[name]}"))
    for name in sorted(set(pins) - needed):
        problems.append(f"{name}=={pins[name]} is in the lock but nothing needs it")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    problems = disagreements(parser.parse_args().root)
    for problem in problems:
        print(f"requirements.lock: {problem}", file=sys.stderr)
    if problems:
        print(
            "requirements.lock and pyproject.toml disagree: update the lock with scripts/lock "
            "(see README, 'Dependencies').",
            file=sys.stderr,
        )
        return 1
    print("requirements.lock agrees with pyproject.toml", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
