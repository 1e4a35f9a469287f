// The schedules: their next fire times, pause, resume and delete, and the
// fire history of the one selected (its name in the address's #fragment),
// with links to the jobs posted. Refreshed every 2 s.
"use strict";

(() => {
  const { api, byId, el, jobUrl, timeNode } = Orchestrator;
  const REFRESH_MS = 2000;
  let refresher = null;

  function selected() {
    return decodeURIComponent(window.location.hash.slice(1));
  }

  function schedulePath(name) {
    return `/v1/schedules/${encodeURIComponent(name)}`;
  }

  async function act(name, action) {
    const note = byId("action-error");
    note.hidden = true;
    try {
      if (action === "delete") {
        if (!window.confirm(`Delete schedule ${name} and its history?`)) return;
        await api("DELETE", schedulePath(name));
      } else {
        await api("POST", `${schedulePath(name)}/${action}`);
      }
    } catch (exc) {
      note.textContent = exc.describe ? exc.describe() : String(exc.message || exc);
      note.hidden = false;
    }
    refresher.now();
  }

  function button(name, action, label, className) {
    const node = el("button", { className, text: label,
                                dataset: { action, schedule: name },
                                attrs: { type: "button" } });
    node.addEventListener("click", () => act(name, action));
    return node;
  }

  function scheduleRow(schedule) {
    const fires = schedule.next_fires.length
      ? el("ul", { className: "next-fires" },
        ...schedule.next_fires.map((at) => el("li", {}, timeNode(at))))
      : el("span", { className: "note", text: "none while paused" });
    const link = el("a", { className: "schedule-name", text: schedule.name,
                           attrs: { href: `#${encodeURIComponent(schedule.name)}` } });
    return el("tr", { className: "schedule", dataset: { schedule: schedule.name,
                                                         paused: schedule.paused } },
      el("td", {}, link),
      el("td", { className: "flow", text: schedule.flow }),
      el("td", { className: "cron", text: `${schedule.cron} (${schedule.timezone})` }),
      el("td", { className: "missed", text: schedule.missed }),
      el("td", { className: "schedule-state", text: schedule.paused ? "paused" : "active" }),
      el("td", {}, fires),
      el("td", { className: "actions" },
        schedule.paused ? button(schedule.name, "resume", "Resume", "")
          : button(schedule.name, "pause", "Pause", ""),
        " ", button(schedule.name, "delete", "Delete", "danger")));
  }

  function fireRow(fire) {
    const job = fire.job_id
      ? el("a", { className: "job-link", text: fire.job_id,
                  attrs: { href: jobUrl(fire.job_id) }, dataset: { jobId: fire.job_id } })
      : el("span", { className: "note", text: "—" });
    return el("tr", { className: "fire", dataset: { outcome: fire.outcome } },
      el("td", {}, timeNode(fire.fire_at)),
      el("td", { className: "fire-outcome", text: fire.outcome }),
      el("td", {}, job),
      el("td", { className: "fire-detail", text: fire.detail || "" }));
  }

  function renderHistory(detail) {
    byId("history-section").hidden = detail === null;
    if (detail === null) return;
    byId("history-name").textContent = detail.name;
    byId("fire-rows").replaceChildren(...detail.fires.map(fireRow));
    byId("no-fires").hidden = detail.fires.length > 0;
    byId("fires").hidden = detail.fires.length === 0;
  }

  async function tick() {
    const listing = await api("GET", "/v1/schedules");
    const schedules = listing.schedules || [];
    byId("schedule-rows").replaceChildren(...schedules.map(scheduleRow));
    byId("no-schedules").hidden = schedules.length > 0;
    byId("schedules").hidden = schedules.length === 0;
    const wanted = selected();
    const shown = schedules.find((s) => s.name === wanted) || schedules[0];
    renderHistory(shown ? await api("GET", schedulePath(shown.name)) : null);
    byId("refresh-status").textContent =
      `Updated ${Orchestrator.clockTime()} · refreshing every 2 s`;
    document.body.dataset.loaded = "true";
    return true;
  }

  refresher = Orchestrator.every(REFRESH_MS, tick);
  window.addEventListener("hashchange", () => refresher.now());
})();
