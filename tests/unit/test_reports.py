"""The backtest report (HTML, markdown, JSON) and the forecast chart."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread

from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.evaluation.selection import select
from gpcast.models import AutoTheta, SeasonalNaive
from gpcast.reports.backtest import write_backtest_report
from gpcast.reports.card import ModelCard
from gpcast.reports.plots import plot_forecast
from gpcast.reports.render import markdown_table
from panels import make_panel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(data: bytes) -> bool:
    if not data.startswith(PNG_MAGIC):
        return False
    image = imread(io.BytesIO(data), format="png")
    return image.shape[0] > 50 and image.shape[1] > 50 and float(image.std()) > 0


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    panel = make_panel()[0]
    bt = run_backtest(panel, [SeasonalNaive(), AutoTheta()], BacktestSpec(h=3, n_windows=2))
    return write_backtest_report(bt, select(bt), tmp_path_factory.mktemp("report"))


def test_the_html_report_has_a_chart_per_series_and_one_by_horizon(report: Path) -> None:
    html = report.read_text()
    images = re.findall(r"<img alt='([^']*)' src='data:image/png;base64,([^']+)'>", html)
    titles = [t for t, _ in images]
    assert sum(t.startswith(("s0:", "s1:", "s2:")) for t in titles) == 3
    assert "mase by horizon step" in titles
    for _, data in images:
        assert _is_png(base64.b64decode(data))


def test_the_html_report_is_self_contained(report: Path) -> None:
    html = report.read_text()
    assert "<script" not in html
    assert "http://" not in html and "https://" not in html


def test_the_report_states_the_verdict_the_reasons_and_the_ex_post_note(report: Path) -> None:
    html = report.read_text()
    assert "SeasonalNaive overall" in html
    assert "has the lowest mase" in html
    assert "ex post" in html
    assert "Metrics per candidate" in html


def test_markdown_and_json_versions_sit_next_to_the_html(report: Path) -> None:
    md = (report.parent / "backtest_report.md").read_text()
    assert md.count("](plots/series_") == 3
    for link in re.findall(r"\]\((plots/[^)]+)\)", md):
        assert _is_png((report.parent / link).read_bytes())
    doc = json.loads((report.parent / "backtest_metrics.json").read_text())
    assert {r["model"] for r in doc["per_model"]} == {"seasonal_naive", "auto_theta"}
    assert doc["backtest"]["regressors"] == "ex post"
    assert set(doc["selection"]["candidates"]) == {"seasonal_naive", "auto_theta"}


def test_series_charts_can_be_capped_for_large_panels(tmp_path: Path) -> None:
    panel = make_panel()[0]
    bt = run_backtest(panel, [SeasonalNaive()], BacktestSpec(h=2, n_windows=1))
    html = write_backtest_report(bt, select(bt), tmp_path, max_series_plots=1).read_text()
    assert html.count("<img") == 2  # metric by step + one series
    assert "Charts for 1 of 3 series" in html
    worst = max(select(bt).choices, key=lambda c: c.mase).unique_id
    assert f"{worst}: seasonal_naive at the last cutoff" in html  # where to look first


def test_plot_forecast_writes_a_png_with_every_series(tmp_path: Path) -> None:
    panel = make_panel()[0]
    fc = SeasonalNaive().fit(panel).forecast(6)
    path = plot_forecast(panel, fc, tmp_path / "charts" / "forecast.png")
    assert path.exists() and _is_png(path.read_bytes())


def test_markdown_tables_escape_pipes_and_format_numbers() -> None:
    table = markdown_table(pd.DataFrame({"name": ["a|b"], "value": [12345.678]}))
    assert table.splitlines() == ["| name | value |", "|---|---|", "| a\\|b | 12,346 |"]


def test_html_reports_escape_what_they_show_and_markdown_keeps_it() -> None:
    card = ModelCard(model_name="gpcast", version="2", sha256="f" * 64, data_uri="a&b.csv",
                     data_sha256="a" * 64, window=("2014-01", "2024-12"),
                     series={"<script>alert(1)</script>": "gp"}, hyperparameters={},
                     metrics={}, gates=[{"gate": "champion", "passed": False,
                                         "message": "1 < 2 'worse'"}])
    page = card.to_html()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<code>a&amp;b.csv</code>" in page and "1 &lt; 2 &#x27;worse&#x27;" in page
    assert page.count("<style>") == 1  # the shared stylesheet, inline
    md = card.to_markdown()
    assert "| <script>alert(1)</script> | gp |" in md
    assert "| champion | FAIL | 1 < 2 'worse' |" in md
