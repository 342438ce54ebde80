"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from gpcast.data.panel import Panel
from panels import make_panel


@pytest.fixture(scope="session")
def panel() -> Panel:
    """Three series of 48 and 42 months with two regressors."""
    return make_panel()[0]
