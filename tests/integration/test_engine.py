"""Execution engines for real: local processes and a Dask cluster on 127.0.0.1 give the
in-process result bit for bit, and a worker lost mid-run costs a retry, not the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpcast.engine import Engine, InlineEngine, make_engine, open_engine
from gpcast.errors import ConfigError
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.evaluation.panelwise import fit_panel
from gpcast.evaluation.selection import select
from panels import make_panel

NAMES = ["gp", "seasonal_naive", "auto_ets", "auto_theta"]
SPEC = BacktestSpec(h=6, n_windows=2, step_size=3)


@pytest.fixture(scope="module", params=["processes", "dask"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Two workers: loky processes, or a Dask LocalCluster (scheduler on 127.0.0.1)."""
    with open_engine(request.param, workers=2) as started:
        if request.param == "dask":
            address = started.client.scheduler.address  # type: ignore[attr-defined]
            assert address.startswith("tcp://127.0.0.1:")
        yield started


def run(engine: Engine) -> tuple[pd.DataFrame, object, list[object]]:
    panel, future = make_panel(n_series=6, n_months=40, h_future=6, seed=11)
    backtest = run_backtest(panel, NAMES, SPEC, engine=engine)
    model, fit_failures = fit_panel(panel, select(backtest), 12, engine)
    return backtest.points, model.forecast(6, future), [*backtest.failures, *fit_failures]


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, object, list[object]]:
    return run(InlineEngine())


def test_the_engine_gives_the_in_process_result_bit_for_bit(
        engine: Engine, reference: tuple[pd.DataFrame, object, list[object]]) -> None:
    points, forecast, failures = run(engine)
    ref_points, ref_forecast, ref_failures = reference
    assert engine.workers == 2 and failures == ref_failures == []
    pd.testing.assert_frame_equal(points, ref_points, check_exact=True)
    assert forecast.unique_ids == ref_forecast.unique_ids  # type: ignore[attr-defined]
    for attr in ("median", "lower", "upper"):
        a, b = getattr(forecast, attr), getattr(ref_forecast, attr)
        for key in (a if isinstance(a, dict) else [None]):
            np.testing.assert_array_equal(a[key] if key else a, b[key] if key else b)


def die_once(item: tuple[str, int]) -> int:
    """Kills its worker process the first time it sees its marker file missing."""
    marker, value = item
    if value == 3 and not Path(marker).exists():
        Path(marker).touch()
        os._exit(17)
    return value * value


def test_a_worker_lost_mid_run_is_retried(engine: Engine, tmp_path: Path) -> None:
    marker = str(tmp_path / f"died-{engine.name}")
    seen: list[int] = []
    out = engine.map(die_once, [(marker, v) for v in range(8)],
                     on_result=lambda i, r: seen.append(i))
    assert Path(marker).exists()  # a worker did die
    assert out == [v * v for v in range(8)]
    assert sorted(seen) == list(range(8))


def test_an_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'ray'"):
        make_engine("ray")
    with pytest.raises(ConfigError, match="at least 1"):
        make_engine("processes", workers=0)


def test_two_dask_clusters_run_at_once_each_on_its_own_loopback_ports() -> None:
    # Two gpcast commands (or two test workers) on the dask engine: Dask's scheduler HTTP
    # server defaults to port 8787, and the second cluster then fails (warnings are errors
    # here) or moves with a warning; each must take a free port on 127.0.0.1 instead.
    with open_engine("dask", workers=1) as first, open_engine("dask", workers=1) as second:
        servers = [e.cluster.scheduler.http_server for e in (first, second)]  # type: ignore[attr-defined]
        assert [s.address for s in servers] == ["127.0.0.1", "127.0.0.1"]
        assert servers[0].port != servers[1].port
        assert first.map(abs, [-1, -2]) == [1, 2] and second.map(abs, [-3]) == [3]
