// The monitoring view: the latest `gpcast monitor` report (GET /v1/monitoring) as a status,
// the verdicts, charts of accuracy per horizon step and per series, interval coverage,
// drift flags and the shadow challenger. Built with DOM calls: names come from data.
"use strict";
(function (global) {
  const $ = (id) => document.getElementById(id);
  const STEPS = [1, 3, 6, 12];  // horizon steps drawn over time (those the report has)

  function node(tag, text, cls) {
    const n = document.createElement(tag);
    if (text !== undefined) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  }

  function figure(title, svg, hint) {
    const box = node("div", undefined, "chart monitor-chart");
    box.append(node("h3", title), svg);
    if (hint) box.appendChild(node("p", hint, "hint"));
    return box;
  }

  function fmt(v, digits) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits); }

  function groupBy(rows, key) {
    const out = new Map();
    for (const r of rows) {
      if (!out.has(r[key])) out.set(r[key], []);
      out.get(r[key]).push(r);
    }
    return out;
  }

  function accuracyByStep(report) {
    const rows = report.by_month_step || [];
    const byStep = groupBy(rows, "step");
    const steps = STEPS.filter((s) => byStep.has(s));
    if (!steps.length) return null;
    const lines = steps.map((s) => {
      const part = byStep.get(s).slice().sort((a, b) => (a.target_month < b.target_month ? -1 : 1));
      return { label: `${s} month${s > 1 ? "s" : ""} ahead`, x: part.map((r) => r.target_month),
               y: part.map((r) => r.mase) };
    });
    const promised = (report.promise || []).map((p) => p.mase).filter(Number.isFinite);
    const refs = promised.length ? [{ y: promised.reduce((a, b) => a + b) / promised.length,
                                      label: "promised (backtest)" }] : [];
    return figure("Accuracy over time per horizon step (MASE over every series; lower is better)",
      global.gpcastChart.lineChart(lines, { months: true, refs, yMin: 0, label: "accuracy" }),
      "Each point: the month's forecasts made that many months ahead, scaled like the backtest.");
  }

  function accuracyBySeries(report) {
    const bySeries = groupBy((report.accuracy || []).filter((r) => r.ratio !== null), "unique_id");
    if (!bySeries.size) return null;
    const lines = [...bySeries].map(([uid, part]) => ({
      label: uid, x: part.map((r) => r.as_of), y: part.map((r) => r.ratio) }));
    const refs = [{ y: 1, label: "as promised" }];
    if (report.accuracy_limit) refs.push({ y: report.accuracy_limit, label: "alert limit",
                                           colour: "#82071e" });
    return figure("Rolling MASE as a multiple of the promise, per series",
      global.gpcastChart.lineChart(lines, { months: true, refs, yMin: 0, label: "ratio" }));
  }

  function coverage(report) {
    const byLevel = groupBy(report.calibration || [], "level");
    if (!byLevel.size) return null;
    const lines = [...byLevel].map(([level, part]) => ({
      label: `${level} % observed`, x: part.map((r) => r.step), y: part.map((r) => r.coverage) }));
    const refs = [...byLevel.keys()].map((level, i) => ({
      y: Number(level) / 100, label: `${level} % nominal`,
      colour: global.gpcastChart.LINE_COLOURS[i] }));
    return figure("Interval coverage by horizon step (months ahead)",
      global.gpcastChart.lineChart(lines, { percent: true, yMin: 0, yMax: 1, refs,
                                            label: "coverage" }),
      "Observed share of actual months inside the interval; the dashed lines are what " +
      "the intervals promise.");
  }

  function driftTable(report) {
    const rows = report.drift || [];
    if (!rows.length) return null;
    const flagged = new Set((report.verdicts || []).filter((v) => v.rule === "drift")
      .map((v) => `${v.figures.variable}|${v.figures.unique_id}`));
    const table = node("table", undefined, "drift");
    const head = node("tr");
    for (const h of ["variable", "series", "PSI", "KS p", "drift"]) head.appendChild(node("th", h));
    table.appendChild(node("thead")).appendChild(head);
    const body = table.appendChild(node("tbody"));
    for (const d of rows) {
      const flag = flagged.has(`${d.variable}|${d.unique_id}`);
      const tr = node("tr", undefined, flag ? "flagged" : "");
      for (const v of [d.variable, d.unique_id === "*" ? "all" : d.unique_id, fmt(d.psi, 2),
                       fmt(d.ks_pvalue, 4), flag ? "⚑ drift" : "ok"]) tr.appendChild(node("td", v));
      body.appendChild(tr);
    }
    const box = node("div", undefined, "monitor-chart");
    box.append(node("h3", "Drift of the target and the regressors against the training window"),
               table);
    return box;
  }

  function shadow(report) {
    const s = report.shadow;
    if (!s) return null;
    const box = node("div", undefined, "shadow");
    box.append(node("h3", "Shadow challenger"), node("p",
      `version ${s.challenger} against production ${s.production} on ${s.n_months} months ` +
      `(${s.n_points} points): MASE ${fmt(s.mase_challenger, 3)} vs ` +
      `${fmt(s.mase_production, 3)}; Diebold–Mariano ${fmt(s.dm_statistic, 2)} ` +
      `(p = ${fmt(s.p_value, 3)}): ${s.verdict}`));
    const table = box.appendChild(node("table", undefined, "shadow-table"));
    const head = table.appendChild(node("thead")).appendChild(node("tr"));
    for (const h of ["", "version", "MASE on the same months"]) head.appendChild(node("th", h));
    const body = table.appendChild(node("tbody"));
    for (const [role, version, mase] of [["production", s.production, s.mase_production],
                                         ["challenger", s.challenger, s.mase_challenger]]) {
      const tr = body.appendChild(node("tr"));
      for (const v of [role, version, fmt(mase, 3)]) tr.appendChild(node("td", v));
    }
    return box;
  }

  function render(report) {
    const status = $("monitoring-status");
    status.className = `monitor-status ${report.status}`;
    status.textContent = `${report.as_of}: ${report.status.replace("_", " ")} — production ` +
      `version ${report.version}`;
    const list = $("verdicts");
    list.textContent = "";
    for (const v of report.verdicts) {
      const li = node("li", undefined, v.severity);
      li.append(node("b", v.rule), ` (${v.severity}): ${v.message}`);
      list.appendChild(li);
    }
    if (!report.verdicts.length) list.appendChild(node("li", "none: forecasts behave as promised"));
    const charts = $("monitoring-charts");
    charts.textContent = "";
    for (const part of [accuracyByStep(report), accuracyBySeries(report), coverage(report),
                        driftTable(report), shadow(report)]) {
      if (part) charts.appendChild(part);
    }
  }

  async function load() {
    const section = $("monitoring"), note = $("monitoring-note");
    section.hidden = false;
    try {
      const resp = await fetch("/v1/monitoring", { credentials: "same-origin" });
      if (resp.status === 404) {
        note.textContent = "No monitoring report yet: `gpcast monitor` writes one once " +
          "production's forecasts meet actual months.";
        return;
      }
      if (!resp.ok) {
        const p = await resp.json().catch(() => ({}));
        note.textContent = `${p.title || "error"} (${resp.status}): ${p.detail || ""}`;
        return;
      }
      note.textContent = "";
      render(await resp.json());
    } catch (e) {
      note.textContent = e.message;
    }
  }

  global.gpcastMonitoring = { load, render };
})(window);
