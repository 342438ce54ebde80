// A small SVG fan chart: history, median and prediction bands. No dependencies.
"use strict";
(function (global) {
  const NS = "http://www.w3.org/2000/svg";
  const BAND_COLOURS = ["#cfe0fb", "#9ec2f7", "#6ea4f3"];

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
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(v);
    return ticks;
  }

  // history: {months, y}; fc: {months, median, intervals: {"80": {lower, upper}, ...}}
  function fanChart(history, fc, opts) {
    const W = (opts && opts.width) || 900, H = (opts && opts.height) || 260;
    const m = { l: 64, r: 16, t: 12, b: 28 };
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "fan-chart" });
    const hx = history.months.map(monthIndex), fx = fc.months.map(monthIndex);
    const levels = Object.keys(fc.intervals).map(Number).sort((a, b) => b - a);
    const ys = [...history.y, ...fc.median];
    for (const lv of levels) ys.push(...fc.intervals[lv].lower, ...fc.intervals[lv].upper);
    const x0 = Math.min(...hx, ...fx), x1 = Math.max(...hx, ...fx);
    const y0 = Math.min(0, ...ys), y1 = Math.max(...ys) * 1.05 || 1;
    const X = (v) => m.l + ((v - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
    const Y = (v) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
    const axis = el("g", { class: "axis", "font-size": "11", fill: "#6b7785" }, svg);
    for (const t of niceTicks(y0, y1, 5)) {
      el("line", { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t), stroke: "#eef1f4" }, axis);
      el("text", { x: m.l - 6, y: Y(t) + 4, "text-anchor": "end" }, axis).textContent =
        t.toLocaleString();
    }
    for (let v = Math.ceil(x0 / 12) * 12; v <= x1; v += 12) {
      el("text", { x: X(v), y: H - 8, "text-anchor": "middle" }, axis).textContent =
        String(Math.floor(v / 12));
    }
    levels.forEach((lv, i) => {
      const b = fc.intervals[lv];
      const up = fx.map((x, j) => `${X(x)},${Y(b.upper[j])}`);
      const lo = fx.map((x, j) => `${X(x)},${Y(b.lower[j])}`).reverse();
      el("polygon", { points: [...up, ...lo].join(" "), fill: BAND_COLOURS[i % 3],
                      class: `band band-${lv}`, "data-level": lv }, svg);
    });
    const line = (xs, vs, attrs) => el("polyline", Object.assign({ fill: "none",
      points: xs.map((x, j) => `${X(x)},${Y(vs[j])}`).join(" ") }, attrs), svg);
    line(hx, history.y, { stroke: "#1d2733", "stroke-width": 1.5, class: "history" });
    line(fx, fc.median, { stroke: "#1f6feb", "stroke-width": 2, class: "median" });
    const legend = el("g", { "font-size": "11", fill: "#1d2733" }, svg);
    const items = [["history", "#1d2733"], ["median", "#1f6feb"],
                   ...levels.map((lv, i) => [`${lv} %`, BAND_COLOURS[i % 3]])];
    items.forEach(([label, colour], i) => {
      el("rect", { x: m.l + 8 + i * 86, y: m.t, width: 12, height: 10, fill: colour }, legend);
      el("text", { x: m.l + 24 + i * 86, y: m.t + 9 }, legend).textContent = label;
    });
    return svg;
  }

  global.gpcastChart = { fanChart };
})(window);
