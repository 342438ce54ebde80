"""Arriving actuals are checked against the store: revisions only when asked, no month
from the future or beyond the next one, no value far outside its series; retractions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpcast.config import Settings
from gpcast.data.panel import DS, ID, Panel
from gpcast.errors import DataValidationError, RevisionNotAllowedError
from gpcast.monitoring.actuals import add_actuals, retract_actuals
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.wiring import actuals_rules

HEADER = "Month,healthcare,telecom,No of Phone Lines,No of Channels\n"


@pytest.fixture()
def ledger(tmp_path: Path) -> ForecastLedger:
    """A store holding 2023-01..2024-12 of two series (as a recorded forecast leaves it)."""
    months = pd.date_range("2023-01-01", periods=24, freq="MS")
    frame = pd.concat([pd.DataFrame({ID: uid, DS: months, "y": 1000.0 + 10 * np.arange(24),
                                     "phone_lines": 100.0, "channels": 6.0})
                       for uid in ("healthcare", "telecom")], ignore_index=True)
    store = ForecastLedger.for_home(tmp_path, None)
    store.add_actuals(Panel(frame, ("phone_lines", "channels"), 12, "train"), "train")
    return store


def arrive(ledger: ForecastLedger, tmp_path: Path, rows: str, revise: bool = False,
           **settings: object) -> tuple[int, int]:
    path = tmp_path / "new.csv"
    path.write_text(HEADER + rows)
    rules = actuals_rules(Settings(home=tmp_path, **settings))  # type: ignore[arg-type]
    change = add_actuals(ledger, str(path), rules, revise=revise)
    return change.added, change.revised


def test_the_next_month_is_added(ledger: ForecastLedger, tmp_path: Path) -> None:
    assert arrive(ledger, tmp_path, "2025-01,1300,1310,100,6\n") == (2, 0)


def test_a_revision_is_refused_listing_it_unless_revise_is_given(
        ledger: ForecastLedger, tmp_path: Path) -> None:
    with pytest.raises(RevisionNotAllowedError, match=r"healthcare 2024-12: 1,230 → 5,000"):
        arrive(ledger, tmp_path, "2024-12,5000,1230,100,6\n")
    assert ledger.actuals().query("unique_id == 'healthcare'")["y"].iloc[-1] == 1230
    assert arrive(ledger, tmp_path, "2024-12,5000,1230,100,6\n", revise=True) == (0, 1)
    assert ledger.actuals().query("unique_id == 'healthcare'")["y"].iloc[-1] == 5000


def test_a_month_after_the_next_expected_one_is_refused(ledger: ForecastLedger,
                                                        tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as info:
        arrive(ledger, tmp_path, "2025-03,1300,1310,100,6\n")
    assert {(p.code, p.month) for p in info.value.problems} == {("unexpected_month", "2025-03")}
    assert "2025-01, the next month expected" in info.value.problems[0].message


@pytest.mark.parametrize(("row", "code"), [("2099-01,1300,1310,100,6", "future_month"),
                                           ("2025-01,1e308,1310,100,6", "absurd"),
                                           ("2025-01,130000,1310,100,6", "out_of_range")])
def test_far_future_months_and_absurd_values_are_refused(
        ledger: ForecastLedger, tmp_path: Path, row: str, code: str) -> None:
    with pytest.raises(DataValidationError) as info:
        arrive(ledger, tmp_path, row + "\n")
    assert code in {p.code for p in info.value.problems}
    assert len(ledger.actuals()) == 48  # nothing stored


def test_a_wrongly_added_month_is_retracted_and_can_come_back(ledger: ForecastLedger,
                                                              tmp_path: Path) -> None:
    arrive(ledger, tmp_path, "2025-01,1300,1310,100,6\n")
    assert retract_actuals(ledger, "2025-01", ["healthcare"], "typo") == ["healthcare"]
    latest = ledger.actuals()
    assert latest[DS].max() == pd.Timestamp("2025-01-01")  # telecom keeps its month
    assert pd.Timestamp("2025-01-01") not in set(latest.query("unique_id == 'healthcare'")[DS])
    [record] = ledger.retractions().to_dict("records")
    assert (record["unique_id"], record["reason"]) == ("healthcare", "typo")
    assert arrive(ledger, tmp_path, "2025-01,1301,1310,100,6\n") == (1, 0)
    assert ledger.actuals().query("unique_id == 'healthcare'")["y"].iloc[-1] == 1301
