// The conductors alive now: who they are, their version, and the jobs each
// one runs (RUNNING jobs grouped by owner), refreshed every 2 s.
"use strict";

(() => {
  const { api, byId, el, jobUrl, timeNode } = Orchestrator;
  const REFRESH_MS = 2000;
  // The most RUNNING jobs one listing call returns (the API's limit).
  const RUNNING_LIMIT = 1000;

  function jobLink(job) {
    return el("li", { dataset: { jobId: job.id } },
      el("a", { className: "job-link", text: job.id, attrs: { href: jobUrl(job.id) },
                dataset: { jobId: job.id } }),
      " ", el("span", { className: "flow", text: job.flow }));
  }

  function runningCell(conductor) {
    const slots = conductor.max_simultaneous_jobs;
    const text = slots === null || slots === undefined
      ? String(conductor.running_jobs)
      : `${conductor.running_jobs} of ${slots}`;
    return el("td", { className: "running-count", text });
  }

  function conductorRow(conductor, jobs) {
    const host = conductor.pid ? `${conductor.hostname || "?"} (pid ${conductor.pid})`
      : conductor.hostname || "—";
    const list = jobs.length
      ? el("ul", { className: "job-list" }, ...jobs.map(jobLink))
      : el("span", { className: "note", text: "idle" });
    return el("tr", { className: "conductor", dataset: { conductor: conductor.name } },
      el("td", { className: "conductor-name", text: conductor.name }),
      el("td", { className: "conductor-host", text: host }),
      el("td", { className: "conductor-version", text: conductor.version || "—" }),
      el("td", { className: "conductor-engine", text: conductor.engine || "—" }),
      runningCell(conductor),
      el("td", {}, timeNode(conductor.registered_at)),
      el("td", { className: "conductor-jobs" }, list));
  }

  function render(conductors, running) {
    const byOwner = new Map();
    for (const job of running.jobs || []) {
      if (!byOwner.has(job.owner)) byOwner.set(job.owner, []);
      byOwner.get(job.owner).push(job);
    }
    const live = (conductors.conductors || []).slice()
      .sort((a, b) => a.name.localeCompare(b.name));
    byId("conductor-rows").replaceChildren(
      ...live.map((c) => conductorRow(c, byOwner.get(c.name) || [])));
    byId("no-conductors").hidden = live.length > 0;
    byId("conductors").hidden = live.length === 0;

    // RUNNING jobs whose owner is gone (or not yet recorded) wait for a takeover.
    const names = new Set(live.map((c) => c.name));
    const orphans = (running.jobs || []).filter((job) => !names.has(job.owner));
    byId("orphans").replaceChildren(...orphans.map((job) => {
      const item = jobLink(job);
      item.append(el("span", { className: "note", text: ` (owner: ${job.owner || "none"})` }));
      return item;
    }));
    byId("orphans-section").hidden = orphans.length === 0;
    const more = byId("more-running");
    more.hidden = !running.next_marker;
    more.textContent = `Only the newest ${RUNNING_LIMIT} running jobs are shown.`;

    byId("refresh-status").textContent =
      `Updated ${Orchestrator.clockTime()} · refreshing every 2 s`;
    document.body.dataset.loaded = "true";
  }

  Orchestrator.every(REFRESH_MS, async () => {
    const [conductors, running] = await Promise.all([
      api("GET", "/v1/conductors"),
      api("GET", `/v1/jobs?state=RUNNING&limit=${RUNNING_LIMIT}`),
    ]);
    render(conductors, running);
    return true;
  });
})();
