// Tierline console: live rows (server-sent events), ticking SLA countdowns and keyboard use.
// Pages work without it; this only adds. Rows arrive as HTML rendered (and escaped) by the console.
"use strict";
(function () {
  const body = document.body;
  const page = body.dataset.page;

  // --- countdowns -------------------------------------------------------------------------------
  function span(seconds) {
    const s = Math.floor(Math.abs(seconds));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + two(m) + "m";
    return m ? m + "m " + two(sec) + "s" : sec + "s";
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach((el) => {
      const left = (Date.parse(el.dataset.due) - now) / 1000;
      const label = el.dataset.label;
      if (left > 0) {
        el.textContent = label + " in " + span(left);
      } else {
        el.textContent = label + ": breached " + span(left) + " ago";
        el.classList.remove("tone-ok", "tone-warn");
        el.classList.add("tone-breach");
      }
    });
  }
  tick();
  setInterval(tick, 1000);

  // --- queue rows -------------------------------------------------------------------------------
  const table = document.getElementById("queue");
  const rowsBody = document.getElementById("rows");
  const filter = table ? table.dataset.filter : "";
  let selected = null;

  function rows() { return rowsBody ? Array.from(rowsBody.querySelectorAll("tr.row")) : []; }
  function select(tr) {
    if (selected) selected.classList.remove("selected");
    selected = tr || null;
    if (selected) { selected.classList.add("selected"); selected.scrollIntoView({ block: "nearest" }); }
  }
  function parseRows(html) {
    const doc = new DOMParser().parseFromString("<table><tbody>" + html + "</tbody></table>", "text/html");
    return Array.from(doc.querySelectorAll("tr.row"));
  }
  function emptyNote() {
    const empty = document.getElementById("empty");
    if (empty) empty.hidden = rows().length > 0;
  }
  async function fetchRow(id) {
    const r = await fetch("/console/fragments/rows/" + encodeURIComponent(id) + "?" + filter, { credentials: "same-origin" });
    if (r.status === 401) return location.reload();
    if (!r.ok && r.status !== 204) return;
    const old = rowsBody.querySelector('tr.row[data-id="' + CSS.escape(id) + '"]');
    const fresh = r.status === 204 ? [] : parseRows(await r.text());
    const wasSelected = old && old === selected;
    if (fresh.length === 0) { if (old) old.remove(); }
    else if (old) { old.replaceWith(fresh[0]); if (wasSelected) select(fresh[0]); }
    else { fresh[0].classList.add("fresh"); rowsBody.prepend(fresh[0]); }
    emptyNote();
    tick();
  }
  async function refreshRows() {
    if (!rowsBody) return;
    const r = await fetch("/console/fragments/queue?" + filter, { credentials: "same-origin" });
    if (r.status === 401) return location.reload();
    if (!r.ok) return;
    const keep = selected ? selected.dataset.id : null;
    rowsBody.replaceChildren(...parseRows(await r.text()));
    if (keep) select(rowsBody.querySelector('tr.row[data-id="' + CSS.escape(keep) + '"]'));
    emptyNote();
    tick();
  }

  // --- an incident or change page: swap the parts that move ---------------------------------------
  const PARTS = ["summary", "clocks", "timeline", "alerts", "votes", "changes", "incidents"];
  async function refreshPage() {
    const r = await fetch(location.pathname, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    PARTS.forEach((id) => {
      const mine = document.getElementById(id), theirs = doc.getElementById(id);
      if (mine && theirs) mine.replaceWith(theirs);
    });
    const actions = document.getElementById("actions"), next = doc.getElementById("actions");
    const typing = actions && actions.contains(document.activeElement);
    if (actions && !typing) { if (next) actions.replaceWith(next); else actions.remove(); }
    tick();
  }

  // --- live updates -----------------------------------------------------------------------------
  const status = document.getElementById("live-status");
  if (body.dataset.live && window.EventSource) {
    const source = new EventSource("/console/events");
    source.addEventListener("hello", () => {
      // Connected (again): catch up on whatever moved between rendering the page, or the drop, and now.
      status.textContent = "live"; status.classList.remove("down");
      if (rowsBody) refreshRows(); else if (body.dataset.incident || body.dataset.change) refreshPage();
    });
    source.addEventListener("update", (ev) => {
      const update = JSON.parse(ev.data);
      if (update.resync) { if (rowsBody) refreshRows(); else refreshPage(); return; }
      const seen = new Set();
      update.items.forEach((item) => {
        if (rowsBody && item.kind === "incident" && !seen.has(item.id)) { seen.add(item.id); fetchRow(item.id); }
        if (!seen.has("page") && (item.id === body.dataset.incident || item.id === body.dataset.change)) {
          seen.add("page"); refreshPage();
        }
      });
    });
    source.addEventListener("error", () => {
      status.textContent = "reconnecting…"; status.classList.add("down");
      if (source.readyState === EventSource.CLOSED) setTimeout(() => location.reload(), 3000);  // signed out
    });
  }

  // --- keyboard ---------------------------------------------------------------------------------
  const help = document.getElementById("keys");
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (ev.key === "Escape") { if (typing) t.blur(); if (help.open) help.close(); return; }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const list = rows();
    const at = selected ? list.indexOf(selected) : -1;
    if (ev.key === "j" && list.length) { select(list[Math.min(at + 1, list.length - 1)]); ev.preventDefault(); }
    else if (ev.key === "k" && list.length) { select(list[Math.max(at - 1, 0)]); ev.preventDefault(); }
    else if (ev.key === "Enter" && selected) { location.href = selected.dataset.href; ev.preventDefault(); }
    else if (ev.key === "a") {
      const form = selected ? selected.querySelector("form.ack") : document.getElementById("form-acknowledge");
      if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); ev.preventDefault(); }
    }
    else if (ev.key === "/") { const s = document.getElementById("search"); if (s) { s.focus(); ev.preventDefault(); } }
    else if (ev.key === "?") { help.open ? help.close() : help.showModal(); ev.preventDefault(); }
  });
  if (rowsBody) rowsBody.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr.row");
    if (tr && !ev.target.closest("a, button, form")) select(tr);
  });
})();
