"""The forecast ledger: issued forecasts, arriving actuals and each version's promise.

Three tables in any SQLAlchemy database (SQLite under the home folder by default)::

    forecast_records   one row per (role, version, issue month, series, horizon step):
                       median, 80/95/99 % bounds and the regressor plan behind it
    actual_values      one row per (series, month, revision): a revised value is a new
                       revision, never an update
    version_promises   what the backtest promised for a version, per horizon step
    production_changes when a version became production (a promotion or a rollback), so
                       the version judged is the one serving now, not the last recorded
    actual_retractions a month of actuals taken back (added by mistake): every revision
                       up to the one named is hidden; the rows themselves stay

Recording the same forecast twice, or the same actual value twice, changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from gpcast.data.database import open_database
from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.errors import MonitoringError
from gpcast.models.base import Forecast

LEVELS = (80, 95, 99)
ROLES = ("production", "challenger", "captured", "adhoc", "staged")

METADATA = sa.MetaData()
LOOKUP_IDS = 500  # record_forecast: up to this many series, look up their rows only
FORECASTS = sa.Table(
    "forecast_records", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("issue_month", sa.Date, nullable=False),  # the last month known at issue
    sa.Column("target_month", sa.Date, nullable=False, index=True),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("unique_id", sa.String(120), nullable=False),
    sa.Column("median", sa.Float, nullable=False),
    *(sa.Column(f"{side}_{lv}", sa.Float) for lv in LEVELS for side in ("lo", "hi")),
    sa.Column("plan", sa.Text, nullable=False, default="{}"),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("role", "version", "issue_month", "unique_id", "step",
                        name="uq_forecast_record"),
)
ACTUALS = sa.Table(
    "actual_values", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("unique_id", sa.String(120), nullable=False),
    sa.Column("month", sa.Date, nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("y", sa.Float, nullable=False),
    sa.Column("regressors", sa.Text, nullable=False, default="{}"),
    sa.Column("source", sa.String(400), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("unique_id", "month", "revision", name="uq_actual_revision"),
)
RETRACTIONS = sa.Table(
    "actual_retractions", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("unique_id", sa.String(120), nullable=False),
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),  # retracted up to this revision
    sa.Column("reason", sa.String(400), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
PROMISES = sa.Table(
    "version_promises", METADATA,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("promise", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
PRODUCTION_CHANGES = sa.Table(
    "production_changes", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class ActualsChange:
    """What one batch of actuals did to the store."""

    added: int
    revised: int
    unchanged: int
    revisions: tuple[tuple[str, str, float, float], ...] = ()  # series, month, old, new


@dataclass(frozen=True)
class Official:
    """A version's forecast made production's official one: its months, rows added."""

    version: str
    months: list[pd.Timestamp]
    new_rows: int


class ForecastLedger:
    """Record forecasts and actuals; read them back as frames."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = open_database(url, METADATA, "forecast ledger", MonitoringError)

    @classmethod
    def for_home(cls, home: Path, database_url: str | None) -> ForecastLedger:
        return cls(database_url or f"sqlite:///{(home / 'forecasts.db').resolve()}")

    def close(self) -> None:
        self.db.dispose()

    # forecasts -----------------------------------------------------------------------
    def record_forecast(self, fc: Forecast, issue_month: pd.Timestamp | str, version: str,
                        role: str = "production", plan: pd.DataFrame | None = None) -> int:
        """Store every (series, step) of ``fc``; return how many rows were new."""
        if role not in ROLES:
            raise MonitoringError(f"unknown forecast role '{role}'; known: {list(ROLES)}",
                                  field="role")
        issue = pd.Timestamp(issue_month).to_period("M").to_timestamp().date()
        frame = fc.to_frame()
        frame["step"] = np.tile(np.arange(1, fc.h + 1), len(fc.unique_ids))
        plans = _plans(plan, frame)
        now = datetime.now(UTC)
        rows = []
        for i, rec in enumerate(frame.itertuples(index=False)):
            row: dict[str, Any] = {
                "role": role, "version": str(version), "issue_month": issue,
                "target_month": pd.Timestamp(getattr(rec, DS)).date(), "step": int(rec.step),
                "unique_id": str(getattr(rec, ID)), "median": float(rec.median),
                "plan": plans[i], "recorded_at": now}
            for lv in LEVELS:
                for side in ("lo", "hi"):
                    value = getattr(rec, f"{side}_{lv}", None)
                    row[f"{side}_{lv}"] = None if value is None else float(value)
            rows.append(row)
        with self.db.begin() as conn:
            query = sa.select(FORECASTS.c.unique_id, FORECASTS.c.step).where(
                FORECASTS.c.role == role, FORECASTS.c.version == str(version),
                FORECASTS.c.issue_month == issue)
            if len(fc.unique_ids) <= LOOKUP_IDS:  # the unique index, not every series' rows
                query = query.where(FORECASTS.c.unique_id.in_([str(u) for u in fc.unique_ids]))
            existing = {(r.unique_id, r.step) for r in conn.execute(query)}
            new = [r for r in rows if (r["unique_id"], r["step"]) not in existing]
            if new:
                conn.execute(FORECASTS.insert(), new)
        return len(new)

    def make_official(self, version: str) -> Official | None:
        """Make ``version``'s forecast production's official one, in one transaction and
        without its model: the rows recorded when it was staged (role ``staged``) are
        copied as ``production`` (a rollback finds them there already) and the version is
        marked as serving. None when neither exists: the caller records from the model.
        """
        keys = (FORECASTS.c.issue_month, FORECASTS.c.unique_id, FORECASTS.c.step)
        with self.db.begin() as conn:
            def rows(role: str) -> list[dict[str, Any]]:
                return [dict(r._mapping) for r in conn.execute(sa.select(FORECASTS).where(
                    FORECASTS.c.role == role, FORECASTS.c.version == str(version)))]
            staged, official = rows("staged"), rows("production")
            if not staged and not official:
                return None
            have = {tuple(r[k.name] for k in keys) for r in official}
            now = datetime.now(UTC)
            new = [{**{k: v for k, v in r.items() if k != "id"}, "role": "production",
                    "recorded_at": now}
                   for r in staged if tuple(r[k.name] for k in keys) not in have]
            if new:
                conn.execute(FORECASTS.insert(), new)
            conn.execute(PRODUCTION_CHANGES.insert().values(version=str(version),
                                                            recorded_at=now))
        months = sorted({pd.Timestamp(r["target_month"]) for r in [*official, *new]})
        return Official(str(version), months, len(new))

    def forecasts(self, role: str | None = None, version: str | None = None) -> pd.DataFrame:
        query = sa.select(FORECASTS).order_by(FORECASTS.c.id)
        if role is not None:
            query = query.where(FORECASTS.c.role == role)
        if version is not None:
            query = query.where(FORECASTS.c.version == str(version))
        with self.db.connect() as conn:
            frame = pd.DataFrame([dict(r._mapping) for r in conn.execute(query)],
                                 columns=[c.name for c in FORECASTS.columns])
        for col in ("issue_month", "target_month"):
            frame[col] = pd.to_datetime(frame[col])
        return frame

    def versions(self, role: str = "production") -> list[str]:
        """Versions with forecasts in ``role``, oldest first; the last is the current one.

        A production version moves to the end when it becomes production again (a
        rollback records no new forecast rows, its forecast is already in the ledger).
        """
        with self.db.connect() as conn:
            first = list(conn.execute(
                sa.select(FORECASTS.c.version, sa.func.min(FORECASTS.c.id),
                          sa.func.min(FORECASTS.c.recorded_at))
                .where(FORECASTS.c.role == role).group_by(FORECASTS.c.version)
                .order_by(sa.func.min(FORECASTS.c.id))))
            moved = {str(version): at for version, at in conn.execute(
                sa.select(PRODUCTION_CHANGES.c.version,
                          sa.func.max(PRODUCTION_CHANGES.c.recorded_at))
                .group_by(PRODUCTION_CHANGES.c.version))} if role == "production" else {}
        keyed = [(max(at, moved.get(str(version), at)), first_id, str(version))
                 for version, first_id, at in first]
        return [version for _, _, version in sorted(keyed)]

    def mark_production(self, version: str) -> None:
        """Note that ``version`` serves production from now on (promotion or rollback)."""
        with self.db.begin() as conn:
            conn.execute(PRODUCTION_CHANGES.insert().values(version=str(version),
                                                            recorded_at=datetime.now(UTC)))

    # promises ------------------------------------------------------------------------
    def record_promise(self, version: str, promise: pd.DataFrame) -> None:
        """What the backtest promised per horizon step (columns: step, mase, coverage_*...)."""
        text = promise.reset_index(drop=True).to_json(orient="records")
        with self.db.begin() as conn:
            conn.execute(PROMISES.delete().where(PROMISES.c.version == str(version)))
            conn.execute(PROMISES.insert().values(version=str(version), promise=text,
                                                  recorded_at=datetime.now(UTC)))

    def promise(self, version: str) -> pd.DataFrame | None:
        with self.db.connect() as conn:
            text = conn.execute(sa.select(PROMISES.c.promise).where(
                PROMISES.c.version == str(version))).scalar_one_or_none()
        return None if text is None else pd.DataFrame(json.loads(text))

    # actuals -------------------------------------------------------------------------
    def add_actuals(self, panel: Panel, source: str, dry_run: bool = False) -> ActualsChange:
        """Add the panel's months; a changed value becomes a new revision. With
        ``dry_run``, say what would change and store nothing."""
        latest = self.actuals()
        known = {(u, m.date()): y for u, m, y in
                 zip(latest[ID], latest[DS], latest[Y], strict=True)}
        revision_of = dict(zip(zip(latest[ID], latest[DS].dt.date, strict=True),
                               latest["revision"], strict=True))
        for key, retracted in self._retracted_revisions().items():
            revision_of[key] = max(revision_of.get(key, -1), retracted)
        now = datetime.now(UTC)
        rows, revised = [], []
        unchanged = 0
        regs = list(panel.regressors)
        for rec in panel.frame.itertuples(index=False):
            uid, month, y = str(getattr(rec, ID)), pd.Timestamp(getattr(rec, DS)).date(), \
                float(getattr(rec, Y))
            key = (uid, month)
            if key in known and np.isclose(known[key], y, rtol=1e-12, atol=1e-9):
                unchanged += 1
                continue
            revision = revision_of.get(key, -1) + 1
            if key in known:
                revised.append((uid, f"{month:%Y-%m}", float(known[key]), y))
            rows.append({"unique_id": uid, "month": month, "revision": int(revision), "y": y,
                         "regressors": json.dumps({r: float(getattr(rec, r)) for r in regs}),
                         "source": source[:400], "recorded_at": now})
        if rows and not dry_run:
            with self.db.begin() as conn:
                conn.execute(ACTUALS.insert(), rows)
        return ActualsChange(len(rows) - len(revised), len(revised), unchanged,
                             tuple(revised))

    def retract_actuals(self, month: pd.Timestamp | str, unique_ids: Sequence[str] | None,
                        reason: str) -> list[str]:
        """Take back a month of actuals (every series, or ``unique_ids``); the series
        retracted. The values stay in the store, hidden; adding the month again later
        makes it visible again."""
        target = pd.Timestamp(month).to_period("M").to_timestamp().date()
        with self.db.begin() as conn:
            query = sa.select(ACTUALS.c.unique_id, sa.func.max(ACTUALS.c.revision)).where(
                ACTUALS.c.month == target).group_by(ACTUALS.c.unique_id)
            if unique_ids:
                query = query.where(ACTUALS.c.unique_id.in_([str(u) for u in unique_ids]))
            found = {str(u): int(r) for u, r in conn.execute(query)}
            hidden = self._retracted_revisions(conn)
            live = {u: r for u, r in found.items() if hidden.get((u, target), -1) < r}
            if live:
                now = datetime.now(UTC)
                conn.execute(RETRACTIONS.insert(), [
                    {"unique_id": u, "month": target, "revision": r, "reason": reason[:400],
                     "recorded_at": now} for u, r in live.items()])
        return sorted(live)

    def retractions(self) -> pd.DataFrame:
        with self.db.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                sa.select(RETRACTIONS).order_by(RETRACTIONS.c.id))]
        return pd.DataFrame(rows, columns=[c.name for c in RETRACTIONS.columns])

    def _retracted_revisions(self, conn: sa.Connection | None = None
                             ) -> dict[tuple[str, Any], int]:
        """(series, month) -> the revision up to which its actuals are retracted."""
        query = sa.select(RETRACTIONS.c.unique_id, RETRACTIONS.c.month,
                          sa.func.max(RETRACTIONS.c.revision)).group_by(
            RETRACTIONS.c.unique_id, RETRACTIONS.c.month)
        if conn is None:
            with self.db.connect() as own:
                return {(str(u), m): int(r) for u, m, r in own.execute(query)}
        return {(str(u), m): int(r) for u, m, r in conn.execute(query)}

    def actuals(self, with_history: bool = False) -> pd.DataFrame:
        """Latest revision per (series, month): unique_id, ds, y, revision, regressors."""
        with self.db.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                sa.select(ACTUALS).order_by(ACTUALS.c.id))]
        frame = pd.DataFrame(rows, columns=[c.name for c in ACTUALS.columns])
        hidden = self._retracted_revisions()
        if hidden and len(frame):
            up_to = [hidden.get((str(u), m), -1) for u, m in
                     zip(frame["unique_id"], frame["month"], strict=True)]
            frame = frame[frame["revision"].to_numpy() > np.asarray(up_to)]
        frame = frame.rename(columns={"month": DS})
        frame[DS] = pd.to_datetime(frame[DS])
        if not with_history and len(frame):
            frame = frame.sort_values("revision").groupby([ID, DS], as_index=False).last()
        regs = [json.loads(t) for t in frame["regressors"]]
        names = sorted({k for r in regs for k in r})
        for name in names:
            frame[name] = [r.get(name, np.nan) for r in regs]
        frame.attrs["regressors"] = names
        return frame.sort_values([ID, DS]).reset_index(drop=True)


def _plans(plan: pd.DataFrame | None, frame: pd.DataFrame) -> list[str]:
    """The regressor values supplied for each (series, month) of the forecast, as JSON."""
    if plan is None or plan.empty:
        return ["{}"] * len(frame)
    plan = plan.assign(**{DS: pd.to_datetime(plan[DS]).dt.to_period("M").dt.to_timestamp()})
    names = [c for c in plan.columns if c not in (ID, DS)]
    by_series = ID in plan.columns
    lookup: dict[tuple[str, pd.Timestamp], dict[str, float]] = {}
    for rec in plan.to_dict("records"):
        key = (str(rec[ID]) if by_series else "", pd.Timestamp(rec[DS]))
        lookup[key] = {n: float(rec[n]) for n in names if pd.notna(rec[n])}
    return [json.dumps(lookup.get((str(u) if by_series else "", pd.Timestamp(m)), {}))
            for u, m in zip(frame[ID], frame[DS], strict=True)]


def plan_frame(values: Mapping[str, Sequence[float]], months: Iterable[pd.Timestamp]
               ) -> pd.DataFrame:
    """A plan from ``name -> h values`` shared by every series (the API's form)."""
    return pd.DataFrame({DS: list(months), **{k: list(v) for k, v in values.items()}})


__all__ = ["ACTUALS", "FORECASTS", "LEVELS", "PRODUCTION_CHANGES", "PROMISES", "RETRACTIONS",
           "ROLES",
           "ActualsChange", "ForecastLedger", "Official", "plan_frame"]
