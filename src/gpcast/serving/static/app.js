// The forecast page: sign in with a key, choose domains, horizon and regressor plan,
// see the fan chart, the GP's additive parts and the table, download CSV; and the latest
// monitoring report (monitoring.js). Every forecast error is shown in #error.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let catalog = null, lastForecast = null;

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function problemText(resp) {
    try {
      const p = await resp.json();
      const fields = (p.errors || []).map((e) => `${e.field}: ${e.message}`).join("\n");
      return `${p.title || "error"} (${resp.status}): ${p.detail || ""}` +
        (fields && !String(p.detail).includes(fields) ? "\n" + fields : "");
    } catch (e) {
      return `request failed with status ${resp.status}`;
    }
  }

  async function call(path, options) {
    let resp;
    try {
      resp = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    } catch (e) {
      throw new Error(`the server cannot be reached (${e.message})`);
    }
    if (!resp.ok) throw new Error(await problemText(resp));
    return resp;
  }

  async function signIn(event) {
    event.preventDefault();
    showError("");
    const key = $("api-key").value.trim();
    try {
      const resp = await call("/v1/session", { method: "POST",
        headers: key ? { Authorization: `Bearer ${key}` } : {} });
      const who = await resp.json();
      $("api-key").value = "";
      $("sign-out").hidden = false;
      $("status").textContent = `signed in with key ${who.key_id} (${who.role})`;
      await loadCatalog(who.role);
    } catch (e) {
      showError(e.message);
    }
  }

  async function signOut() {
    await fetch("/v1/session", { method: "DELETE", credentials: "same-origin" });
    $("sign-out").hidden = true;
    $("status").textContent = "not signed in";
  }

  async function loadCatalog(role) {
    catalog = await (await call("/v1/series")).json();
    $("horizon").max = catalog.max_horizon;
    const list = $("series-list");
    list.textContent = "";
    // Built with DOM calls, not innerHTML: series and regressor names come from data.
    catalog.series.forEach((s, i) => {
      const label = document.createElement("label");
      const box = Object.assign(document.createElement("input"),
        { type: "checkbox", name: "series", value: s.series, checked: i < 2 });
      label.append(box, ` ${s.series}`);
      list.appendChild(label);
    });
    const regs = $("regressor-inputs");
    regs.textContent = "";
    const last = catalog.series.length ? catalog.series[0].last_regressors : {};
    for (const name of catalog.regressors) {
      const label = document.createElement("label");
      const input = Object.assign(document.createElement("input"),
        { name: `reg-${name}`, size: 24, value: last[name] !== undefined ? String(last[name]) : "" });
      input.dataset.regressor = name;
      label.append(`${name} `, input);
      regs.appendChild(label);
    }
    showModel({ version: catalog.model_version, model: catalog.model });
    window.gpcastMonitoring.load();
    if (role === "admin") {
      try { showModel(await (await call("/v1/model")).json()); } catch (e) { showError(e.message); }
    }
  }

  function showModel(info) {
    const dl = $("model-info");
    dl.textContent = "";
    const rows = [["version", info.version], ["model", info.model]];
    if (info.training_window) rows.push(["training window",
      `${info.training_window.start || "?"} … ${info.training_window.end || "?"}`]);
    if (info.approval && Object.keys(info.approval).length) rows.push(["approval",
      Object.entries(info.approval).map(([k, v]) => `${k}: ${v}`).join(", ")]);
    if (info.metrics && Object.keys(info.metrics).length) rows.push(["metrics",
      Object.entries(info.metrics).map(([k, v]) => `${k} ${typeof v === "number" ?
        v.toFixed(3) : JSON.stringify(v)}`).join(" · ")]);
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k; dd.textContent = v;
      dl.append(dt, dd);
    }
  }

  function requestBody() {
    const h = Number($("horizon").value);
    const series = [...document.querySelectorAll("input[name=series]:checked")].map((c) => c.value);
    const level = [...document.querySelectorAll("input[name=level]:checked")].map((c) => Number(c.value));
    const body = { h: Number.isFinite(h) ? h : $("horizon").value, level, components: true };
    if (series.length) body.series = series;
    const plan = document.querySelector("input[name=plan]:checked").value;
    if (plan === "carry_last") {
      body.regressor_policy = "carry_last";
    } else if (catalog && catalog.regressors.length) {
      body.regressors = {};
      for (const input of document.querySelectorAll("[data-regressor]")) {
        const values = input.value.split(",").map((v) => v.trim()).filter(Boolean).map(Number);
        body.regressors[input.dataset.regressor] =
          values.length === 1 && Number.isInteger(h) && h > 0 ? Array(h).fill(values[0]) : values;
      }
    }
    return body;
  }

  async function runForecast(event) {
    event.preventDefault();
    showError("");
    if (!catalog) { showError("sign in with an API key first"); return; }
    try {
      const resp = await call("/v1/forecast", { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(requestBody()) });
      lastForecast = await resp.json();
      render(lastForecast);
    } catch (e) {
      showError(e.message);
    }
  }

  function render(fc) {
    $("result").hidden = false;
    $("result-version").textContent = `model ${fc.model_version} · ${fc.model}` +
      (fc.regressor_policy === "carry_last" ? " · regressors carried from the last month" : "");
    const charts = $("charts");
    charts.textContent = "";
    for (const s of fc.forecasts) {
      const hist = catalog.series.find((c) => c.series === s.series);
      const keep = 48;
      const history = { months: hist.months.slice(-keep), y: hist.y.slice(-keep) };
      const box = document.createElement("div");
      box.className = "chart";
      box.dataset.series = s.series;
      const title = document.createElement("h3");
      title.textContent = s.series;
      box.appendChild(title);
      box.appendChild(window.gpcastChart.fanChart(history, s));
      box.appendChild(explanation(s, fc.notes[`components.${s.series}`], keep));
      charts.appendChild(box);
    }
    const table = $("forecast-table");
    const levels = fc.level;
    table.innerHTML = "<thead><tr><th>series</th><th>month</th><th>median</th>" +
      levels.map((l) => `<th>lo ${l}</th><th>hi ${l}</th>`).join("") + "</tr></thead>";
    const tbody = document.createElement("tbody");
    for (const row of tableRows(fc)) {
      const tr = document.createElement("tr");
      row.forEach((v, i) => {
        const td = document.createElement("td");
        td.textContent = i < 2 ? v : Math.round(v).toLocaleString();
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
  }

  // The GP's parts under the forecast chart, or why there are none.
  function explanation(s, note, keep) {
    const box = document.createElement("details");
    box.className = "explain";
    box.open = true;
    const summary = document.createElement("summary");
    summary.textContent = s.components ? "Why this forecast: the GP's additive parts " +
      "(log scale: a part of +0.10 raises the forecast by about 10 %)" : "No additive parts";
    box.appendChild(summary);
    if (!s.components) {
      const p = document.createElement("p");
      p.className = "hint components-note";
      p.textContent = note || "this series is not forecast with the GP";
      box.appendChild(p);
      return box;
    }
    const c = s.components, start = Math.max(0, c.months.length - keep - s.months.length);
    const cut = {};
    for (const [k, v] of Object.entries(c)) cut[k] = Array.isArray(v) ? v.slice(start) : v;
    box.appendChild(window.gpcastChart.componentsChart(cut));
    return box;
  }

  function tableRows(fc) {
    const rows = [];
    for (const s of fc.forecasts) {
      s.months.forEach((m, i) => rows.push([s.series, m, s.median[i],
        ...fc.level.flatMap((l) => [s.intervals[l].lower[i], s.intervals[l].upper[i]])]));
    }
    return rows;
  }

  function downloadCsv() {
    if (!lastForecast) return;
    const head = ["unique_id", "ds", "median",
      ...lastForecast.level.flatMap((l) => [`lo_${l}`, `hi_${l}`]), "model_version"];
    const lines = [head.join(",")].concat(tableRows(lastForecast).map((r) =>
      [...r, lastForecast.model_version].join(",")));
    const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `forecast-${lastForecast.model_version}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  $("key-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("forecast-form").addEventListener("submit", runForecast);
  $("download").addEventListener("click", downloadCsv);
  // An open session (cookie) or a server without auth: load straight away.
  fetch("/v1/series", { credentials: "same-origin" }).then((r) => {
    if (r.ok) { $("status").textContent = "session open"; $("sign-out").hidden = false; loadCatalog(); }
  }).catch(() => {});
})();
