// The job page's panels about the job's life rather than its tasks: why it is
// or is not running now (explain), what each attempt did, and retrying or
// undoing it.
// job.js calls these on each refresh.
"use strict";

const JobPanels = (() => {
  const { api, byId, el, formatDuration, timeNode } = Orchestrator;

  // How an attempt ended, as the API says it -> as the page says it.
  const OUTCOMES = {
    finished: "finished",
    suspended: "suspended",
    conductor_lost: "conductor lost",
    storage_error: "storage error",
    cancelled: "cancelled",
    error: "error",
  };

  function message(exc) {
    return exc.describe ? exc.describe() : String(exc.message || exc);
  }

  // ---- Explain -------------------------------------------------------------

  function renderExplain(answer) {
    const section = byId("explain-section");
    section.dataset.state = answer.state || "";
    delete section.dataset.unavailable;
    byId("explain-summary").textContent = answer.summary || "";
    const holder = byId("explain-holder");
    holder.hidden = !answer.holder;
    if (answer.holder) {
      holder.replaceChildren(
        "Held by ", el("strong", { className: "holder", text: answer.holder.conductor }),
        " since ", timeNode(answer.holder.since, "explain-holder-since"),
        answer.holder.alive === false ? " (that conductor is no longer alive)" : "");
    }
    const next = byId("explain-next");
    next.hidden = !answer.next_attempt_at;
    if (answer.next_attempt_at) {
      next.replaceChildren("Next attempt at ", timeNode(answer.next_attempt_at, "explain-next-at"));
    }
    const reasons = answer.reasons || [];
    byId("explain-reasons").replaceChildren(
      ...reasons.map((reason) => el("li", { className: "reason", text: reason })));
  }

  /**
   * Ask the API why the job is or is not running, and show it. Never rejects:
   * the rest of the page does not depend on this answer.
   */
  async function loadExplain(jobPath) {
    try {
      renderExplain(await api("GET", `${jobPath}/explain`));
    } catch (exc) {
      const section = byId("explain-section");
      section.dataset.unavailable = "true";
      byId("explain-summary").textContent = `No explanation available: ${message(exc)}`;
      byId("explain-holder").hidden = true;
      byId("explain-next").hidden = true;
      byId("explain-reasons").replaceChildren();
    }
  }

  // ---- Attempts ------------------------------------------------------------

  function outcomeBadge(outcome) {
    const key = outcome || "running";
    return el("span", { className: `outcome outcome-${key}`,
                        text: outcome ? OUTCOMES[outcome] || outcome : "running",
                        dataset: { outcome: key } });
  }

  function attemptRow(attempt) {
    const running = !attempt.ended_at;
    const seconds = attempt.duration ?? (running
      ? Orchestrator.elapsed(attempt.started_at, null) : null);
    const duration = running && seconds !== null
      ? `${formatDuration(seconds)} so far` : formatDuration(seconds);
    const detail = el("td", { className: "attempt-detail",
                              text: Orchestrator.shorten(attempt.detail, 120) });
    if (attempt.detail) detail.title = attempt.detail;
    return el("tr", { className: "attempt",
                      dataset: { number: attempt.number, conductor: attempt.conductor,
                                 outcome: attempt.outcome || "running" } },
      el("td", { className: "attempt-number", text: attempt.number }),
      el("td", { className: "attempt-conductor", text: attempt.conductor }),
      el("td", {}, timeNode(attempt.started_at)),
      el("td", {}, timeNode(attempt.ended_at)),
      el("td", { className: "duration", text: duration }),
      el("td", {}, outcomeBadge(attempt.outcome)),
      el("td", { className: "attempt-step", text: attempt.step || "—" }),
      detail);
  }

  function renderAttempts(job) {
    const attempts = job.attempt_history;
    // An API without attempt history: say nothing rather than "none".
    byId("attempts-section").hidden = !Array.isArray(attempts);
    if (!Array.isArray(attempts)) return;
    byId("attempt-rows").replaceChildren(...attempts.map(attemptRow));
    byId("no-attempts").hidden = attempts.length > 0;
    byId("attempts").hidden = attempts.length === 0;
  }

  // ---- Retry ---------------------------------------------------------------

  /** Offer a retry once the job has finished; for a job that FAILED because
   * a task's revert failed, resuming that revert (once its cause is fixed); and,
   * for a SUCCESS job of an undoable flow, reverting all it did. */
  function renderRetry(job) {
    byId("retry").hidden = !Orchestrator.TERMINAL_STATES.has(job.state);
    const revertFailed = job.state === "FAILED" && (job.tasks || []).some((t) => t.revert_failure);
    const resume = byId("resume-revert");
    if (resume) resume.hidden = !revertFailed;
    else if (revertFailed) byId("retry").after(resumeButton(job.id));
    // Only flows written for it declare themselves undoable: the API says so.
    const undoable = job.state === "SUCCESS" && job.undoable === true;
    const undo = byId("undo");
    if (undo) undo.hidden = !undoable;
    else if (undoable) byId("retry").after(undoButton(job.id));
  }

  function undoButton(jobId) {
    // Undoing what the job made (a volume...) must never come from a stray click.
    return reopenButton("undo", "Undo (revert)",
                        "Revert every task of this finished job, last first",
                        `/v1/jobs/${encodeURIComponent(jobId)}/revert`,
                        { requested_by: "web page" },
                        `Revert every step of job ${jobId}?`);
  }

  function resumeButton(jobId) {
    return reopenButton("resume-revert", "Resume revert",
                        "Revert again the task whose revert failed, then the tasks before it",
                        `/v1/jobs/${encodeURIComponent(jobId)}/retry`,
                        { resume_revert: true, requested_by: "web page" }, null);
  }

  /** A button that reopens this same job (POST path with body, after an optional
   * confirmation), then reloads the page to follow it again. */
  function reopenButton(id, text, title, path, body, confirmation) {
    const button = el("button", { text, attrs: { type: "button", id, title } });
    button.addEventListener("click", async () => {
      const note = byId("retry-error");
      note.hidden = true;
      if (confirmation && !window.confirm(confirmation)) return;
      button.disabled = true;
      try {
        await api("POST", path, body);
        window.location.reload(); // the page stopped refreshing once the job had ended
      } catch (exc) {
        note.textContent = message(exc);
        note.dataset.code = exc.code || "error";
        note.hidden = false;
        button.disabled = false;
      }
    });
    return button;
  }

  /** Post a new job like this one, then open its page. */
  async function retry(jobPath) {
    const note = byId("retry-error");
    note.hidden = true;
    const button = byId("retry");
    button.disabled = true;
    try {
      const posted = await api("POST", `${jobPath}/retry`);
      window.location.assign(Orchestrator.jobUrl(posted.id));
    } catch (exc) {
      note.textContent = message(exc);
      note.dataset.code = exc.code || "error";
      note.hidden = false;
      button.disabled = false;
    }
  }

  return { loadExplain, renderAttempts, renderRetry, retry };
})();
