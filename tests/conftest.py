"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from gpcast.data.panel import Panel
from panels import make_panel


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The container tests share what the engine names globally (the containers
    gpcast-staging and gpcast-production-*, their volumes, the serving image's tags, the base
    image built on first use): with `pytest -n 2 --dist loadgroup` (make test) they all run
    on one worker, one after the other."""
    for item in items:
        if item.get_closest_marker("container"):
            item.add_marker(pytest.mark.xdist_group("containers"))


@pytest.fixture(scope="session")
def panel() -> Panel:
    """Three series of 48 and 42 months with two regressors."""
    return make_panel()[0]
