"""What the API told users is scored too: captured forecasts flow into the ledger."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gpcast import wiring
from gpcast.config import Settings
from gpcast.data import load_panel
from gpcast.data.capture_store import read_captured
from gpcast.data.panel import DS, Panel
from gpcast.models import make_forecaster
from gpcast.monitoring.captured import record_captured
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import run_monitor
from gpcast.monitoring.record import record_forecast
from gpcast.registry.artifact import ModelBundle
from gpcast.serving.capture import CaptureRecord, CaptureWriter
from gpcast.serving.service import ForecastService
from gpcast.wiring import monitor_policy


def test_captured_api_forecasts_are_recorded_once_and_scored(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    full = load_panel(wiring.data_source(settings))
    known = Panel(full.frame[full.frame[DS] <= "2023-12-01"], full.regressors, 12, "known")
    fitted = make_forecaster("seasonal_naive").fit(known)
    service = ForecastService(ModelBundle(fitted, known, {"version": "4"}), "0" * 64, 36)
    body = json.dumps({"h": 6, "series": ["banking", "telecom"], "level": [80, 95],
                       "regressors": {"phone_lines": [106] * 6, "channels": [6] * 6}}).encode()
    answer = service.answer(body)

    url = f"sqlite:///{tmp_path / 'capture.db'}"
    writer = CaptureWriter(url)
    for i in range(2):  # the same request twice
        writer.put_nowait(CaptureRecord(f"r{i}", time.time(), "/v1/forecast", 200, 3.0, "k1",
                                        "4", answer.n_series, answer.h, body, answer.body))
    writer.put_nowait(CaptureRecord("bad", time.time(), "/v1/forecast", 422, 1.0, "k1", "4",
                                    0, None, b"{}", b'{"title": "invalid"}'))
    writer.close()

    ledger = ForecastLedger.for_home(tmp_path, None)
    assert record_captured(ledger, read_captured(url)) == 2 * 6
    captured = ledger.forecasts("captured", "4")
    assert set(captured["unique_id"]) == {"banking", "telecom"}
    assert captured["issue_month"].iloc[0] == known.frame[DS].max()
    assert '"phone_lines": 106.0' in captured["plan"].iloc[0]

    # production's own forecast and the months that followed: both roles are scored
    record_forecast(ledger, fitted, known, 6, "4", regressor_policy="carry_last")
    ledger.add_actuals(Panel(full.frame[full.frame[DS] > "2023-12-01"], full.regressors, 12,
                             "later"), "later.csv")
    result = run_monitor(ledger, monitor_policy(settings))
    scored = result.points.groupby("role").size().to_dict()
    assert scored == {"captured": 12, "production": 5 * 6}
