"""Renamed settings keep their old names: GPCAST_HORIZON and GPCAST_LEVELS still work."""

from __future__ import annotations

import pytest

from gpcast.config import Settings


@pytest.mark.parametrize(("variable", "value"), [("GPCAST_H", "6"), ("GPCAST_HORIZON", "6")])
def test_the_horizon_is_read_under_its_new_and_its_old_name(
        variable: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    assert Settings().h == 6


@pytest.mark.parametrize("variable", ["GPCAST_LEVEL", "GPCAST_LEVELS"])
def test_the_levels_are_read_under_their_new_and_their_old_name(
        variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "50,90")
    assert Settings().level == [50, 90]


def test_an_unprefixed_variable_is_never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("H", "3")
    monkeypatch.setenv("HORIZON", "3")
    monkeypatch.setenv("LEVEL", "10")
    assert (Settings().h, Settings().level) == (12, [80, 95])


def test_arguments_take_either_name() -> None:
    assert Settings(h=4).h == Settings(horizon=4).h == 4
    assert Settings(level=[90]).level == Settings(levels=[90]).level == [90]
