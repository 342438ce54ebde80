// Small SVG charts, no dependencies: the forecast fan chart, line charts (monitoring) and
// the GP's additive parts. Every chart shares one frame: scales, grid, ticks and legend.
"use strict";
(function (global) {
  const NS = "http://www.w3.org/2000/svg";
  const BAND_COLOURS = ["#cfe0fb", "#9ec2f7", "#6ea4f3"];
  const LINE_COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989",
                        "#0969da", "#57606a"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function monthIndex(s) { const [y, m] = s.split("-").map(Number); return y * 12 + m - 1; }

  function niceTicks(lo, hi, n) {
    const span = hi - lo || 1, step0 = span / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= step0);
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
    return ticks;
  }

  function tickLabel(t) {
    return Math.abs(t) >= 1000 ? Math.round(t).toLocaleString() : String(Number(t.toFixed(3)));
  }

  // The shared frame: an svg with y grid and labels, x labels (years for months, integers
  // otherwise) and the scales X, Y. xs numeric; ys the finite values to fit.
  function frame(xs, ys, opts) {
    const W = opts.width || 900, H = opts.height || 260;
    const m = { l: 64, r: 16, t: opts.legend === false ? 10 : 26, b: 30 };
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: opts.cls || "" });
    if (opts.label) svg.setAttribute("aria-label", opts.label);
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    const finite = ys.filter(Number.isFinite);
    let y0 = opts.yMin !== undefined ? opts.yMin : Math.min(...finite);
    let y1 = opts.yMax !== undefined ? opts.yMax : Math.max(...finite);
    if (!finite.length) { y0 = 0; y1 = 1; }
    if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
    const pad = opts.yMax !== undefined ? 0 : (y1 - y0) * 0.05;
    y1 += pad;
    if (opts.yMin === undefined) y0 -= y0 === 0 ? 0 : pad;
    const X = (v) => m.l + ((v - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
    const Y = (v) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
    const axis = el("g", { class: "axis", "font-size": "11", fill: "#6b7785" }, svg);
    for (const t of niceTicks(y0, y1, 5)) {
      el("line", { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t), stroke: "#eef1f4" }, axis);
      el("text", { x: m.l - 6, y: Y(t) + 4, "text-anchor": "end" }, axis).textContent =
        opts.percent ? `${Math.round(t * 100)} %` : tickLabel(t);
    }
    if (opts.months) {
      // years on long spans; every second or third month (YYYY-MM) on short ones
      const every = x1 - x0 > 36 ? 12 : x1 - x0 > 18 ? 3 : 2;
      for (let v = Math.ceil(x0 / every) * every; v <= x1; v += every) {
        const anchor = X(v) > W - m.r - 24 ? "end" : "middle";  // the last label stays inside
        el("text", { x: X(v), y: H - 10, "text-anchor": anchor }, axis).textContent =
          every === 12 ? String(Math.floor(v / 12)) :
            `${Math.floor(v / 12)}-${String(v % 12 + 1).padStart(2, "0")}`;
      }
    } else {
      for (const t of niceTicks(x0, x1, Math.min(12, x1 - x0 || 1))) {
        el("text", { x: X(t), y: H - 10, "text-anchor": "middle" }, axis).textContent = String(t);
      }
    }
    return { svg, X, Y, m, W, H };
  }

  function legend(f, items) {
    const g = el("g", { "font-size": "11", fill: "#1d2733", class: "legend" }, f.svg);
    let x = f.m.l + 8;
    for (const [label, colour] of items) {
      el("rect", { x, y: 6, width: 12, height: 10, fill: colour }, g);
      el("text", { x: x + 16, y: 15 }, g).textContent = label;
      x += 28 + 6.5 * label.length;
    }
  }

  // A polyline per run of finite values (a null breaks the line).
  function path(f, xs, vs, attrs) {
    const runs = [[]];
    xs.forEach((x, j) => {
      if (Number.isFinite(vs[j])) runs[runs.length - 1].push(`${f.X(x)},${f.Y(vs[j])}`);
      else if (runs[runs.length - 1].length) runs.push([]);
    });
    for (const run of runs.filter((r) => r.length)) {
      el("polyline", Object.assign({ fill: "none", points: run.join(" ") }, attrs), f.svg);
    }
  }

  // history: {months, y}; fc: {months, median, intervals: {"80": {lower, upper}, ...}}
  function fanChart(history, fc, opts) {
    const hx = history.months.map(monthIndex), fx = fc.months.map(monthIndex);
    const levels = Object.keys(fc.intervals).map(Number).sort((a, b) => b - a);
    const ys = [0, ...history.y, ...fc.median];
    for (const lv of levels) ys.push(...fc.intervals[lv].lower, ...fc.intervals[lv].upper);
    const f = frame([...hx, ...fx], ys, Object.assign({ months: true, yMin: 0,
                                                        cls: "fan-chart" }, opts || {}));
    levels.forEach((lv, i) => {
      const b = fc.intervals[lv];
      const up = fx.map((x, j) => `${f.X(x)},${f.Y(b.upper[j])}`);
      const lo = fx.map((x, j) => `${f.X(x)},${f.Y(b.lower[j])}`).reverse();
      el("polygon", { points: [...up, ...lo].join(" "), fill: BAND_COLOURS[i % 3],
                      class: `band band-${lv}`, "data-level": lv }, f.svg);
    });
    path(f, hx, history.y, { stroke: "#1d2733", "stroke-width": 1.5, class: "history" });
    path(f, fx, fc.median, { stroke: "#1f6feb", "stroke-width": 2, class: "median" });
    legend(f, [["history", "#1d2733"], ["median", "#1f6feb"],
               ...levels.map((lv, i) => [`${lv} %`, BAND_COLOURS[i % 3]])]);
    return f.svg;
  }

  // lines: [{label, x: [YYYY-MM or numbers], y: [numbers or null], dash}];
  // opts: {months, percent, yMin, yMax, refs: [{y, label, colour}], label, legend}
  function lineChart(lines, opts) {
    opts = opts || {};
    const toX = (v) => (opts.months ? monthIndex(v) : Number(v));
    const xs = lines.flatMap((l) => l.x.map(toX));
    const refs = opts.refs || [];
    const ys = [...lines.flatMap((l) => l.y), ...refs.map((r) => r.y)];
    const f = frame(xs.length ? xs : [0, 1], ys, Object.assign({ cls: "line-chart" }, opts));
    const items = [];
    lines.forEach((l, i) => {
      const colour = l.colour || LINE_COLOURS[i % LINE_COLOURS.length];
      path(f, l.x.map(toX), l.y, { stroke: colour, "stroke-width": l.width || 1.8,
        "stroke-dasharray": l.dash || "", class: "line", "data-label": l.label });
      items.push([l.label, colour]);
    });
    for (const r of refs) {
      const colour = r.colour || "#8c959f";
      el("line", { x1: f.m.l, x2: f.W - f.m.r, y1: f.Y(r.y), y2: f.Y(r.y), stroke: colour,
                   "stroke-dasharray": "5 4", class: "ref" }, f.svg);
      if (r.label) items.push([r.label, colour]);
    }
    if (opts.legend !== false) legend(f, items);
    return f.svg;
  }

  // The GP's parts (log1p) from components=true: one small chart per part, the months
  // ahead drawn in orange after the history in blue.
  function componentsChart(parts, opts) {
    const box = document.createElement("div");
    box.className = "components-chart";
    const ahead = parts.horizon.map((h) => h > 0);
    const split = (values) => ({
      past: values.map((v, j) => (ahead[j] ? null : v)),
      // repeat the last past month so the two pieces join
      next: values.map((v, j) => (ahead[j] || ahead[j + 1] ? v : null)) });
    const panels = [["forecast = level + trend + seasonality + regressors", "fitted"],
                    ["trend", "trend"], ["seasonality", "seasonality"],
                    ["regressor effect", "regressors"]];
    for (const [title, key] of panels) {
      const { past, next } = split(parts[key]);
      const lines = [{ label: "past", x: parts.months, y: past, colour: "#1f6feb" },
                     { label: "ahead", x: parts.months, y: next, colour: "#e16f24", width: 2.4 }];
      if (key === "fitted") lines.unshift({ label: "observed", x: parts.months,
                                            y: parts.observed, colour: "#1d2733", width: 1 });
      const h4 = document.createElement("h4");
      h4.textContent = title;
      const svg = lineChart(lines, Object.assign({ months: true, height: key === "fitted" ? 170 : 120,
        legend: key === "fitted", label: title }, opts || {}));
      svg.classList.add(`part-${key}`);
      box.append(h4, svg);
    }
    return box;
  }

  global.gpcastChart = { fanChart, lineChart, componentsChart, LINE_COLOURS };
})(window);
