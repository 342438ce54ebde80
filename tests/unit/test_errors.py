"""One exception tree: drawn in errors.py's docstring exactly as the classes define it, every
class with its exit code and its problem+json answer, and no exception class elsewhere."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from gpcast import errors
from gpcast.errors import DataProblem, DataValidationError, GpcastError
from gpcast.serving.problems import problem

SRC = Path(errors.__file__).parent
DOCS = SRC.parents[1] / "docs"
LINE = re.compile(r"^    (?P<tree>(?:[│ ]   )*(?:[├└]── )?)(?P<name>[A-Z]\w*Error)"
                  r"\s+(?P<exit>\d+)\s+(?P<http>\d+)\s+\S")


def drawn_tree() -> dict[str, tuple[set[str], int, int]]:
    """Each class drawn in the docstring: its parents, exit code and HTTP status."""
    drawn: dict[str, tuple[set[str], int, int]] = {}
    path: list[str] = []  # the classes above the current line, by depth
    last = ""
    for line in (errors.__doc__ or "").splitlines():
        found = LINE.match(line)
        if found is None:
            for extra in re.findall(r"also an? (\w+Error)", line):  # a second parent
                drawn[last][0].add(extra)
            continue
        depth = len(found["tree"]) // 4
        del path[depth:]
        last = found["name"]
        drawn[last] = ({path[-1]} if path else set(), int(found["exit"]), int(found["http"]))
        path.append(last)
    return drawn


def every_error() -> list[type[GpcastError]]:
    out: list[type[GpcastError]] = []
    todo = [GpcastError]
    while todo:
        cls = todo.pop()
        if cls not in out:
            out.append(cls)
            todo += cls.__subclasses__()
    return out


def test_the_drawn_tree_is_the_tree_the_classes_define() -> None:
    defined = {cls.__name__: ({b.__name__ for b in cls.__bases__ if b is not Exception},
                              cls.exit_code, cls.http_status) for cls in every_error()}
    assert drawn_tree() == defined


def test_every_error_class_lives_in_errors_py() -> None:
    tree_names = {cls.__name__ for cls in every_error()} | {"Exception", "BaseException"}
    elsewhere = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name | ast.Attribute) and ast.unparse(b).split(".")[-1]
                    in tree_names for b in node.bases):
                elsewhere.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert elsewhere == []


def example(cls: type[GpcastError]) -> GpcastError:
    if issubclass(cls, DataValidationError):
        return cls("plan.csv", [DataProblem("gap", "2 month(s) missing", column="telecom")])
    return cls("what went wrong", field="h")


@pytest.mark.parametrize("cls", every_error(), ids=lambda c: c.__name__)
def test_every_error_has_its_exit_code_and_its_problem_answer(cls: type[GpcastError]) -> None:
    assert 1 <= cls.exit_code <= 125  # a shell exit code no signal claims
    assert "title" in vars(cls), "each class names its own problem title"
    status, body = problem(example(cls), "/v1/forecast")
    answer = json.loads(body)
    assert status == answer["status"] == cls.http_status
    assert 400 <= status < 600 and status != 500  # a 500 is only ever a bug
    assert answer["title"] == cls.title and answer["error"] == cls.__name__
    assert answer["type"].endswith("/" + cls.__name__)


def test_the_documented_exit_codes_are_the_ones_the_cli_uses() -> None:
    text = (DOCS / "architecture.md").read_text()
    section = text.split("## Errors and exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(n) for row in re.findall(r"^\| ([\d, ]+) \|", section, re.M)
                  for n in row.split(",")}
    used = {cls.exit_code for cls in every_error()}
    assert documented == used | {0, errors.ACTION_NEEDED_EXIT, errors.USAGE_EXIT}
