"""`gpcast approve` spends its time promoting, not importing: the modules its path loads
(the CLI, the release flow, promotion, reconciliation, MLflow's client, the forecast
ledger that makes the staged forecast official) import no modelling or plotting library.
A heavy import here costs every approval seconds of CPU (issue 11's approve ≤ 5 s)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("statsforecast", "statsmodels", "dask", "matplotlib", "sklearn", "numba")
APPROVE_PATH = ("gpcast.flows.release", "gpcast.flows.monitor", "gpcast.release.prestart",
                "gpcast.release.promotion", "gpcast.release.reconcile",
                "gpcast.release.status", "gpcast.monitoring.ledger",
                "gpcast.registry.mlflow_store", "gpcast.deploy.local", "gpcast.wiring")


def test_the_approve_path_imports_no_modelling_library() -> None:
    code = ("import importlib, sys\n"
            "from gpcast.cli import _register\n"
            "_register()\n"
            f"for name in {APPROVE_PATH!r}:\n"
            "    importlib.import_module(name)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_check_sees_a_heavy_import() -> None:
    """The same check run on the pipeline's runner, which does need statsforecast."""
    code = ("import sys, gpcast.release.runner\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert "statsforecast" in out.stdout
