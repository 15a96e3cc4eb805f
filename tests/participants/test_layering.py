"""participants sits above accounts and below everything else: it never reaches upward."""

import ast
import re
from pathlib import Path

import pytest

from participants.retention import finished

HIGHER = {"programmes", "measures", "reminders", "dashboards"}
BY_NAME = re.compile(r"get_model\(\s*[\"'](" + "|".join(sorted(HIGHER)) + ")")
ROOT = Path(__file__).resolve().parents[2] / "participants"


def _modules():
    return sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


def _imported(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_participants_imports_nothing_from_a_higher_layer(path):
    source = path.read_text()
    assert _imported(ast.parse(source)) & HIGHER == set()
    # Nor looks a higher layer's models up by name instead.
    assert not BY_NAME.search(source)


def test_the_scan_sees_the_modules_that_matter():
    names = {p.name for p in _modules()}
    assert {"models.py", "services.py", "subject_access.py", "retention.py"} <= names


def test_programmes_tells_retention_who_has_finished():
    assert finished.keys() == ["programmes.enrolments"]
