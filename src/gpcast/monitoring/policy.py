"""What the monitor holds forecasts to: its windows, tolerances and test thresholds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MonitorPolicy:
    """The monitor's figures (``GPCAST_MONITOR_*`` and the season length), as plain values.

    The defaults are the settings' defaults; :func:`gpcast.wiring.monitor_policy` builds
    one from ``Settings``.
    """

    season_length: int = 12
    window: int = 3  # months in the rolling scoring window
    tolerance: float = 1.0  # fraction by which rolling MASE may exceed the promise
    breach_months: int = 2  # consecutive breached months before the accuracy verdict
    calibration_months: int = 12  # months the calibration and bias tests look back
    alpha: float = 0.01  # significance of the calibration, bias and drift tests
    psi: float = 0.25  # PSI above which a distribution drifted
    plan_tolerance: float = 0.10  # relative gap between a regressor's plan and its actual

    @property
    def limit(self) -> float:
        """The accuracy rule's limit on rolling MASE over the promised MASE."""
        return 1 + self.tolerance


__all__ = ["MonitorPolicy"]
