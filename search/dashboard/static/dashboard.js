// The experiments dashboard: reads /experiments and one report with the API key the user
// types, and draws them. Every piece of data goes into the page as text (textContent), never
// as HTML. Chart.js is the vendored global `Chart` (static/vendor/, `make vendor`).
"use strict";

(() => {
  const KEY_STORAGE = "shelf.dashboard.apiKey";
  const PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0a7480", "#bf3989"];
  const DASH = "\u2013";
  const $ = (id) => document.getElementById(id);

  class Unauthorized extends Error {}

  let chart = null;
  let generation = 0; // a newer show() makes the answers of an older one stale

  // ---- DOM helpers: text only ------------------------------------------------------------

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) tr.append(cell instanceof Node ? cell : el("td", cell));
    return tr;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  // ---- formatting (null means undefined: shown as a dash) --------------------------------

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmtInt = (v) => (isNum(v) ? Math.round(v).toLocaleString("en-US") : DASH);
  const fmtPct = (v) => (isNum(v) ? `${(v * 100).toFixed(2)}%` : DASH);
  const fmtNum = (digits) => (v) => (isNum(v) ? v.toFixed(digits) : DASH);
  const fmtLift = (v) => (isNum(v) ? `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%` : DASH);

  function fmtP(p) {
    if (!isNum(p)) return DASH;
    return p < 0.001 ? "<0.001" : p.toFixed(3);
  }

  function fmtTime(iso) {
    if (!iso) return DASH;
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  }

  function withInterval(value, low, high, fmt) {
    if (!isNum(value)) return DASH;
    if (!isNum(low) || !isNum(high)) return fmt(value);
    return `${fmt(value)} [${fmt(low)}, ${fmt(high)}]`;
  }

  const metric = (variant, name) => (variant && variant.metrics && variant.metrics[name]) || {};
  // A metric's cell; the report's note (why a number is undefined) shows on hover.
  function metricCell(variant, name, fmt) {
    const m = metric(variant, name);
    const cell = el("td", withInterval(m.value, m.ci_low, m.ci_high, fmt));
    if (m.note) cell.title = m.note;
    return cell;
  }

  function liftCell(variant, name) {
    if (variant.is_control) return el("td", "control", "muted");
    const m = metric(variant, name);
    const cell = el("td", withInterval(m.lift, m.lift_ci_low, m.lift_ci_high, fmtLift));
    if (m.note) cell.title = m.note;
    return cell;
  }

  function significanceCell(variant) {
    if (variant.is_control) return el("td", DASH, "muted");
    const significant = metric(variant, "ctr").significant;
    if (significant === true) return el("td", "\u2605 yes", "significant");
    return el("td", significant === false ? "no" : DASH);
  }

  // ---- API --------------------------------------------------------------------------------

  async function api(path) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) throw new Unauthorized("Enter the API key to see the experiments.");
    let response;
    try {
      response = await fetch(path, { headers: { "X-API-Key": key }, cache: "no-store" });
    } catch (err) {
      throw new Error(`The server could not be reached (${err.message}).`);
    }
    if (response.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      throw new Unauthorized(
        "The API key was refused (401): enter the key the server runs with (SHELF_API_KEY).",
      );
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : response.statusText;
      throw new Error(`${path} answered ${response.status}: ${message}`);
    }
    return body;
  }

  // ---- views ------------------------------------------------------------------------------

  function showNotice(message, kind) {
    const notice = $("notice");
    notice.textContent = message;
    notice.className = `notice ${kind || "error"}`;
    notice.hidden = false;
  }

  function askForKey(message) {
    $("experiments").hidden = true;
    $("report").hidden = true;
    $("forget-key").hidden = true;
    $("key-form").hidden = false;
    if (message) showNotice(message, "error");
    $("api-key").focus();
  }

  const selectedId = () => new URLSearchParams(window.location.search).get("experiment");

  function select(id, event) {
    event.preventDefault();
    window.history.pushState(null, "", `?experiment=${encodeURIComponent(id)}`);
    show();
  }

  function renderExperiments(experiments, selected) {
    $("experiments").hidden = false;
    $("no-experiments").hidden = experiments.length > 0;
    $("experiments-table").hidden = experiments.length === 0;
    const rows = experiments.map((experiment) => {
      const link = el("a", experiment.id);
      link.href = `?experiment=${encodeURIComponent(experiment.id)}`;
      link.addEventListener("click", (event) => select(experiment.id, event));
      const idCell = el("td");
      idCell.append(link);
      const tr = row([
        idCell,
        el("td", experiment.status, `status status-${experiment.status}`),
        experiment.description || DASH,
        fmtTime(experiment.started_at),
      ]);
      if (experiment.id === selected) {
        tr.className = "selected";
        link.setAttribute("aria-current", "page");
      }
      return tr;
    });
    fill($("experiments-table").tBodies[0], rows);
  }

  function renderSrm(srm, warnings) {
    const box = $("srm");
    const warn = Boolean(srm && srm.warning);
    box.className = warn ? "srm srm-warning" : "srm";
    let message = srm && srm.message ? srm.message : "No sample-ratio check yet.";
    if (srm && !srm.message && isNum(srm.p_value)) message += ` (p = ${fmtP(srm.p_value)})`;
    $("srm-message").textContent = warn ? `\u26a0 Sample ratio mismatch: ${message}` : message;
    const expected = (srm && srm.expected) || {};
    const observed = (srm && srm.observed) || {};
    const shares = (srm && srm.observed_share) || {};
    const names = [...new Set([...Object.keys(expected), ...Object.keys(observed)])];
    $("srm-table").hidden = names.length === 0;
    fill(
      $("srm-table").tBodies[0],
      names.map((name) => row([name, fmtPct(expected[name]), fmtInt(observed[name]), fmtPct(shares[name])])),
    );
    const list = $("warnings");
    fill(list, (warnings || []).map((warning) => el("li", warning)));
    list.hidden = !warnings || warnings.length === 0;
  }

  function variantRow(variant) {
    return row([
      el("th", variant.variant),
      fmtInt(variant.impressions),
      fmtInt(variant.users),
      fmtInt(variant.clicks),
      metricCell(variant, "ctr", fmtPct),
      liftCell(variant, "ctr"),
      variant.is_control ? el("td", DASH, "muted") : fmtP(metric(variant, "ctr").p_value),
      significanceCell(variant),
      metricCell(variant, "conversion_rate", fmtPct),
      metricCell(variant, "revenue_per_search", fmtNum(3)),
      metricCell(variant, "mrr", fmtNum(3)),
    ]);
  }

  function localeRows(byLocale) {
    const rows = [];
    for (const group of byLocale) {
      group.variants.forEach((variant, i) => {
        const tr = row([
          el("th", i === 0 ? group.locale : ""),
          el("td", variant.variant, "name"),
          fmtInt(variant.impressions),
          fmtInt(variant.users),
          metricCell(variant, "ctr", fmtPct),
          liftCell(variant, "ctr"),
          variant.is_control ? el("td", DASH, "muted") : fmtP(metric(variant, "ctr").p_value),
          metricCell(variant, "conversion_rate", fmtPct),
          fmtNum(3)(metric(variant, "revenue_per_search").value),
        ]);
        if (i === 0) tr.className = "group-start";
        rows.push(tr);
      });
    }
    return rows;
  }

  function translucent(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  // Vertical 95% interval bars on each point of the variant lines: with a single day the band
  // between two lines has no width, so this is what shows the interval.
  const errorBars = {
    id: "shelfErrorBars",
    afterDatasetsDraw(target) {
      const { ctx, scales } = target;
      const withBars = target.data.datasets.filter((dataset) => dataset.bars);
      target.data.datasets.forEach((dataset, index) => {
        if (!dataset.bars || !target.isDatasetVisible(index)) return;
        const points = target.getDatasetMeta(index).data;
        // Side by side, so the bars of variants on the same day do not hide each other.
        const shift = (withBars.indexOf(dataset) - (withBars.length - 1) / 2) * 8;
        ctx.save();
        ctx.strokeStyle = dataset.borderColor;
        ctx.lineWidth = 1.5;
        points.forEach((point, i) => {
          const low = dataset.ci.low[i];
          const high = dataset.ci.high[i];
          if (!isNum(low) || !isNum(high) || point.skip) return;
          const [top, bottom] = [scales.y.getPixelForValue(high), scales.y.getPixelForValue(low)];
          ctx.beginPath();
          const x = point.x + shift;
          ctx.moveTo(x, top);
          ctx.lineTo(x, bottom);
          ctx.moveTo(x - 3, top);
          ctx.lineTo(x + 3, top);
          ctx.moveTo(x - 3, bottom);
          ctx.lineTo(x + 3, bottom);
          ctx.stroke();
        });
        ctx.restore();
      });
    },
  };

  const ciLabel = (item) => {
    const { dataset, dataIndex, raw } = item;
    const low = dataset.ci.low[dataIndex];
    const high = dataset.ci.high[dataIndex];
    const interval = isNum(low) && isNum(high) ? ` [${low.toFixed(2)}%, ${high.toFixed(2)}%]` : "";
    return `${dataset.label}: ${isNum(raw) ? `${raw.toFixed(2)}%` : DASH}${interval}`;
  };

  // One line per variant (CTR in %) with its 95% interval as a band between two hidden lines,
  // and as error bars when there are too few days for a band.
  function renderChart(byDay, names) {
    if (chart) {
      chart.destroy();
      chart = null;
    }
    const empty = byDay.length === 0;
    $("no-days").hidden = !empty;
    $("chart-box").hidden = empty;
    if (empty) return;
    if (typeof window.Chart === "undefined") {
      showNotice("Chart.js did not load: the server was built without `make vendor`.", "error");
      return;
    }
    const ctrOf = (day, name, key) => {
      const variant = day.variants.find((v) => v.variant === name);
      const value = metric(variant, "ctr")[key];
      return isNum(value) ? value * 100 : null;
    };
    const datasets = [];
    names.forEach((name, i) => {
      const color = PALETTE[i % PALETTE.length];
      const series = (key) => byDay.map((day) => ctrOf(day, name, key));
      const band = { pointRadius: 0, pointHitRadius: 0, borderWidth: 0, band: true };
      const ci = { low: series("ci_low"), high: series("ci_high") };
      datasets.push({ label: name, data: series("value"), borderColor: color,
        backgroundColor: color, pointRadius: 3, borderWidth: 2, fill: false,
        ci, bars: byDay.length < 3 });
      datasets.push({ ...band, label: `${name} CI low`, data: ci.low, fill: false });
      datasets.push({ ...band, label: `${name} 95% CI`, data: ci.high, fill: "-1",
        backgroundColor: translucent(color, 0.15) });
    });
    chart = new window.Chart($("ctr-chart"), {
      type: "line",
      data: { labels: byDay.map((day) => day.day), datasets },
      plugins: [errorBars],
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { offset: byDay.length < 3, title: { display: true, text: "day (UTC)" } },
          y: { beginAtZero: true, title: { display: true, text: "CTR (%)" } },
        },
        plugins: {
          legend: { labels: { filter: (item, data) => !data.datasets[item.datasetIndex].band } },
          tooltip: {
            filter: (item) => !item.dataset.band,
            callbacks: { label: ciLabel },
          },
        },
      },
    });
  }

  function renderReport(report) {
    const experiment = report.experiment || {};
    $("report").hidden = false;
    $("report-title").textContent = `Experiment ${experiment.id}`;
    const meta = [
      `status ${experiment.status}`,
      `control ${experiment.control}`,
      `traffic ${fmtPct(experiment.traffic)}`,
      `started ${fmtTime(experiment.started_at)}`,
      experiment.stopped_at ? `stopped ${fmtTime(experiment.stopped_at)}` : null,
      report.unit ? `unit: ${report.unit}` : null,
      isNum(report.alpha) ? `\u03b1 = ${report.alpha}` : null,
      `generated ${fmtTime(report.generated_at)}`,
    ];
    $("report-meta").textContent = meta.filter(Boolean).join(" \u00b7 ");
    if (experiment.description) $("report-meta").append(el("span", experiment.description, "description"));
    renderSrm(report.srm, report.warnings);
    const variants = (report.overall && report.overall.variants) || [];
    const table = $("variants-table");
    const none = el("td", "No searches in this experiment yet.", "muted empty");
    none.colSpan = table.tHead.rows[0].cells.length;
    fill(table.tBodies[0], variants.length ? variants.map(variantRow) : [row([none])]);
    const byLocale = report.by_locale || [];
    $("no-locales").hidden = byLocale.length > 0;
    $("locales-table").hidden = byLocale.length === 0;
    fill($("locales-table").tBodies[0], localeRows(byLocale));
    const names = variants.length
      ? variants.map((v) => v.variant)
      : (experiment.variants || []).map((v) => v.name);
    renderChart(report.by_day || [], names);
  }

  async function show() {
    const mine = ++generation;
    $("notice").hidden = true;
    if (!sessionStorage.getItem(KEY_STORAGE)) {
      askForKey();
      return;
    }
    $("key-form").hidden = true;
    $("forget-key").hidden = false;
    try {
      const { experiments } = await api("/experiments");
      if (mine !== generation) return;
      const id = selectedId();
      renderExperiments(experiments, id);
      if (!id) {
        $("report").hidden = true;
        return;
      }
      const report = await api(`/experiments/${encodeURIComponent(id)}/report`);
      if (mine === generation) renderReport(report);
    } catch (err) {
      if (mine !== generation) return;
      if (err instanceof Unauthorized) {
        askForKey(err.message);
      } else {
        $("report").hidden = true;
        showNotice(err.message, "error");
      }
    }
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    $("api-key").value = "";
    show();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    askForKey();
  });
  window.addEventListener("popstate", show);
  show();
})();
