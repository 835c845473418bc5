// The live page: polls /api/summary and /api/batches (only batches it has not seen) and
// redraws the cards, the SVG charts and the tables. No library, no network beyond the job.
"use strict";
(function () {
  const TABLE_ROWS = 100;
  const POLL_RUNNING_MS = 1000;
  const POLL_STOPPED_MS = 5000;
  const POLL_LOST_MAX_MS = 10000;
  const W = 480, H = 200, LEFT = 56, RIGHT = 12, TOP = 12, BOTTOM = 26;

  const state = { batches: [], summary: null, startedAt: null, failures: 0, configShown: false };

  const $ = (id) => document.getElementById(id);

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store" });
    if (!response.ok) {
      throw new Error(path + ": HTTP " + response.status);
    }
    return response.json();
  }

  async function refresh() {
    try {
      const summary = await getJson("/api/summary");
      if (state.startedAt !== summary.started_unix_ms) {
        // A new job (or the first load): start over.
        state.batches = [];
        state.startedAt = summary.started_unix_ms;
        state.configShown = false;
      }
      const n = state.batches.length;
      const path = n ? "/api/batches?since=" + state.batches[n - 1].batch_time : "/api/batches";
      const fresh = await getJson(path);
      for (const b of fresh) {
        state.batches.push(b);
      }
      const excess = state.batches.length - summary.retained_limit;
      if (excess > 0) {
        state.batches.splice(0, excess);
      }
      state.summary = summary;
      state.failures = 0;
    } catch (e) {
      state.failures += 1;
    }
    render();
    setTimeout(refresh, nextPoll());
  }

  function nextPoll() {
    if (state.failures > 0) {
      return Math.min(POLL_RUNNING_MS * 2 ** state.failures, POLL_LOST_MAX_MS);
    }
    return state.summary && state.summary.status !== "running" ? POLL_STOPPED_MS : POLL_RUNNING_MS;
  }

  // ---- formatting ----

  function pad(n, width) {
    return String(n).padStart(width, "0");
  }

  /**
   * A batch time: wall-clock time for epoch milliseconds (with milliseconds when the batch
   * interval is not whole seconds), else seconds on the job's own clock.
   */
  function formatTime(ms) {
    if (ms >= 1e11) {
      const d = new Date(ms);
      const base = pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2);
      const subSecond = state.summary && state.summary.batch_interval_ms % 1000 !== 0;
      return subSecond || d.getMilliseconds() ? base + "." + pad(d.getMilliseconds(), 3) : base;
    }
    const s = ms / 1000;
    return (Number.isInteger(s) ? s.toString() : s.toFixed(3).replace(/0+$/, "")) + " s";
  }

  function formatNumber(x) {
    if (x === null || x === undefined || !isFinite(x)) {
      return "–";
    }
    const a = Math.abs(x);
    if (a >= 1e9) return (x / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "G";
    if (a >= 1e6) return (x / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (x / 1e3).toFixed(a >= 1e5 ? 0 : 1) + "k";
    if (Number.isInteger(x)) return x.toString();
    return x.toFixed(a >= 100 ? 0 : a >= 1 ? 1 : 2);
  }

  function formatBytes(b) {
    if (b === null || b === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) {
      b /= 1024;
      i += 1;
    }
    return (i ? b.toFixed(1) : b.toString()) + " " + units[i];
  }

  function formatDuration(ms) {
    if (ms < 1000) return Math.round(ms) + " ms";
    const s = Math.floor(ms / 1000);
    if (s < 60) return (ms / 1000).toFixed(1) + " s";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + " h " : "") + m + " min " + (s % 60) + " s";
  }

  function clock(unixMs) {
    const d = new Date(unixMs);
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2);
  }

  // ---- charts ----

  /** A round number at or above x, for the top of a y axis. */
  function niceCeil(x) {
    if (!(x > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(x));
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
      if (m * p >= x) return m * p;
    }
    return 10 * p;
  }

  /**
   * Draws `series` ({name, value(batch) -> number or null}) over the batches into the SVG of
   * figure `id`, with an optional dashed reference line ({value, label}). Each series is one
   * polyline with one vertex per batch that has a value (data-points says how many).
   */
  function drawChart(id, batches, series, reference) {
    const svg = document.querySelector("#" + id + " svg");
    const parts = [];
    const x0 = batches.length ? batches[0].batch_time : 0;
    const x1 = batches.length ? batches[batches.length - 1].batch_time : 1;
    const points = series.map((s) => {
      const out = [];
      for (const b of batches) {
        const v = s.value(b);
        if (v !== null && v !== undefined && isFinite(v)) out.push([b.batch_time, v]);
      }
      return out;
    });
    let top = 0;
    for (const p of points) for (const [, v] of p) top = Math.max(top, v);
    if (reference) top = Math.max(top, reference.value);
    top = niceCeil(top * 1.05);
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const sx = (t) => (x1 > x0 ? LEFT + ((t - x0) / (x1 - x0)) * plotW : LEFT + plotW / 2);
    const sy = (v) => TOP + plotH - (Math.max(v, 0) / top) * plotH;
    for (const f of [0, 0.5, 1]) {
      const y = sy(top * f).toFixed(1);
      parts.push(`<line class="${f ? "grid" : "axis"}" x1="${LEFT}" x2="${W - RIGHT}" y1="${y}" y2="${y}"/>`);
      parts.push(`<text x="${LEFT - 6}" y="${(+y + 4).toFixed(1)}" text-anchor="end">${formatNumber(top * f)}</text>`);
    }
    parts.push(`<line class="axis" x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${TOP + plotH}"/>`);
    if (!batches.length) {
      parts.push(`<text class="empty" x="${LEFT + plotW / 2}" y="${TOP + plotH / 2}" text-anchor="middle">no batches yet</text>`);
    } else {
      parts.push(`<text x="${LEFT}" y="${H - 8}" text-anchor="start">${formatTime(x0)}</text>`);
      if (x1 > x0) {
        parts.push(`<text x="${W - RIGHT}" y="${H - 8}" text-anchor="end">${formatTime(x1)}</text>`);
      }
    }
    if (reference) {
      const y = sy(reference.value).toFixed(1);
      parts.push(`<line class="reference" data-value="${reference.value}" x1="${LEFT}" x2="${W - RIGHT}" y1="${y}" y2="${y}"/>`);
      parts.push(`<text class="reference-label" x="${W - RIGHT - 2}" y="${(+y - 4).toFixed(1)}" text-anchor="end">${reference.label}</text>`);
    }
    series.forEach((s, i) => {
      const p = points[i];
      const coords = p.map(([t, v]) => sx(t).toFixed(1) + "," + sy(v).toFixed(1)).join(" ");
      parts.push(`<polyline class="series s${i}" data-series="${s.name}" data-points="${p.length}" points="${coords}"/>`);
      // Sparse series (checkpoints) and short runs get a dot per point, so one point shows.
      if (p.length <= 60 || p.length * 4 < batches.length) {
        for (const [t, v] of p) {
          parts.push(`<circle class="s${i}" r="2.4" cx="${sx(t).toFixed(1)}" cy="${sy(v).toFixed(1)}"/>`);
        }
      }
    });
    if (series.length > 1) {
      series.forEach((s, i) => {
        const x = LEFT + 8 + i * 110;
        parts.push(`<g class="legend"><line class="series s${i}" x1="${x}" x2="${x + 18}" y1="${TOP + 6}" y2="${TOP + 6}"/><text x="${x + 22}" y="${TOP + 10}">${s.label || s.name}</text></g>`);
      });
    }
    svg.innerHTML = parts.join("");
  }

  function drawCharts(batches, intervalMs) {
    const one = (name, value) => [{ name, value }];
    drawChart("chart-input-rate", batches, one("input_rate", (b) => b.input_rate));
    drawChart("chart-processing-time", batches, one("processing_time_ms", (b) => b.processing_time_ms), {
      value: intervalMs,
      label: "batch interval " + formatDuration(intervalMs),
    });
    drawChart("chart-scheduling-delay", batches, one("scheduling_delay_ms", (b) => b.scheduling_delay_ms));
    drawChart("chart-total-delay", batches, one("total_delay_ms", (b) => b.total_delay_ms));
    drawChart("chart-records", batches, one("records_in", (b) => b.records_in));
    drawChart("chart-state-entries", batches, one("state_size", (b) => b.state_size));
    drawChart("chart-state-bytes", batches, one("checkpoint_bytes", (b) => b.checkpoint_bytes));
    drawChart("chart-checkpoint-time", batches, one("checkpoint_ms", (b) => b.checkpoint_ms));
    drawChart("chart-late-skipped", batches, [
      { name: "records_skipped", label: "skipped", value: (b) => b.records_skipped },
      { name: "records_late", label: "late", value: (b) => b.records_late },
    ]);
  }

  // ---- page ----

  function setText(id, text) {
    $(id).textContent = text;
  }

  function render() {
    const s = state.summary;
    const connection = $("connection");
    if (state.failures > 0) {
      connection.className = "connection lost";
      connection.textContent = s
        ? "connection to the job lost (its process may have exited); showing the last state received"
        : "cannot reach the job";
    } else {
      connection.className = "connection";
      connection.textContent = s ? "updated " + clock(Date.now()) : "";
    }
    if (!s) return;
    document.title = s.title + " · Spate";
    setText("title", s.title);
    const status = $("status");
    status.dataset.status = s.status;
    status.textContent = s.status;
    const banner = $("banner");
    if (s.status === "running") {
      banner.hidden = true;
    } else {
      banner.hidden = false;
      banner.className = "banner" + (s.status === "failed" ? " failed" : "");
      const when = s.ended_unix_ms ? " at " + clock(s.ended_unix_ms) : "";
      banner.textContent =
        s.status === "failed"
          ? "The job failed" + when + ": " + (s.error || "unknown error") + ". This is its final state."
          : "The job ended" + when + ". This is its final state.";
    }
    const t = s.totals;
    setText("card-batches", formatNumber(t.batches));
    setText("card-records", formatNumber(t.records_in));
    setText("card-rate", formatNumber(s.averages.input_rate) + " /s");
    setText("card-processing", formatDuration(s.averages.processing_time_ms));
    setText("card-interval", formatDuration(s.batch_interval_ms));
    setText("card-delay", s.last_batch ? formatDuration(s.last_batch.total_delay_ms) : "–");
    setText("card-state", s.last_batch ? formatNumber(s.last_batch.state_size) : "–");
    setText("card-state-bytes", formatBytes(s.last_checkpoint_bytes));
    setText("card-skipped", formatNumber(t.records_skipped) + " / " + formatNumber(t.records_late));
    const end = s.ended_unix_ms || Date.now();
    setText("label-uptime", s.ended_unix_ms ? "Ran for" : "Running for");
    setText("card-uptime", formatDuration(Math.max(0, end - s.started_unix_ms)));
    setText("retained", "last " + formatNumber(state.batches.length) + " (of " + formatNumber(t.batches) + ")");

    drawCharts(state.batches, s.batch_interval_ms);
    renderTable();
    if (!state.configShown) {
      renderConfig(s.config);
      state.configShown = true;
    }
  }

  function cell(value) {
    return "<td>" + (value === null || value === undefined ? "" : value) + "</td>";
  }

  function renderTable() {
    const rows = [];
    const shown = state.batches.slice(-TABLE_ROWS).reverse();
    for (const b of shown) {
      rows.push(
        `<tr data-batch-time="${Number(b.batch_time)}">` +
          cell(formatTime(b.batch_time)) +
          cell(Number(b.records_in)) +
          cell(Number(b.input_rate).toFixed(1)) +
          cell(Number(b.records_skipped)) +
          cell(Number(b.records_late)) +
          cell(Number(b.scheduling_delay_ms)) +
          cell(Number(b.processing_time_ms)) +
          cell(Number(b.total_delay_ms)) +
          cell(Number(b.state_size)) +
          cell(b.checkpoint_ms === null ? null : Number(b.checkpoint_ms)) +
          cell(b.checkpoint_bytes === null || b.checkpoint_bytes === undefined ? null : Number(b.checkpoint_bytes)) +
          "</tr>"
      );
    }
    document.querySelector("#batches tbody").innerHTML = rows.join("");
    setText("table-note", shown.length ? "(newest first, " + shown.length + " shown)" : "(none yet)");
  }

  function renderConfig(config) {
    const body = document.querySelector("#config tbody");
    body.textContent = "";
    for (const setting of config) {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      const value = document.createElement("td");
      name.textContent = setting.name;
      value.textContent = setting.value;
      row.append(name, value);
      body.append(row);
    }
  }

  refresh();
})();
