"""Serving benchmark (issues 4 and 12): wrk against a bare FastAPI endpoint and POST /v1/forecast.

    .venv/bin/python bench/serving/run.py [--duration 10] [--connections 64] [--repeat 3]

Three servers, each its own process with one uvicorn worker, no access log, on
127.0.0.1: the bare FastAPI reference, ``gpcast serve`` with the GP fitted on the bundled
sample, and ``gpcast serve`` with the 1,428-series M3 GP (see m3_model.py); both gpcast
servers run as users start them, with API-key auth, capture to SQLite and metrics on.
wrk uses 2 threads. Per round, alternating: the reference, then (a) one repeated body
(the answer cache), (b) a different plan per request for one series, (c) a different
plan per request for all five series, (d) one-series requests with new plans against
the M3 model, and (e) traffic as (b) while another client sends batches of
GPCAST_MAX_BATCH_REQUESTS unique requests back to back. Medians over rounds. After a
graceful stop the captured rows are counted against the 200s each server served.
Results go to results.json here and to the "Serving real traffic (issue 12)" section
of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / "bench" / ".cache" / "serving"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- serving-traffic:begin -->", "<!-- serving-traffic:end -->"
GPCAST = [sys.executable, "-c", "from gpcast.cli import main; main()"]
BODY = {"series": ["healthcare"], "h": 12, "level": [80, 95],
        "regressors": {"phone_lines": [60.0] * 12, "channels": [4.0] * 12}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{url} not ready after {timeout} s")


def artifact() -> tuple[Path, str]:
    """The GP fitted on the bundled sample (cached: fitting takes ~15 s)."""
    from gpcast.config import SAMPLE_DATA
    from gpcast.data import load_panel
    from gpcast.models import make_forecaster
    from gpcast.registry.artifact import ModelBundle, save_bundle, sha256_file

    directory = CACHE / "gp"
    if (directory / "model.pkl").exists():
        return directory, sha256_file(directory / "model.pkl")
    panel = load_panel(str(SAMPLE_DATA))
    fitted = make_forecaster("gp", 12).fit(panel)
    sha = save_bundle(ModelBundle(fitted, panel, {"version": "bench", "model": "gp"}),
                      directory)
    return directory, sha


def wrk(url: str, connections: int, duration: int, env: dict[str, str] | None = None,
        script: Path | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True,
                         text=True, check=True).stdout
    return parse_wrk(out)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    pct = dict(re.findall(r"\s+(50|75|90|99)%\s+(\S+)", out))
    return {"rps": rps, "requests": total, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else "", "p50_ms": _ms(pct["50"]),
            "p99_ms": _ms(pct["99"])}


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per-figure medians over rounds; non-2xx and requests are summed."""
    out: dict[str, float] = {}
    for name in ("rps", "p50_ms", "p99_ms"):
        out[name] = statistics.median(r[name] for r in runs)
    out["requests"] = sum(r["requests"] for r in runs)
    out["non2xx"] = sum(r["non2xx"] for r in runs)
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def served_count(url: str) -> int:
    text = httpx.get(f"{url}/metrics").text
    match = re.search(r"^gpcast_forecasts_served_total ([\d.e+]+)$", text, re.M)
    return int(float(match.group(1))) if match else 0


def m3_artifact(fit: int) -> tuple[Path, str]:
    from m3_model import build

    from gpcast.registry.artifact import sha256_file

    directory = CACHE / f"m3-fit{fit}"
    if not (directory / "model.pkl").exists():
        build(directory, fit)
    return directory, sha256_file(directory / "model.pkl")


def m3_series(directory: Path) -> list[str]:
    """The series of the M3 artifact (read from the artifact, not from a loaded server)."""
    from gpcast.registry.artifact import load_bundle

    return list(load_bundle(directory).fitted.unique_ids)


class Served:
    """One ``gpcast serve`` process with its own home (key file, capture store)."""

    def __init__(self, name: str, model: tuple[Path, str]) -> None:
        self.name = name
        self.home = Path(tempfile.mkdtemp(prefix=f"gpcast-bench-{name}-"))
        self.env = {**os.environ, "GPCAST_HOME": str(self.home)}
        self.key = subprocess.run([*GPCAST, "keys", "create", "--role", "predict"],
                                  env=self.env, check=True, capture_output=True,
                                  text=True).stdout.strip()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        t0 = time.monotonic()
        self.proc = subprocess.Popen([*GPCAST, "serve", "--model-path", str(model[0]),
                                      "--sha256", model[1], "--port", str(self.port)],
                                     env=self.env, stderr=subprocess.DEVNULL)
        wait_ready(f"{self.url}/readyz", self.proc, timeout=300)
        self.startup_s = time.monotonic() - t0

    def stop(self) -> dict[str, float]:
        from gpcast.data.capture_store import count_captured

        served = served_count(self.url)
        rss = rss_mb(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)
        captured = count_captured(f"sqlite:///{self.home / 'capture.db'}",
                                  route="/v1/forecast", status=200)
        return {"served": served, "captured": captured, "rss_mb": rss,
                "startup_to_readyz_s": round(self.startup_s, 2)}


def batch_load(server: Served, size: int, stop: threading.Event,
               out: list[float]) -> None:
    """Batches of ``size`` unique one-series plans, back to back, until ``stop``."""
    rng = random.Random(1)
    series = ["healthcare", "telecom", "banking", "technology", "insurance"]
    with httpx.Client(base_url=server.url, timeout=300,
                      headers={"Authorization": f"Bearer {server.key}"}) as client:
        while not stop.is_set():
            requests = []
            for _ in range(size):
                h = rng.randint(6, 18)
                requests.append({"series": [rng.choice(series)], "h": h, "regressors": {
                    "phone_lines": [round(rng.uniform(30, 120), 2) for _ in range(h)],
                    "channels": [rng.randint(1, 8) for _ in range(h)]}})
            t0 = time.perf_counter()
            r = client.post("/v1/forecast/batch", json={"requests": requests})
            r.raise_for_status()
            out.append(time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[64])
    parser.add_argument("--repeat", type=int, default=3,
                        help="Alternating rounds; medians are reported (other work on a "
                        "shared machine makes single runs noisy).")
    parser.add_argument("--m3-fit", type=int, default=0,
                        help="MAP-fit the first N M3 series (default: prior medians, "
                        "see m3_model.py)")
    parser.add_argument("--batch", type=int, default=100,
                        help="Requests per batch in row (e): GPCAST_MAX_BATCH_REQUESTS")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sample_model, m3_model = artifact(), m3_artifact(args.m3_fit)
    ref_port = free_port()
    ref = subprocess.Popen([sys.executable, str(HERE / "reference.py"), str(ref_port)])
    wait_ready(f"http://127.0.0.1:{ref_port}/constant", ref)
    try:
        sample, m3 = Served("sample", sample_model), Served("m3", m3_model)
    except BaseException:
        ref.send_signal(signal.SIGTERM)
        raise
    ids = ",".join(m3_series(m3_model[0]))
    body = json.dumps(BODY)
    script = HERE / "traffic.lua"
    rows: dict[str, list[dict[str, float]]] = {}
    batches: list[float] = []
    try:
        for c in args.connections:
            for _ in range(args.repeat):
                runs: dict[str, tuple[str, dict[str, str] | None, Path | None]] = {
                    "reference": (f"http://127.0.0.1:{ref_port}/constant", None, None),
                    "a": (f"{sample.url}/v1/forecast",
                          {"BENCH_BODY": body, "BENCH_KEY": sample.key}, HERE / "post.lua"),
                    "b": (sample.url, {"BENCH_MODE": "one", "BENCH_KEY": sample.key}, script),
                    "c": (sample.url, {"BENCH_MODE": "all", "BENCH_KEY": sample.key}, script),
                    "d": (m3.url, {"BENCH_MODE": "m3", "BENCH_KEY": m3.key,
                                   "BENCH_SERIES": ids}, script),
                }
                for name, (url, env, lua) in runs.items():
                    rows.setdefault(f"{name}@{c}", []).append(
                        wrk(url, c, args.duration, env, lua))
                    print(json.dumps({"row": name, "connections": c,
                                      **rows[f"{name}@{c}"][-1]}), flush=True)
                stop = threading.Event()
                loader = threading.Thread(target=batch_load,
                                          args=(sample, args.batch, stop, batches))
                loader.start()
                time.sleep(1.0)  # the first batch is under way
                rows.setdefault(f"e@{c}", []).append(
                    wrk(sample.url, c, args.duration,
                        {"BENCH_MODE": "one", "BENCH_KEY": sample.key}, script))
                stop.set()
                loader.join()
                print(json.dumps({"row": "e", "connections": c, **rows[f"e@{c}"][-1]}),
                      flush=True)
    finally:
        ref.send_signal(signal.SIGTERM)
        ref.wait(60)
        servers = {"sample": sample.stop(), "m3": m3.stop()}
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "duration_s": args.duration, "repeat": args.repeat, "m3_fit": args.m3_fit,
              "batch": args.batch, "load_average": os.getloadavg(), "servers": servers,
              "batch_seconds": batches,
              "rows": {k: {"median": median_run(v), "rounds": v} for k, v in rows.items()}}
    (HERE / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.connections)
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))


LABELS = {
    "reference": "bare FastAPI constant (reference)",
    "a": "(a) one repeated body (answer cache)",
    "b": "(b) new plan per request, one series (h 6-18)",
    "c": "(c) new plan per request, all five series",
    "d": "(d) new plan per request, one of 1,428 M3 series (h 1-36)",
    "e": "(e) as (b) while batches of {batch} run back to back",
}


def write_markdown(r: dict, connections: list[int]) -> None:  # type: ignore[type-arg]
    fit = ("every series MAP-fitted" if r["m3_fit"] >= 1428 else
           f"{r['m3_fit']} series MAP-fitted, the others at the prior median "
           "hyperparameters" if r["m3_fit"] else "hyperparameters at the prior medians "
           "(a MAP fit of 1,428 series takes 40-80 min on this shared machine; serving "
           "cost is the same, see bench/serving/m3_model.py)")
    lines = [BEGIN, "## Serving real traffic (issue 12)", "",
             f"`python bench/serving/run.py --duration {r['duration_s']} --repeat "
             f"{r['repeat']} --connections {' '.join(map(str, connections))}` — {r['date']},"
             f" {r['machine']}; wrk 2 threads, medians of {r['repeat']} alternating rounds, "
             "one uvicorn worker per server, all on 127.0.0.1 sharing the 2 cores with wrk "
             f"**and with six other sessions' work (load average at the end: "
             f"{', '.join(f'{x:.1f}' for x in r['load_average'])})**. Forecast servers: "
             "`gpcast serve` with API-key auth, capture to SQLite and metrics on; the GP "
             f"fitted on the bundled sample, and a 1,428-series M3 monthly GP ({fit}).", "",
             "| traffic | conns | req/s | × ref req/s | p50 ms | p99 ms | × ref p99 | non-2xx |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in connections:
        ref = r["rows"][f"reference@{c}"]["median"]
        for name in ("reference", "a", "b", "c", "d", "e"):
            row = r["rows"][f"{name}@{c}"]["median"]
            label = LABELS[name].format(batch=r["batch"])
            lines.append(f"| {label} | {c} | {row['rps']:,.0f} | {row['rps'] / ref['rps']:.2f}"
                         f" | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                         f"{row['p99_ms'] / ref['p99_ms']:.2f} | {row['non2xx']:,} |")
    for c in connections:
        b, d = r["rows"][f"b@{c}"]["median"], r["rows"][f"d@{c}"]["median"]
        lines.append("")
        lines.append(f"- {c} connections: (d)/(b) req/s = {d['rps'] / b['rps']:.2f}, p99 "
                     f"(d)/(b) = {d['p99_ms'] / b['p99_ms']:.2f} (target: within 1.5×); "
                     "per-round req/s ratios to the reference: " + "; ".join(
                         f"{n} " + ", ".join(
                             f"{x['rps'] / y['rps']:.2f}" for x, y in zip(
                                 r["rows"][f"{n}@{c}"]["rounds"],
                                 r["rows"][f"reference@{c}"]["rounds"], strict=True))
                         for n in ("b", "c", "d")))
    batch = r["batch_seconds"]
    if batch:
        lines.append(f"- (e): {len(batch)} batches of {r['batch']} answered during the "
                     f"runs, median {statistics.median(batch):.2f} s each")
    for name, s in r["servers"].items():
        same = "equal" if s["served"] == s["captured"] else "DIFFERENT"
        lines.append(f"- {name} server: served (200) = {s['served']:,}, captured = "
                     f"{s['captured']:,} ({same}) after a graceful stop; start-up to /readyz "
                     f"{s['startup_to_readyz_s']} s; RSS {s['rss_mb']:.0f} MB")
    lines.append(END)
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        anchor = "<!-- serving:end -->"
        at = text.index(anchor) + len(anchor) if anchor in text else len(text)
        text = text[:at].rstrip("\n") + "\n\n" + block + "\n" + text[at:]
    RESULTS_MD.write_text(text)


if __name__ == "__main__":
    main()
