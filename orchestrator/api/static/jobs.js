// The job list: newest first, filtered by state and flow, refreshed every 2 s.
// The filters and the page marker live in the URL query, so a view is linkable:
//   /?state=RUNNING&state=FAILED&flow=create-volume&marker=JOB_ID
"use strict";

(() => {
  const { api, byId, el, jobUrl, stateBadge, timeNode } = Orchestrator;
  const REFRESH_MS = 2000;
  // Query parameters passed to the API as they are (set by hand or by links).
  const PASSED_THROUGH = ["since", "until", "limit"];

  let nextMarker = null;
  let refresher = null;

  function query() {
    return new URLSearchParams(window.location.search);
  }

  function apiPath() {
    const current = query();
    const params = new URLSearchParams();
    for (const state of current.getAll("state")) params.append("state", state);
    const flow = current.get("flow");
    if (flow) params.set("flow", flow);
    for (const name of PASSED_THROUGH) {
      const value = current.get(name);
      if (value) params.set(name, value);
    }
    const marker = current.get("marker");
    if (marker) params.set("marker", marker);
    const text = params.toString();
    return text ? `/v1/jobs?${text}` : "/v1/jobs";
  }

  /** Change the URL query (a new history entry) and reload the list. */
  function navigate(change) {
    const params = query();
    change(params);
    const text = params.toString();
    history.pushState(null, "", text ? `/?${text}` : "/");
    showFilters();
    refresher.now();
  }

  function buildStateFilter() {
    const fieldset = byId("state-filter");
    for (const state of Orchestrator.JOB_STATES) {
      const id = `state-${state.toLowerCase()}`;
      const box = el("input", { attrs: { type: "checkbox", id, name: "state", value: state },
                                dataset: { state } });
      box.addEventListener("change", applyFilters);
      fieldset.append(el("label", { className: "state-choice", attrs: { for: id } },
                         box, " ", stateBadge(state)));
    }
  }

  /** Make the filter controls show what the URL says. */
  function showFilters() {
    const params = query();
    const states = new Set(params.getAll("state"));
    for (const box of document.querySelectorAll("#state-filter input[name=state]")) {
      box.checked = states.has(box.value);
    }
    byId("flow-filter").value = params.get("flow") || "";
    byId("first-page").hidden = !params.get("marker");
  }

  function applyFilters(event) {
    if (event) event.preventDefault();
    navigate((params) => {
      params.delete("state");
      for (const box of document.querySelectorAll("#state-filter input[name=state]:checked")) {
        params.append("state", box.value);
      }
      const flow = byId("flow-filter").value.trim();
      if (flow) params.set("flow", flow);
      else params.delete("flow");
      params.delete("marker"); // new filters start from the newest job
    });
  }

  function durationCell(job) {
    if (job.duration !== null && job.duration !== undefined) {
      return el("td", { className: "duration", text: Orchestrator.formatDuration(job.duration) });
    }
    if (job.started_at && !Orchestrator.TERMINAL_STATES.has(job.state)) {
      const seconds = Orchestrator.elapsed(job.started_at, null);
      return el("td", { className: "duration elapsed",
                        text: `${Orchestrator.formatDuration(seconds)} so far` });
    }
    return el("td", { className: "duration", text: "—" });
  }

  /** The state; a cancelled job also says so, and who asked, in place of an error look. */
  function stateCell(job) {
    if (!Orchestrator.isCancelled(job)) return el("td", {}, stateBadge(job.state));
    const who = job.cancel_requested_by
      ? el("span", { className: "cancelled-by", text: ` by ${job.cancel_requested_by}` })
      : null;
    return el("td", {}, stateBadge(job.state), " ", Orchestrator.cancelledBadge(job), who);
  }

  function jobRow(job) {
    const link = el("a", { className: "job-link", text: job.id,
                           attrs: { href: jobUrl(job.id) }, dataset: { jobId: job.id } });
    const cancelled = Orchestrator.isCancelled(job);
    const error = el("td", { className: cancelled ? "last-error cancelled" : "last-error",
                             text: Orchestrator.shorten(job.last_error, 80) });
    if (job.last_error) error.title = job.last_error;
    return el("tr", { className: cancelled ? "job cancelled" : "job",
                      dataset: { jobId: job.id, state: job.state, flow: job.flow,
                                 cancelled: cancelled ? "true" : null } },
      el("td", { className: "job-id" }, link),
      el("td", { className: "flow", text: job.flow }),
      stateCell(job),
      el("td", {}, timeNode(job.created_at)),
      durationCell(job),
      error);
  }

  function render(page) {
    const jobs = page.jobs || [];
    byId("job-rows").replaceChildren(...jobs.map(jobRow));
    byId("no-jobs").hidden = jobs.length > 0;
    nextMarker = page.next_marker || null;
    byId("next-page").hidden = !nextMarker;
    const status = byId("refresh-status");
    status.textContent = `Updated ${Orchestrator.clockTime()} · refreshing every 2 s`;
    document.body.dataset.loaded = "true";
  }

  async function loadFlowNames() {
    const answer = await api("GET", "/v1/flows");
    const names = (answer.flows || []).map((flow) => flow.name).sort();
    byId("flow-names").replaceChildren(...names.map((name) => el("option", { attrs: { value: name } })));
  }

  function start() {
    buildStateFilter();
    showFilters();
    byId("filters").addEventListener("submit", applyFilters);
    byId("flow-filter").addEventListener("change", applyFilters);
    byId("clear-filters").addEventListener("click", () => navigate((params) => {
      params.delete("state");
      params.delete("flow");
      params.delete("marker");
    }));
    byId("next-page").addEventListener("click", () => {
      if (nextMarker) navigate((params) => params.set("marker", nextMarker));
    });
    byId("first-page").addEventListener("click", () => navigate((params) => params.delete("marker")));
    window.addEventListener("popstate", () => {
      showFilters();
      refresher.now();
    });
    refresher = Orchestrator.every(REFRESH_MS, async () => {
      render(await api("GET", apiPath()));
      return true;
    });
    // The flow names only help typing; the list does not wait for them.
    loadFlowNames().catch((exc) => {
      const note = byId("flow-names-error");
      note.textContent = `Flow names unavailable: ${exc.describe ? exc.describe() : exc.message}`;
      note.hidden = false;
    });
  }

  start();
})();
