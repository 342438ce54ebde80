"""The MLflow pyfunc model forecasts the series asked for, and names an unknown one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gpcast.errors import DataError
from gpcast.models import make_forecaster
from gpcast.registry.artifact import ModelBundle, save_bundle
from gpcast.registry.pyfunc import BUNDLE_KEY, GpcastModel, forecast_table, input_example
from panels import make_panel


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    panel = make_panel(n_series=3, n_months=30)[0]  # short: the GP fits in a few seconds
    return ModelBundle(make_forecaster("gp", 12).fit(panel), panel, {"version": "1"})


def test_asking_for_some_series_forecasts_those_only(bundle: ModelBundle) -> None:
    example = input_example(bundle, 4)
    first = bundle.fitted.unique_ids[0]
    out = forecast_table(bundle, example[example["unique_id"] == first], [80])
    assert set(out["unique_id"]) == {first} and len(out) == 4


def test_an_unknown_series_is_an_error_naming_it(bundle: ModelBundle) -> None:
    example = input_example(bundle, 2).assign(unique_id="atlantis")
    with pytest.raises(DataError, match="unknown series \\['atlantis'\\]"):
        forecast_table(bundle, example, [80])


def test_the_loaded_mlflow_model_takes_a_subset_of_series(bundle: ModelBundle,
                                                          tmp_path: Path) -> None:
    import mlflow.pyfunc  # after gpcast.registry.pyfunc, which quiets its import warnings

    sha = save_bundle(bundle, tmp_path / "bundle")
    mlflow.pyfunc.save_model(str(tmp_path / "model"), python_model=GpcastModel(),
                             artifacts={BUNDLE_KEY: str(tmp_path / "bundle")},
                             model_config={"sha256": sha}, pip_requirements=["gpcast"])
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    example = input_example(bundle, 3)
    two = bundle.fitted.unique_ids[:2]
    out = model.predict(example[example["unique_id"].isin(two)])
    assert sorted(set(out["unique_id"])) == sorted(two) and len(out) == 6
    with pytest.raises(Exception, match="atlantis"):
        model.predict(example.assign(unique_id="atlantis"))
    assert isinstance(out, pd.DataFrame)
