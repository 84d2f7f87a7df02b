// The create view's planner: posts the form to /experiments/plan with the API key the page
// keeps (sessionStorage) and shows users per arm and days. Text only, never HTML.
"use strict";

(() => {
  const KEY_STORAGE = "shelf.dashboard.apiKey";
  const $ = (id) => document.getElementById(id);
  const number = (id) => {
    const text = $(id).value.trim();
    return text === "" ? undefined : Number(text);
  };

  function showWhenKeyed() {
    $("plan").hidden = !sessionStorage.getItem(KEY_STORAGE);
  }

  function describe(plan) {
    const arms = Object.entries(plan.units_per_arm)
      .map(([name, units]) => `${name} ${units.toLocaleString("en")}`)
      .join(", ");
    const days = plan.days === null ? "unknown (no traffic in the log)" : plan.days_whole;
    return (
      `Users needed: ${plan.units_total.toLocaleString("en")} (${arms}); ` +
      `days: ${days}; baseline ${plan.baseline.value.toPrecision(4)} (${plan.baseline.source}).`
    );
  }

  async function submit(event) {
    event.preventDefault();
    const result = $("plan-result");
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) return;
    const mde = number("plan-mde");
    const body = {
      metric: $("plan-metric").value,
      mde: mde === undefined ? undefined : mde / 100,
      baseline: number("plan-baseline"),
      units_per_day: number("plan-units"),
      weights: $("plan-weights").value.split(",").map((w) => Number(w.trim())),
      traffic: number("plan-traffic"),
    };
    result.className = "meta";
    result.textContent = "Planning\u2026";
    try {
      const response = await fetch("/experiments/plan", {
        method: "POST",
        headers: { "X-API-Key": key, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
      const answer = await response.json().catch(() => null);
      if (!response.ok) {
        const message = answer && answer.error ? answer.error.message : response.statusText;
        result.className = "meta plan-error";
        result.textContent = `Cannot plan (${response.status}): ${message}`;
        return;
      }
      result.textContent = describe(answer);
    } catch (err) {
      result.className = "meta plan-error";
      result.textContent = `The server could not be reached (${err.message}).`;
    }
  }

  $("plan-form").addEventListener("submit", submit);
  // dashboard.js shows the key form or the experiments; follow it.
  new MutationObserver(showWhenKeyed).observe($("experiments"), { attributes: true });
  showWhenKeyed();
})();
