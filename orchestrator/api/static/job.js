// One job: its record, why it is or is not running, its attempts, its tasks
// as a timeline (execute and revert spans), failures with tracebacks, results
// and store. Refreshed every second until the job reaches a terminal state.
// A cancelled job's stopped task is shown as cancelled, never as a failure.
"use strict";

(() => {
  const { api, byId, el, formatDuration, isCancellation, jobUrl, parseTime, stateBadge,
          timeNode } = Orchestrator;
  const REFRESH_MS = 1000;
  const MIN_SPAN_PERCENT = 0.4; // a span too short to see still shows as a sliver
  const CANCELLED_BY = "web page"; // recorded on the job as who asked

  // /jobs/<id>: the id is the path's second segment.
  const jobId = decodeURIComponent(window.location.pathname.split("/").filter(Boolean)[1] || "");
  const jobPath = `/v1/jobs/${encodeURIComponent(jobId)}`;
  let current = null; // the last job record shown
  let refresher = null;
  const rendered = {}; // section -> the JSON it was last drawn from

  function isTerminal(job) {
    return Orchestrator.TERMINAL_STATES.has(job.state);
  }

  /** Redraw a section only when its data changed (keeps <details> open, scroll...). */
  function changed(section, data) {
    const text = JSON.stringify(data);
    if (rendered[section] === text) return false;
    rendered[section] = text;
    return true;
  }

  // ---- The job's record --------------------------------------------------

  function detail(label, id, value) {
    const node = value instanceof Node ? value : el("span", { text: value ?? "—" });
    if (id && !node.id) node.id = id;
    return [el("dt", { text: label }), el("dd", {}, node)];
  }

  function jobLink(id) {
    return el("a", { className: "job-link", text: id, attrs: { href: jobUrl(id) },
                     dataset: { jobId: id } });
  }

  /** The job this one retries, and the jobs posted to retry it. */
  function lineage(job) {
    const items = [];
    if (job.retry_of) {
      items.push(detail("Retry of", "job-retry-of", el("span", {}, jobLink(job.retry_of))));
    }
    const retries = job.retried_by || [];
    if (retries.length) {
      items.push(detail("Retried by", null, el(
        "ul", { className: "inline-list", attrs: { id: "job-retried-by" } },
        ...retries.map((id) => el("li", {}, jobLink(id))))));
    }
    return items;
  }

  function renderHeader(job) {
    current = job;
    document.title = `Job ${job.id} — ${job.state}`;
    document.body.dataset.jobState = job.state;
    byId("job-id").textContent = job.id;
    byId("job-id").dataset.jobId = job.id;
    const cancelled = Orchestrator.isCancelled(job);
    document.body.dataset.cancelled = cancelled ? "true" : "false";
    const badges = [stateBadge(job.state, "job-state")];
    if (cancelled) badges.push(" ", Orchestrator.cancelledBadge(job, "job-cancelled"));
    byId("job-state-holder").replaceChildren(...badges);
    const flowLink = el("a", { text: job.flow,
                               attrs: { href: `/?flow=${encodeURIComponent(job.flow)}` } });
    const duration = job.duration !== null && job.duration !== undefined
      ? formatDuration(job.duration)
      : job.started_at && !isTerminal(job)
        ? `${formatDuration(Orchestrator.elapsed(job.started_at, null))} so far`
        : "—";
    const items = [
      detail("Flow", "job-flow", flowLink),
      detail("Attempts", "job-attempts", String(job.attempts ?? "—")),
      detail("Owner", "job-owner", job.owner || "—"),
      detail("Priority", "job-priority", job.priority || "—"),
      detail("Idempotency key", "job-idempotency-key", job.idempotency_key || "—"),
      detail("Created", null, timeNode(job.created_at, "job-created")),
      detail("Started", null, timeNode(job.started_at, "job-started")),
      detail("Finished", null, timeNode(job.finished_at, "job-finished")),
      detail("Duration", "job-duration", duration),
      ...lineage(job),
    ];
    const keys = job.concurrency_keys || [];
    if (keys.length) {
      // At most N jobs sharing one of these run at once; the explain panel
      // names the job holding a key this one waits for.
      items.push(detail("Concurrency keys", "job-concurrency-keys", keys.join(", ")));
    }
    if (job.cancel_requested_at) {
      items.push(detail("Cancel requested", null,
                        timeNode(job.cancel_requested_at, "job-cancel-requested")));
    }
    if (job.cancel_requested_by) {
      items.push(detail("Cancel requested by", "job-cancel-requested-by",
                        job.cancel_requested_by));
    }
    if (job.last_error) {
      // A cancelled job's last error is only the cancellation: not shown as a failure.
      items.push(detail(cancelled ? "Stopped" : "Last error", null,
                        el("pre", { className: cancelled ? "last-error cancelled" : "last-error",
                                    text: job.last_error, attrs: { id: "job-last-error" } })));
    }
    // Conductors that lack the job's flow (or a command) leave it to others.
    const passes = job.passed_over || [];
    if (passes.length) {
      items.push(detail("Passed over", null, el(
        "ul", { attrs: { id: "job-passed-over" } },
        ...passes.map((p) => el("li", { text: `${p.conductor}: ${p.reason}`,
                                        attrs: { title: p.passed_at } })))));
    }
    byId("job-details").replaceChildren(...items.flat());

    const cancel = byId("cancel");
    cancel.hidden = isTerminal(job);
    cancel.disabled = Boolean(job.cancel_requested_at);
    cancel.textContent = job.cancel_requested_at ? "Cancel requested" : "Cancel job";
  }

  // ---- The timeline ------------------------------------------------------

  /** The time span the bars are scaled to, in ms, or null when nothing ran. */
  function timeBounds(job, tasks) {
    const starts = [job.started_at];
    const ends = [job.finished_at];
    for (const task of tasks) {
      starts.push(task.execute_started_at, task.revert_started_at);
      ends.push(task.execute_finished_at, task.revert_finished_at);
    }
    const startTimes = starts.map(parseTime).filter((t) => t !== null);
    if (startTimes.length === 0) return null;
    const start = Math.min(...startTimes);
    const endTimes = ends.map(parseTime).filter((t) => t !== null).concat(startTimes);
    if (!isTerminal(job)) endTimes.push(Date.now());
    const end = Math.max(...endTimes);
    return { start, end: Math.max(end, start + 1) };
  }

  function taskDuration(seconds, from, to, ongoing) {
    if (seconds !== null && seconds !== undefined) return seconds;
    if (from && (to || ongoing)) return Orchestrator.elapsed(from, to);
    return null;
  }

  /** One execute or revert span, or null when it never started. */
  function span(kind, from, to, seconds, failed, bounds, ongoing, cancelled = false) {
    const a = parseTime(from);
    if (a === null || bounds === null) return null;
    let b = parseTime(to);
    const open = b === null;
    if (open) b = ongoing ? bounds.end : a; // an unfinished span of a finished job
    const total = bounds.end - bounds.start;
    const left = Math.min(100, Math.max(0, ((a - bounds.start) / total) * 100));
    const width = Math.min(100 - left, Math.max(MIN_SPAN_PERCENT, ((b - a) / total) * 100));
    const classes = [`span`, `span-${kind}`];
    if (failed) classes.push("failed");
    if (cancelled) classes.push("cancelled");
    if (open) classes.push(ongoing ? "ongoing" : "unfinished");
    const node = el("div", {
      className: classes.join(" "),
      dataset: { kind, duration: seconds === null ? "" : seconds.toFixed(3) },
    });
    node.style.left = `${left}%`;
    node.style.width = `${width}%`;
    const outcome = failed ? " (failed)" : cancelled ? " (cancelled)"
      : open ? (ongoing ? " (running)" : " (unfinished)") : "";
    node.title = `${kind}${outcome}: ${Orchestrator.formatTime(from)} → `
      + `${to ? Orchestrator.formatTime(to) : "…"} (${formatDuration(seconds)})`;
    return node;
  }

  function taskStateLabel(task) {
    const badge = stateBadge(task.state);
    badge.classList.add("task-state");
    if (task.state === "RUNNING" && typeof task.progress === "number"
        && task.progress > 0 && task.progress < 1) {
      badge.textContent = `${task.state} · ${Math.round(task.progress * 100)}%`;
    }
    return badge;
  }

  function taskRow(job, task, bounds) {
    const ongoing = !isTerminal(job);
    const executeOngoing = ongoing && task.state === "RUNNING";
    const revertOngoing = ongoing && task.state === "REVERTING";
    const executeSeconds = taskDuration(task.execute_duration, task.execute_started_at,
                                        task.execute_finished_at, executeOngoing);
    const revertSeconds = taskDuration(task.revert_duration, task.revert_started_at,
                                       task.revert_finished_at, revertOngoing);
    const cancelled = isCancellation(task.failure);
    const failed = Boolean(task.failure) && !cancelled;
    const spans = [
      span("execute", task.execute_started_at, task.execute_finished_at, executeSeconds,
           failed, bounds, executeOngoing, cancelled),
      span("revert", task.revert_started_at, task.revert_finished_at, revertSeconds,
           Boolean(task.revert_failure), bounds, revertOngoing),
    ].filter(Boolean);
    const track = el("div", { className: "track" }, ...spans);
    if (spans.length === 0) {
      track.append(el("span", { className: "no-span", text: cancelled ? "cancelled" : "not run" }));
    }

    const durations = el("div", { className: "task-durations" });
    if (cancelled) {
      durations.append(el("span", { className: "cancelled-label", text: "cancelled" }));
    } else if (task.execute_started_at) {
      durations.append(el("span", { className: `duration-execute${failed ? " failed" : ""}`,
                                    text: `execute ${formatDuration(executeSeconds)}` }));
    }
    if (task.revert_started_at) {
      durations.append(el("span", {
        className: `duration-revert${task.revert_failure ? " failed" : ""}`,
        text: `revert ${formatDuration(revertSeconds)}`,
      }));
    }
    return el("div", { className: "task", dataset: { task: task.name, state: task.state,
                                                     intention: task.intention,
                                                     cancelled: cancelled ? "true" : null } },
      el("div", { className: "task-name", text: task.name, attrs: { title: task.name } }),
      el("div", {}, taskStateLabel(task)),
      track,
      durations);
  }

  function renderTimeline(job) {
    const tasks = job.tasks || [];
    const bounds = timeBounds(job, tasks);
    const rows = [];
    if (bounds !== null && tasks.length > 0) {
      const span = formatDuration((bounds.end - bounds.start) / 1000);
      rows.push(el("div", { className: "axis" },
        el("div", { text: "Task" }),
        el("div", { text: "State" }),
        el("div", { className: "axis-scale" },
          el("span", { className: "axis-start",
                       text: Orchestrator.formatTime(new Date(bounds.start).toISOString()) }),
          el("span", { className: "axis-span",
                       text: isTerminal(job) ? span : `${span} so far` })),
        el("div", { text: "Durations" })));
    }
    rows.push(...tasks.map((task) => taskRow(job, task, bounds)));
    byId("timeline").replaceChildren(...rows);
    byId("no-tasks").hidden = tasks.length > 0;
  }

  // ---- Failures, results, store --------------------------------------------

  function failureBlock(task, kind, failure, open) {
    const traceback = failure.traceback
      ? el("details", {},
        el("summary", { text: "Traceback" }),
        el("pre", { className: "traceback", text: failure.traceback }))
      : el("p", { className: "note", text: "No traceback was recorded." });
    if (open && failure.traceback) traceback.open = true;
    return el("article", { className: "failure", dataset: { task: task.name, kind } },
      el("h3", {},
        el("span", { className: "failure-task", text: task.name }),
        ` — ${kind === "execute" ? "execute" : "revert"} failed: `,
        el("code", { className: "failure-type", text: failure.type })),
      el("p", { className: "failure-message", text: failure.message }),
      traceback);
  }

  /** The task the cancellation stopped: said plainly, in neutral colours. */
  function renderCancellations(job) {
    const stopped = (job.tasks || []).filter((task) => isCancellation(task.failure));
    if (!changed("cancellations", stopped.map((t) => [t.name, t.failure.message]))) return;
    byId("cancellations").replaceChildren(...stopped.map((task) => el(
      "article", { className: "cancellation", dataset: { task: task.name } },
      el("h3", {}, el("span", { className: "failure-task", text: task.name }), " — cancelled"),
      el("p", { className: "cancellation-message", text: task.failure.message }))));
    byId("cancellation-section").hidden = stopped.length === 0;
  }

  function renderFailures(job) {
    const found = [];
    for (const task of job.tasks || []) {
      if (task.failure && !isCancellation(task.failure)) {
        found.push([task, "execute", task.failure]);
      }
      if (task.revert_failure) found.push([task, "revert", task.revert_failure]);
    }
    if (!changed("failures", found.map(([t, k, f]) => [t.name, k, f]))) return;
    // The first failure is the cause of the others: its traceback starts open.
    byId("failures").replaceChildren(
      ...found.map(([task, kind, failure], index) => failureBlock(task, kind, failure, index === 0)));
    byId("failures-section").hidden = found.length === 0;
  }

  function renderJson(job) {
    const results = {};
    for (const task of job.tasks || []) {
      if (task.result !== null && task.result !== undefined) results[task.name] = task.result;
    }
    if (changed("results", results)) {
      byId("results").textContent = JSON.stringify(results, null, 2);
    }
    if (changed("store", job.store ?? null)) {
      byId("store").textContent = JSON.stringify(job.store ?? {}, null, 2);
    }
  }

  // ---- Refreshing and cancelling -------------------------------------------

  function render(job) {
    renderHeader(job);
    JobPanels.renderAttempts(job);
    JobPanels.renderRetry(job);
    renderTimeline(job);
    renderCancellations(job);
    renderFailures(job);
    renderJson(job);
    const terminal = isTerminal(job);
    document.body.dataset.refreshing = terminal ? "false" : "true";
    byId("refresh-status").textContent = terminal
      ? `Finished · updated ${Orchestrator.clockTime()}`
      : `Refreshing every second · updated ${Orchestrator.clockTime()}`;
    document.body.dataset.loaded = "true";
  }

  async function cancel() {
    const note = byId("cancel-error");
    note.hidden = true;
    note.textContent = "";
    if (!window.confirm(`Cancel job ${jobId}?`)) return;
    const button = byId("cancel");
    button.disabled = true;
    try {
      const job = await api("POST", `${jobPath}/cancel`, { requested_by: CANCELLED_BY });
      renderHeader(job);
    } catch (exc) {
      note.textContent = exc.describe ? exc.describe() : String(exc.message || exc);
      note.dataset.code = exc.code || "error";
      note.hidden = false;
      button.disabled = Boolean(current && current.cancel_requested_at);
    }
    refresher.now();
  }

  function start() {
    byId("cancel").addEventListener("click", cancel);
    byId("retry").addEventListener("click", () => JobPanels.retry(jobPath));
    if (!jobId) {
      Orchestrator.showError(new Error("No job id in this page's address."));
      return;
    }
    byId("job-id").textContent = jobId;
    refresher = Orchestrator.every(REFRESH_MS, async () => {
      const [job] = await Promise.all([api("GET", jobPath), JobPanels.loadExplain(jobPath)]);
      render(job);
      return !isTerminal(job); // a finished job does not change: stop asking
    }, (exc) => exc instanceof Orchestrator.ApiError && exc.status === 404);
  }

  start();
})();
