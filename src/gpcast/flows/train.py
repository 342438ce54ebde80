"""Training flows: tune a candidate's configuration on the panel (``gpcast tune``).

The training of a release candidate itself is a stage of the release pipeline
(:func:`gpcast.flows.release.run`), which also tunes when ``GPCAST_TUNE`` asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gpcast import wiring
from gpcast.config import Settings

if TYPE_CHECKING:
    from gpcast.evaluation.tuning import Tuning

Progress = Callable[[int, int, str], None]  # (trials done, trials, what)


@dataclass(frozen=True)
class TuningRun:
    """A tuning search, the panel it ran on and where its result was written."""

    model: str
    h: int
    n_series: int
    tuning: Tuning
    path: Path


def tune(settings: Settings, model: str, h: int | None = None, n_windows: int = 2,
         step_size: int = 6, trials: int = 20, seed: int = 0, tracking: bool = True,
         out: Path | None = None, progress: Progress | None = None,
         on_panel: Callable[[int], None] | None = None) -> TuningRun:
    """Search ``model``'s configuration by rolling-origin backtest on the earlier windows,
    check it on the last ``h`` months, and write the result as JSON (default
    ``GPCAST_HOME/tuning/<model>.json``). ``on_panel`` is told the number of series."""
    from gpcast.data import load_panel
    from gpcast.evaluation.tuning import tune as search

    panel = load_panel(wiring.data_source(settings))
    if on_panel is not None:
        on_panel(panel.n_series)
    horizon = h or settings.h
    tracker = wiring.registry(settings) if tracking else None
    result = search(panel, model, horizon, n_windows, step_size, trials, seed, tracker,
                    progress)
    path = out or settings.home / "tuning" / f"{model}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return TuningRun(model, horizon, panel.n_series, result, path)


__all__ = ["TuningRun", "tune"]
