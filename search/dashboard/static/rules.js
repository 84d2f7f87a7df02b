// The merchandising rules page: lists /rules, creates, edits and deletes them with the API key
// the user types (shared with the experiments page), and shows /rules/audit. Every piece of
// data goes into the page as text (textContent), never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "shelf.dashboard.apiKey";
  const ACTOR_STORAGE = "shelf.dashboard.actor";
  const DASH = "\u2013";
  const $ = (id) => document.getElementById(id);
  const TEMPLATE = {
    id: "my-rule",
    description: "",
    enabled: true,
    condition: { match: "equals", phrase: "headphones", language: null },
    actions: { pins: [{ product_id: "PRODUCT-ID", position: 1 }], hide: [], boosts: [] },
    start: null,
    end: null,
  };

  class Unauthorized extends Error {}

  let editing = null; // the id of the rule in the editor, or null for a new one

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function showNotice(message) {
    $("notice").textContent = message;
    $("notice").className = "notice error";
    $("notice").hidden = !message;
  }

  async function api(method, path, body) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) throw new Unauthorized("Enter the API key to see the rules.");
    const headers = { "X-API-Key": key };
    const actor = $("actor").value.trim();
    if (actor) headers["X-Shelf-Actor"] = actor;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, cache: "no-store", body: body === undefined ? undefined : body,
      });
    } catch (err) {
      throw new Error(`The server could not be reached (${err.message}).`);
    }
    if (response.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      throw new Unauthorized("The API key was refused (401): enter the key the server runs with (SHELF_API_KEY).");
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (!response.ok) {
      const message = answer && answer.error ? answer.error.message : response.statusText;
      throw new Error(`${response.status}: ${message}`);
    }
    return answer;
  }

  function describeCondition(rule) {
    const c = rule.condition;
    return `query ${c.match} "${c.phrase}" (${c.language || "any language"})`;
  }

  function describeActions(rule) {
    const a = rule.actions;
    const parts = a.pins.map((p) => `pin ${p.product_id} at ${p.position}`);
    parts.push(...a.hide.map((id) => `hide ${id}`));
    parts.push(...a.boosts.map((b) => `${b.factor > 1 ? "boost" : "bury"} ${b.field} ${b.value} \u00d7${b.factor}`));
    return parts.join("; ");
  }

  function describeWindow(rule) {
    if (!rule.start && !rule.end) return "always";
    return `${rule.start || DASH} \u2192 ${rule.end || DASH}`;
  }

  function specOf(rule) {
    const spec = {};
    for (const name of Object.keys(TEMPLATE)) spec[name] = rule[name] === undefined ? TEMPLATE[name] : rule[name];
    return spec;
  }

  function edit(rule) {
    editing = rule ? rule.id : null;
    $("editor-title").textContent = rule ? `Edit rule ${rule.id}` : "New rule";
    $("save").textContent = rule ? "Save" : "Create";
    $("rule-json").value = JSON.stringify(rule ? specOf(rule) : TEMPLATE, null, 2);
    $("editor-error").hidden = true;
  }

  function ruleRow(rule) {
    const tr = document.createElement("tr");
    tr.dataset.id = rule.id;
    tr.append(el("th", rule.id), el("td", describeCondition(rule)), el("td", describeActions(rule)),
      el("td", describeWindow(rule)), el("td", rule.enabled ? "yes" : "no"));
    const buttons = el("td");
    const editButton = el("button", "Edit");
    editButton.type = "button";
    editButton.addEventListener("click", () => edit(rule));
    const deleteButton = el("button", "Delete");
    deleteButton.type = "button";
    deleteButton.addEventListener("click", () => remove(rule.id));
    buttons.append(editButton, " ", deleteButton);
    tr.append(buttons);
    return tr;
  }

  function jsonCell(value) {
    const td = el("td");
    if (value === null || value === undefined) {
      td.textContent = DASH;
      return td;
    }
    const details = el("details");
    details.append(el("summary", describeActions(value)), el("pre", JSON.stringify(value, null, 2)));
    td.append(details);
    return td;
  }

  function auditRow(entry) {
    const tr = document.createElement("tr");
    const who = entry.note ? `${entry.actor} (${entry.note})` : entry.actor;  // the key, then the name typed
    tr.append(el("td", entry.at), el("td", who), el("td", entry.action), el("td", entry.rule_id),
      jsonCell(entry.before), jsonCell(entry.after));
    return tr;
  }

  async function show() {
    try {
      const [listing, audit] = await Promise.all([api("GET", "/rules"), api("GET", "/rules/audit?limit=50")]);
      $("key-form").hidden = true;
      $("forget-key").hidden = false;
      $("rules").hidden = false;
      $("no-rules").hidden = listing.rules.length > 0;
      $("rules-table").hidden = listing.rules.length === 0;
      $("rules-table").tBodies[0].replaceChildren(...listing.rules.map(ruleRow));
      $("audit-table").tBodies[0].replaceChildren(...audit.entries.map(auditRow));
      showNotice("");
    } catch (err) {
      if (err instanceof Unauthorized) {
        $("key-form").hidden = false;
        $("rules").hidden = true;
      }
      showNotice(err.message);
    }
  }

  async function save(event) {
    event.preventDefault();
    sessionStorage.setItem(ACTOR_STORAGE, $("actor").value.trim());
    let text = $("rule-json").value;
    try {
      JSON.parse(text);
    } catch (err) {
      $("editor-error").textContent = `Not valid JSON: ${err.message}`;
      $("editor-error").hidden = false;
      return;
    }
    try {
      const saved = editing
        ? await api("PUT", `/rules/${encodeURIComponent(editing)}`, text)
        : await api("POST", "/rules", text);
      edit(saved);
      await show();
    } catch (err) {
      $("editor-error").textContent = err.message;
      $("editor-error").hidden = false;
    }
  }

  async function remove(id) {
    if (!window.confirm(`Delete rule ${id}?`)) return;
    try {
      await api("DELETE", `/rules/${encodeURIComponent(id)}`);
      if (editing === id) edit(null);
      await show();
    } catch (err) {
      showNotice(err.message);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("actor").value = sessionStorage.getItem(ACTOR_STORAGE) || "";
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY_STORAGE, $("api-key").value);
      $("api-key").value = "";
      show();
    });
    $("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      $("rules").hidden = true;
      $("forget-key").hidden = true;
      $("key-form").hidden = false;
    });
    $("editor").addEventListener("submit", save);
    $("new-rule").addEventListener("click", () => edit(null));
    edit(null);
    if (sessionStorage.getItem(KEY_STORAGE)) show();
    else $("key-form").hidden = false;
  });
})();
