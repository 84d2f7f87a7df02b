// The analytics page: reads /analytics/* with the API key the user types (the same key and
// storage as the experiments page) and draws a daily chart and three query tables. Every piece
// of data goes into the page as text (textContent), never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "shelf.dashboard.apiKey";
  const DASH = "\u2013";
  const $ = (id) => document.getElementById(id);

  class Unauthorized extends Error {}

  let chart = null;

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmtInt = (v) => (isNum(v) ? Math.round(v).toLocaleString("en-US") : DASH);
  const fmtPct = (v) => (isNum(v) ? `${(v * 100).toFixed(1)}%` : DASH);
  const fmtPos = (v) => (isNum(v) ? v.toFixed(2) : DASH);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function showNotice(message) {
    const notice = $("notice");
    notice.textContent = message;
    notice.className = "notice error";
    notice.hidden = false;
  }

  function askForKey(message) {
    $("analytics").hidden = true;
    $("window-form").hidden = true;
    $("forget-key").hidden = true;
    $("key-form").hidden = false;
    if (message) showNotice(message);
    $("api-key").focus();
  }

  async function api(path) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) throw new Unauthorized("Enter the API key to see the analytics.");
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

  function windowQuery() {
    const params = new URLSearchParams(window.location.search);
    const out = new URLSearchParams();
    for (const name of ["locale", "from", "to"]) {
      const value = params.get(name);
      if (value) out.set(name, value);
      $(name).value = value || "";
    }
    return out;
  }

  function fillQueries(tbodyId, rows) {
    const tbody = $(tbodyId).querySelector("tbody");
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = el("td", "No query reaches the user threshold here.", "empty");
      td.colSpan = 7;
      tr.append(td);
      tbody.replaceChildren(tr);
      return;
    }
    tbody.replaceChildren(
      ...rows.map((row) => {
        const tr = document.createElement("tr");
        tr.append(
          el("th", row.query),
          el("td", fmtInt(row.searches)),
          el("td", fmtInt(row.users)),
          el("td", fmtInt(row.zero_result_searches)),
          el("td", fmtPct(row.ctr)),
          el("td", fmtPct(row.conversion)),
          el("td", fmtPos(row.mean_first_click_position)),
        );
        return tr;
      }),
    );
  }

  function drawDaily(days) {
    if (chart) {
      chart.destroy();
      chart = null;
    }
    $("no-days").hidden = days.length > 0;
    $("chart-box").hidden = days.length === 0;
    if (!days.length) return;
    chart = new window.Chart($("daily-chart"), {
      data: {
        labels: days.map((d) => d.day),
        datasets: [
          { type: "bar", label: "Searches", data: days.map((d) => d.searches), backgroundColor: "#1f6feb", yAxisID: "count" },
          { type: "bar", label: "Zero-result searches", data: days.map((d) => d.zero_result_searches), backgroundColor: "#d1242f", yAxisID: "count" },
          { type: "line", label: "CTR", data: days.map((d) => d.ctr), borderColor: "#1a7f37", backgroundColor: "#1a7f37", yAxisID: "rate" },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          count: { type: "linear", position: "left", beginAtZero: true, title: { display: true, text: "searches" } },
          rate: { type: "linear", position: "right", min: 0, max: 1, title: { display: true, text: "CTR" }, grid: { drawOnChartArea: false } },
        },
      },
    });
  }

  async function show() {
    $("notice").hidden = true;
    const query = windowQuery();
    const suffix = query.toString() ? `?${query}` : "";
    const withLimit = `?${new URLSearchParams([...query, ["limit", "50"]])}`;
    try {
      const [days, top, zero, noClicks] = await Promise.all([
        api(`/analytics/daily${suffix}`),
        api(`/analytics/top-queries${withLimit}`),
        api(`/analytics/zero-results${withLimit}`),
        api(`/analytics/no-clicks${withLimit}`),
      ]);
      $("key-form").hidden = true;
      $("window-form").hidden = false;
      $("forget-key").hidden = false;
      $("analytics").hidden = false;
      $("threshold").textContent =
        `Queries sent by at least ${top.min_users} distinct networks or clicking shoppers (SHELF_ANALYTICS_MIN_USERS); ` +
        `locale ${top.locale || "all"}, from ${top.from || "the start"} to ${top.to || "now"}.`;
      drawDaily(days.days);
      fillQueries("top-table", top.queries);
      fillQueries("zero-table", zero.queries);
      fillQueries("no-clicks-table", noClicks.queries);
    } catch (err) {
      if (err instanceof Unauthorized) askForKey(err.message);
      else {
        $("window-form").hidden = false;
        $("analytics").hidden = true; // never the numbers of another window under this one
        showNotice(err.message);
      }
    }
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("api-key").value);
    $("api-key").value = "";
    show();
  });

  $("window-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of ["locale", "from", "to"]) {
      const value = $(name).value.trim();
      if (value) params.set(name, value);
    }
    window.history.pushState(null, "", params.toString() ? `?${params}` : window.location.pathname);
    show();
  });

  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    askForKey();
  });

  window.addEventListener("popstate", show);

  if (sessionStorage.getItem(KEY_STORAGE)) show();
  else askForKey();
})();
