"""A person uses the web page in headless Chromium (Debian's, driven by Playwright):
signs in with a key, asks for a forecast, sees the chart, the GP's additive parts and the
table, sees the server's message when the horizon is out of range, and reads the latest
monitoring report: status, verdicts, accuracy per horizon, coverage, drift, shadow."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gpcast.config import SAMPLE_DATA
from gpcast.data import load_panel
from gpcast.evaluation.selection import SelectedForecaster
from gpcast.models import make_forecaster
from gpcast.registry.artifact import ModelBundle, save_bundle
from monitoring_data import write_report

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``gpcast serve`` as a process, as users start it; yields (url, predict key).

    The model forecasts banking and healthcare with the GP, the rest seasonal-naive, as a
    per-series selection does; the home holds a monitoring report.
    """
    home = tmp_path_factory.mktemp("home")
    panel = load_panel(str(SAMPLE_DATA))
    models = [make_forecaster("gp", 12), make_forecaster("seasonal_naive", 12)]
    fitted = SelectedForecaster({"banking": "gp", "healthcare": "gp"}, models,
                                "seasonal_naive").fit(panel)
    sha = save_bundle(ModelBundle(fitted, panel, {"version": "12", "model": "selected"}),
                      home / "model")
    write_report(home)
    env = {**os.environ, "GPCAST_HOME": str(home)}
    gpcast = [sys.executable, "-c", "from gpcast.cli import main; main()"]
    key = subprocess.run([*gpcast, "keys", "create", "--role", "predict"], env=env,
                         check=True, capture_output=True, text=True).stdout.strip()
    port = _free_port()
    proc = subprocess.Popen([*gpcast, "serve", "--model-path", str(home / "model"), "--sha256",
                             sha, "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield url, key
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed "
                    "(scripts/setup installs it)")
def test_a_person_gets_a_forecast_chart_and_sees_errors(served: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, key = served
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            console_errors: list[str] = []
            page.on("pageerror", lambda exc: console_errors.append(str(exc)))
            page.goto(url)
            expect(page.locator("h1")).to_have_text("gpcast forecasts")
            # no key yet: the page says so instead of failing silently
            page.click("#run-forecast")
            expect(page.locator("#error")).to_contain_text("sign in")

            page.fill("#api-key", key)
            page.click("#use-key")
            expect(page.locator("#status")).to_contain_text("predict")
            expect(page.locator("input[name=series]")).to_have_count(5)
            # regressor plan prefilled with the last known values
            expect(page.locator("[data-regressor=phone_lines]")).not_to_have_value("")

            page.fill("#horizon", "12")
            page.check("input[name=series][value=telecom]")
            page.click("#run-forecast")
            expect(page.locator("#result")).to_be_visible()
            expect(page.locator(".chart svg.fan-chart")).to_have_count(3)
            expect(page.locator(".chart svg .band-95").first).to_be_attached()
            expect(page.locator(".chart svg polyline.median").first).to_be_attached()
            # the GP's parts under banking and healthcare; telecom says why it has none
            expect(page.locator(".components-chart")).to_have_count(2)
            expect(page.locator(".components-chart svg")).to_have_count(8)
            expect(page.locator("[data-series=banking] .part-regressors polyline")
                   .first).to_be_attached()
            expect(page.locator("[data-series=telecom] .components-note")).to_contain_text(
                "not the GP")
            expect(page.locator("#forecast-table tbody tr")).to_have_count(36)
            expect(page.locator("#result-version")).to_contain_text("12")
            assert page.locator("#error").is_hidden()
            page.screenshot(path=str(ARTIFACTS / "web_page_forecast.png"), full_page=True)

            with page.expect_download() as download:
                page.click("#download")
            csv = Path(download.value.path()).read_text()
            assert csv.splitlines()[0].startswith("unique_id,ds,median,lo_80,hi_80")
            assert len(csv.splitlines()) == 37

            page.fill("#horizon", "999")
            page.click("#run-forecast")
            expect(page.locator("#error")).to_be_visible()
            expect(page.locator("#error")).to_contain_text("h: Input should be less than")
            page.screenshot(path=str(ARTIFACTS / "web_page_bad_horizon.png"), full_page=True)

            # the monitoring view: the latest `gpcast monitor` report, drawn
            monitoring = page.locator("#monitoring")
            expect(monitoring).to_be_visible()
            expect(page.locator("#monitoring-status")).to_contain_text("action needed")
            expect(page.locator("#monitoring-status")).to_contain_text("version 1")
            expect(page.locator("#verdicts li.action").first).to_contain_text("accuracy")
            charts = page.locator("#monitoring-charts .monitor-chart svg")
            expect(charts).to_have_count(3)  # accuracy per horizon, per series, coverage
            expect(charts.nth(0).locator("polyline.line")).to_have_count(4)  # 1, 3, 6, 12
            expect(charts.nth(0)).to_contain_text("12 months ahead")
            expect(charts.nth(2)).to_contain_text("95 % nominal")
            expect(page.locator("table.drift tbody tr").first).to_be_attached()
            expect(page.locator("table.drift tr.flagged").first).to_contain_text("drift")
            expect(page.locator(".shadow")).to_contain_text("challenger")
            monitoring.screenshot(path=str(ARTIFACTS / "web_page_monitoring.png"))
            assert console_errors == []
        finally:
            browser.close()
