"""Monitoring flows: actuals in, forecasts recorded, the monitor run, the shadow report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpcast import wiring
from gpcast.config import Settings
from gpcast.errors import GpcastError

if TYPE_CHECKING:
    import pandas as pd

    from gpcast.monitoring.ledger import ActualsChange, ForecastLedger, Official
    from gpcast.monitoring.monitor import Actions, Monitoring
    from gpcast.monitoring.record import RecordedForecast
    from gpcast.monitoring.shadow import ShadowComparison
    from gpcast.registry.artifact import ModelBundle


def add_actuals(settings: Settings, uri: str, revise: bool) -> ActualsChange:
    """Validate and store actual values (the same file twice changes nothing)."""
    from gpcast.monitoring.actuals import add_actuals as store

    ledger = wiring.forecast_ledger(settings)
    try:
        return store(ledger, uri, wiring.actuals_rules(settings), revise=revise)
    finally:
        ledger.close()


def remove_actuals(settings: Settings, month: str, series: Sequence[str] | None,
                   reason: str) -> list[str]:
    """Take back a month of actuals (kept hidden in the ledger); the series retracted."""
    from gpcast.monitoring.actuals import retract_actuals

    ledger = wiring.forecast_ledger(settings)
    try:
        return list(retract_actuals(ledger, month, list(series) if series else None, reason))
    finally:
        ledger.close()


def bundle(settings: Settings, environment: str | None, version: str | None) -> ModelBundle:
    """The registered bundle of ``version`` or of the one ``environment`` serves."""
    from gpcast.flows.serve import served_artifact
    from gpcast.registry.artifact import load_bundle

    served = served_artifact(settings, environment, version)
    return load_bundle(served.path, served.sha256)


def record(settings: Settings, environment: str | None, version: str | None, role: str,
           plan: pd.DataFrame | None = None) -> RecordedForecast:
    """Record the forecast of a registered version (or of the one ``environment``
    serves) in the forecast ledger; ``plan``: future regressor values (default: the last
    known ones carried forward)."""
    return _record(settings, bundle(settings, environment, version), role, plan)


def _record(settings: Settings, model: ModelBundle, role: str,
            plan: pd.DataFrame | None = None) -> RecordedForecast:
    from gpcast.monitoring.record import record_bundle

    ledger = wiring.forecast_ledger(settings)
    try:
        return record_bundle(ledger, model, settings.h, role, plan)
    finally:
        ledger.close()


def record_staged(settings: Settings, model: ModelBundle) -> str | None:
    """After a pipeline run: the staged version's forecast into the forecast ledger (role
    ``staged``, judged by nobody), so that approving it only has to mark it official.
    None when recorded, else why not (approve then records it from the model)."""
    try:
        _record(settings, model, "staged")
    except GpcastError as exc:
        return exc.message
    return None


@dataclass(frozen=True)
class OfficialForecast:
    """Production's official forecast after a promotion or rollback, or why it was not
    recorded (production has moved already: that is a warning, not a failed promotion)."""

    version: str
    official: Official | None = None
    error: str | None = None


def record_official(settings: Settings, version: str, artifact: Path,
                    sha256: str) -> OfficialForecast:
    """Make ``version``'s forecast production's official one (once per version and issue
    month), so ``gpcast monitor`` judges it from now on: the forecast the pipeline staged,
    without loading the model; else recorded from the bundle the promotion verified
    (``artifact``, no second download)."""
    from gpcast.monitoring.ledger import Official
    from gpcast.registry.artifact import load_bundle

    try:
        ledger = wiring.forecast_ledger(settings)
        try:
            official = ledger.make_official(version)
        finally:
            ledger.close()
        if official is not None:
            return OfficialForecast(version, official)
        # a version staged before forecasts were staged, or by another path
        recorded = _record(settings, load_bundle(artifact, sha256), "production")
    except GpcastError as exc:
        return OfficialForecast(version, error=exc.message)
    import pandas as pd

    months = sorted({pd.Timestamp(m) for m in recorded.forecast.months.reshape(-1)})
    return OfficialForecast(version, Official(version, months, recorded.new_rows))


@dataclass(frozen=True)
class MonitorRun:
    """One monitor run: the verdicts, the report written, what was done about them."""

    result: Monitoring
    report: Path
    actions: Actions
    captured: int = 0  # API forecasts newly recorded from the capture store
    published: list[str] = field(default_factory=list)  # report copies at GPCAST_REPORTS_URI
    notes: list[str] = field(default_factory=list)  # what the explanations left out


def monitor(settings: Settings, retrain: bool = False, out: Path | None = None,
            explain: bool = False) -> MonitorRun:
    """Record what the API answered (the capture store, when there is one), then score
    forecasts against actuals, test calibration, drift and plans; write the report, alert
    when action is needed and (``retrain``) run the pipeline again."""
    from gpcast.monitoring.monitor import act, run_monitor
    from gpcast.reports.monitoring import write_monitor_report

    ledger = wiring.forecast_ledger(settings)
    notes: list[str] = []
    try:
        captured = _ingest_captured(settings, ledger)
        result = run_monitor(ledger, wiring.monitor_policy(settings))
        explanations = _explanations(settings, notes) if explain else None
        weights = (_weights(settings, ledger.versions("production"), notes)
                   if explain else None)
    finally:
        ledger.close()
    path = write_monitor_report(result, out or settings.reports_dir / "monitor",
                                explanations, weights)
    published: list[str] = []
    if settings.reports_uri:  # where the serving API reads it (survives a redeploy)
        from gpcast.monitoring.report_store import publish_report

        published = publish_report(path.parent, settings.reports_uri,
                                   settings.storage_options(settings.reports_uri))
    actions = act(result, _alert(settings), _retrain(settings) if retrain else None)
    return MonitorRun(result, path, actions, captured, published, notes)


def _explanations(settings: Settings, notes: list[str]) -> dict[str, Any]:
    """GP components of every series the production version forecasts with a GP."""
    from gpcast.monitoring.explain import components, find_gp

    production = bundle(settings, "production", None)
    out = {}
    for uid in production.fitted.unique_ids:
        gp = find_gp(production.fitted, uid)
        if gp is not None:
            out[uid] = components(gp, uid, settings.h)
    if not out:
        notes.append("explanations: production forecasts no series with the GP")
    return out


def _weights(settings: Settings, versions: list[str], notes: list[str]) -> Any:
    """Regressor weights of every production version in the ledger that the registry has
    (one recorded by `gpcast forecast --record` is not registered: it is left out)."""
    from gpcast.monitoring.explain import weights_by_version

    fitted = {}
    for version in versions:
        try:
            fitted[version] = bundle(settings, None, version).fitted
        except GpcastError as exc:
            notes.append(f"regressor weights: version {version} left out ({exc.message})")
    return weights_by_version(fitted)


def _ingest_captured(settings: Settings, ledger: ForecastLedger) -> int:
    """Record what the API answered (the serving capture store), when there is a store."""
    url = settings.capture_database_url
    if url is None or (url.startswith("sqlite:///")
                       and not Path(url.removeprefix("sqlite:///")).is_file()):
        return 0
    from gpcast.data.capture_store import read_captured
    from gpcast.monitoring.captured import record_captured

    return int(record_captured(ledger, read_captured(url)))


def _alert(settings: Settings) -> Callable[[str, str, dict[str, Any]], bool]:
    from gpcast.release.notify import Notification

    notifier = wiring.notifier(settings)

    def send(title: str, body: str, facts: dict[str, Any]) -> bool:
        note = Notification("monitor_action_needed", title, body,
                            version=facts.get("version"), facts=facts)
        return notifier.send(note)
    return send


def _retrain(settings: Settings) -> Callable[[], str]:
    def retrain() -> str:
        from gpcast.flows.release import run
        from gpcast.release.context import SYSTEM

        return run(settings, by=SYSTEM).result.pipeline_id
    return retrain


def shadow_report(settings: Settings) -> ShadowComparison | None:
    """Production against the challenger on the same actuals (None: no month scored for
    both yet)."""
    from gpcast.monitoring.monitor import run_monitor

    ledger = wiring.forecast_ledger(settings)
    try:
        return run_monitor(ledger, wiring.monitor_policy(settings)).shadow
    finally:
        ledger.close()


def latest_report(settings: Settings) -> dict[str, Any] | None:
    """The latest monitoring report (JSON): what ``gpcast monitor`` published to
    ``GPCAST_REPORTS_URI``, else what it wrote under the home folder; None before any."""
    from gpcast.monitoring.report_store import latest_published
    from gpcast.monitoring.report_store import latest_report as written

    uri = settings.reports_uri
    return (latest_published(uri, settings.storage_options(uri)) if uri
            else written(settings.reports_dir))


__all__ = ["MonitorRun", "OfficialForecast", "add_actuals", "bundle", "latest_report", "monitor",
           "record", "record_official", "record_staged", "remove_actuals", "shadow_report"]
