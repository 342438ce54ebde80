"""Benchmark: the whole `gpcast pipeline run` on the bundled data, then `gpcast approve`
and `gpcast rollback` while production is under load.

Runs the real CLI as a subprocess in a scratch home with the default settings (all four
candidates, h=12, 6 windows), one warm-up run first (MLflow store created, imports in
the page cache), then ``--runs`` timed runs, each approved to production and rolled back
while ``--connections`` clients call production non-stop (``GET /healthz``; every
response must be 2xx and name its version). Stage timings come from the release ledger
(each ``stage.started`` row), and so do the promotion's step timings (``steps_s`` of the
``promoted`` / ``rolled_back`` rows), so they are the commands' own record.

    .venv/bin/python bench/pipeline/run.py            # writes bench/pipeline/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from gpcast.deploy.local import LocalProcessTarget
from gpcast.release.ledger import Ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from loadclient import calling

CLI = [sys.executable, "-c", "from gpcast.cli import main; main()"]
STAGES = ["validate", "backtest", "select", "gates", "fit", "register", "staging",
          "acceptance", "approval"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CPU: list[float] = []  # CPU seconds of the last call (it and the children it waited for)


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of one CLI call and the time it started (epoch)."""
    started = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if out.returncode != 0:
        sys.exit(f"gpcast {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return wall, started


def under_load(args: list[str], env: dict[str, str], port: int,
               connections: int) -> tuple[float, Counter[str]]:
    """Wall seconds of ``gpcast ARGS`` while ``connections`` clients call production, and
    the outcomes (the version a response names, or the error). No clients: the command
    alone (``--connections 0``, the quiet figure)."""
    if connections == 0:
        wall, _ = timed(args, env)
        return wall, Counter()
    with calling(f"http://127.0.0.1:{port}", connections) as outcomes:
        wall, _ = timed(args, env)
    return wall, outcomes


def failed(outcomes: Counter[str]) -> int:
    return sum(n for k, n in outcomes.items() if not k.startswith("v") or k == "vNone")


def stage_seconds(ledger: Ledger, started: float) -> dict[str, float]:
    """Seconds per stage of the last pipeline, plus start-up before the first stage."""
    pid = ledger.entries(["pipeline.started"])[-1].pipeline_id
    rows = ledger.entries(pipeline_id=pid)
    marks = [(e.detail["stage"], e.at.timestamp()) for e in rows if e.event == "stage.started"]
    end = [e.at.timestamp() for e in rows if e.event == "pipeline.completed"][-1]
    out = {"startup (imports, MLflow, reconcile)": marks[0][1] - started}
    for (name, t), (_, t_next) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        out[name] = t_next - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="gpcast-bench-"))
    ports = {"staging": free_port(), "production": free_port()}
    env = {**os.environ, "GPCAST_HOME": str(home), "GPCAST_APPROVERS": '["bench"]',
           "GPCAST_STAGING_PORT": str(ports["staging"]),
           "GPCAST_PRODUCTION_PORT": str(ports["production"])}
    for key in ("GPCAST_TRACKING_URI", "GPCAST_DATABASE_URL", "GPCAST_CANDIDATES"):
        env.pop(key, None)
    ledger = Ledger.for_home(home, None)
    runs, approvals, rollbacks, moves = [], [], [], []
    try:
        warm, _ = timed(["pipeline", "run"], env)
        print(f"warm-up run (creates the MLflow store): {warm:.1f} s", flush=True)
        timed(["approve", "1", "--by", "bench", "--note", "warm-up"], env)
        for k in range(args.runs):
            wall, started = timed(["pipeline", "run"], env)
            cpu = CPU[-1]
            stages = stage_seconds(ledger, started)
            version = ledger.entries(["approval.requested"])[-1].version
            port = ports["production"]
            approve_wall, seen_a = under_load(["approve", str(version), "--by", "bench"], env,
                                              port, args.connections)
            approve_steps = ledger.entries(["promoted"])[-1].detail.get("steps_s", {})
            rollback_wall, seen_r = under_load(["rollback", "--by", "bench"], env, port,
                                               args.connections)
            rollback_steps = ledger.entries(["rolled_back"])[-1].detail.get("steps_s", {})
            runs.append({"wall_s": wall, "cpu_s": cpu, "stages_s": stages})
            approvals.append(approve_wall)
            rollbacks.append(rollback_wall)
            moves.append({"approve": {"wall_s": approve_wall, "requests": dict(seen_a),
                                      "failed": failed(seen_a), "steps_s": approve_steps},
                          "rollback": {"wall_s": rollback_wall, "requests": dict(seen_r),
                                       "failed": failed(seen_r), "steps_s": rollback_steps}})
            print(f"run {k + 1}: pipeline {wall:.1f} s ({cpu:.1f} CPU s), "
                  f"approve v{version} {approve_wall:.1f} s {dict(seen_a)} {approve_steps}, "
                  f"rollback {rollback_wall:.1f} s {dict(seen_r)} {rollback_steps}"
                  f"  ({', '.join(f'{n} {s:.1f}' for n, s in stages.items())})", flush=True)
    finally:
        target = LocalProcessTarget(home, ports)
        for environment in ports:
            target.stop(environment)
        ledger.close()
    median_run = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    result = {
        "measured": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU, {platform.platform()}, Python "
                   f"{platform.python_version()}",
        "warmup_s": warm, "pipeline_wall_s": [r["wall_s"] for r in runs],
        "pipeline_median_s": statistics.median(r["wall_s"] for r in runs),
        "pipeline_cpu_s": [r["cpu_s"] for r in runs],
        "load_average_1min_at_end": os.getloadavg()[0],
        "approve_wall_s": approvals, "approve_median_s": statistics.median(approvals),
        "rollback_wall_s": rollbacks, "rollback_median_s": statistics.median(rollbacks),
        "connections": args.connections,
        "failed_requests": sum(m[c]["failed"] for m in moves for c in ("approve", "rollback")),
        "releases_under_load": moves,
        "median_run_stages_s": median_run["stages_s"],
    }
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
