"""requirements.lock is what every install uses: the check CI runs must catch a
pyproject.toml that asks for something the lock does not hold."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def check(root):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_lock.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused(root) -> str:
    result = check(root)
    assert result.returncode == 1, "the check passed a lock that disagrees"
    return result.stderr


def add_to_pyproject(root, marker, line):
    path = root / "pyproject.toml"
    text = path.read_text()
    assert marker in text
    path.write_text(text.replace(marker, f'{marker}\n    "{line}",', 1))


def test_the_committed_lock_agrees_with_pyproject(project):
    result = check(project)
    assert result.returncode == 0, result.stderr


def test_a_new_requirement_missing_from_the_lock_fails_the_check(project):
    add_to_pyproject(project, "dependencies = [", "django-axes>=8")
    assert "django-axes>=8 (wanted by pyproject.toml) is not in the lock" in refused(project)


def test_a_new_test_tool_missing_from_the_lock_fails_the_check(project):
    add_to_pyproject(project, "test = [", "pytest-randomly>=3")
    assert "pytest-randomly" in refused(project)


def test_a_raised_lower_bound_the_pin_does_not_meet_fails_the_check(project):
    path = project / "pyproject.toml"
    path.write_text(path.read_text().replace('"Django>=6.1,<6.2"', '"Django>=6.1.999,<6.2"'))
    assert "Django<6.2,>=6.1.999 (wanted by pyproject.toml) is locked at django==" in refused(
        project
    )


def test_an_extra_that_pulls_a_package_the_lock_lacks_fails_the_check(project):
    path = project / "pyproject.toml"
    path.write_text(path.read_text().replace('"celery[redis]', '"celery[redis,msgpack,yaml,zstd]'))
    assert "zstandard" in refused(project).lower()


def test_a_stale_lock_entry_fails_the_check(project):
    path = project / "pyproject.toml"
    path.write_text(path.read_text().replace('    "openpyxl>=3.1",\n', ""))
    stderr = refused(project)
    assert "openpyxl==" in stderr
    assert "et-xmlfile==" in stderr


def test_every_lock_entry_carries_a_hash():
    entries = [
        line
        for line in (ROOT / "requirements.lock").read_text().split("\n")
        if line and not line[0].isspace() and not line.startswith("#")
    ]
    assert entries
    assert all(line.endswith("\\") for line in entries), "an entry without --hash"


def test_the_bench_extra_stays_out_of_the_lock():
    assert "\nlocust==" not in (ROOT / "requirements.lock").read_text()
