// Shared by every page: API calls, the token form, and small DOM and
// formatting helpers. No dependencies, no build step.
//
// Every time on every page is shown in one zone, UTC, on a 24-hour clock; the
// header says so once (`.time-zone`), so no single time repeats it.
//
// Job data is user-provided: the DOM is built with textContent and
// attributes only, never innerHTML.
"use strict";

const Orchestrator = (() => {
  const TOKEN_KEY = "orchestrator-token";
  const TERMINAL_STATES = new Set(["SUCCESS", "REVERTED", "FAILED"]);
  const JOB_STATES = ["POSTED", "RUNNING", "SUSPENDED", "SUCCESS", "REVERTED", "FAILED"];
  const ZONE = "UTC";
  // What a task fails with when its job was cancelled: an outcome, not a failure.
  const CANCELLED_FAILURE = "orchestrator.engines.JobCancelled";

  /** An error answer of the API (or no answer at all: status 0). */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.name = "ApiError";
      this.status = status;
      this.code = code;
    }

    describe() {
      if (this.status === 0) return this.message;
      return `${this.message} (HTTP ${this.status}, ${this.code})`;
    }
  }

  // ---- DOM helpers -------------------------------------------------------

  /**
   * Create an element. `props`: className, text, hidden, dataset (object),
   * attrs (object, set with setAttribute). Children: nodes or strings
   * (strings become text nodes, so they are never parsed as HTML).
   */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    if (props.className) node.className = props.className;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    if (props.hidden) node.hidden = true;
    for (const [key, value] of Object.entries(props.dataset || {})) {
      if (value !== undefined && value !== null) node.dataset[key] = String(value);
    }
    for (const [key, value] of Object.entries(props.attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  // ---- Formatting --------------------------------------------------------

  /** Milliseconds since the epoch of an ISO-8601 time (microseconds allowed), or null. */
  function parseTime(value) {
    if (!value) return null;
    // Keep milliseconds only: not every engine parses six fraction digits.
    const trimmed = String(value).replace(/(\.\d{3})\d+/, "$1");
    const ms = Date.parse(trimmed);
    return Number.isNaN(ms) ? null : ms;
  }

  /** "2024-05-01 12:00:03" in UTC, or "—". */
  function formatTime(value) {
    const ms = parseTime(value);
    if (ms === null) return "—";
    return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
  }

  /** The time of day in UTC, "14:03:05": now, or at `ms` since the epoch. */
  function clockTime(ms = Date.now()) {
    return new Date(ms).toISOString().slice(11, 19);
  }

  /** Say once, in the header, which zone the page's times are in. */
  function showZone() {
    for (const node of document.querySelectorAll(".time-zone")) {
      node.textContent = `Times in ${ZONE}`;
      node.dataset.zone = ZONE;
    }
  }

  /** A time element showing the UTC time, with the exact value as its tooltip. */
  function timeNode(value, id) {
    const node = el("time", { text: formatTime(value), attrs: { id } });
    if (value) {
      node.dateTime = value;
      node.title = value;
    }
    return node;
  }

  /** "4 ms", "0.42 s", "12.3 s", "2 min 05 s", "1 h 02 min", or "—". */
  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
    const s = Math.max(0, Number(seconds));
    if (s < 0.1) return `${Math.round(s * 1000)} ms`;
    if (s < 10) return `${s.toFixed(2)} s`;
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) {
      const m = Math.floor(s / 60);
      return `${m} min ${String(Math.floor(s - m * 60)).padStart(2, "0")} s`;
    }
    const h = Math.floor(s / 3600);
    return `${h} h ${String(Math.floor((s - h * 3600) / 60)).padStart(2, "0")} min`;
  }

  /** Seconds from `start` to `end` (ISO strings; `end` null means now), or null. */
  function elapsed(start, end) {
    const a = parseTime(start);
    if (a === null) return null;
    const b = end ? parseTime(end) : Date.now();
    return b === null ? null : Math.max(0, (b - a) / 1000);
  }

  function shorten(text, length) {
    if (!text) return "";
    const oneLine = String(text).replace(/\s+/g, " ").trim();
    return oneLine.length > length ? `${oneLine.slice(0, length - 1)}…` : oneLine;
  }

  function stateBadge(state, id) {
    return el("span", {
      className: `state state-${String(state || "UNKNOWN").toLowerCase()}`,
      text: state || "UNKNOWN",
      dataset: { state: state || "UNKNOWN" },
      attrs: { id },
    });
  }

  /** Whether the job ended because someone asked for it to stop. */
  function isCancelled(job) {
    return job.cancelled === true;
  }

  /** Whether a task's failure is only its job's cancellation. */
  function isCancellation(failure) {
    return Boolean(failure) && failure.type === CANCELLED_FAILURE;
  }

  /** "CANCELLED", saying who asked (and when) in its tooltip. */
  function cancelledBadge(job, id) {
    const who = job.cancel_requested_by ? ` by ${job.cancel_requested_by}` : "";
    const when = job.cancel_requested_at ? ` at ${formatTime(job.cancel_requested_at)}` : "";
    return el("span", { className: "state state-cancelled", text: "CANCELLED",
                        dataset: { cancelledBy: job.cancel_requested_by },
                        attrs: { id, title: `Cancel requested${who}${when}` } });
  }

  function jobUrl(jobId) {
    return `/jobs/${encodeURIComponent(jobId)}`;
  }

  // ---- Messages ----------------------------------------------------------

  /** Show an error in the page's banner (`#error`); `null` clears it. */
  function showError(error) {
    const banner = byId("error");
    if (!banner) return;
    if (!error) {
      banner.hidden = true;
      banner.textContent = "";
      delete banner.dataset.code;
      return;
    }
    banner.textContent = error instanceof ApiError ? error.describe() : String(error.message || error);
    banner.dataset.code = error.code || "error";
    banner.hidden = false;
  }

  // ---- The token form ----------------------------------------------------

  let pendingToken = null; // one prompt shared by all requests that got a 401

  function askForToken(reason) {
    if (pendingToken) return pendingToken;
    pendingToken = new Promise((resolve) => {
      const form = tokenForm();
      byId("auth-message").textContent = reason;
      form.hidden = false;
      document.body.dataset.auth = "required";
      const input = byId("auth-token");
      input.value = "";
      input.focus();
      form.onsubmit = (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        sessionStorage.setItem(TOKEN_KEY, token);
        form.hidden = true;
        document.body.dataset.auth = "sent";
        pendingToken = null;
        resolve();
      };
    });
    return pendingToken;
  }

  function tokenForm() {
    let form = byId("auth-form");
    if (form) return form;
    form = el("form", { className: "auth", attrs: { id: "auth-form" }, hidden: true },
      el("p", { attrs: { id: "auth-message" } }),
      el("label", { attrs: { for: "auth-token" }, text: "API token " }),
      el("input", { attrs: { id: "auth-token", type: "password", autocomplete: "off",
                             required: "" } }),
      " ",
      el("button", { attrs: { id: "auth-submit", type: "submit" }, text: "Use token" }));
    document.querySelector("main").prepend(form);
    return form;
  }

  // ---- API calls ---------------------------------------------------------

  /**
   * Call the API; resolve with the decoded JSON body, reject with ApiError.
   * On 401 the token form is shown, and the call is made again with the
   * token the user gives.
   */
  async function api(method, path, body) {
    for (;;) {
      const headers = { Accept: "application/json" };
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers.Authorization = `Bearer ${token}`;
      const init = { method, headers, cache: "no-store" };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      let response;
      try {
        response = await fetch(path, init);
      } catch (exc) {
        throw new ApiError(0, "unreachable", `Cannot reach the API: ${exc.message}`);
      }
      const payload = await readJson(response);
      if (response.status === 401) {
        if (token) sessionStorage.removeItem(TOKEN_KEY);
        const said = errorOf(response, payload).message;
        await askForToken(token
          ? `The API refused the token (${said}). Enter a valid API token.`
          : `This API needs a token (${said}).`);
        continue;
      }
      if (!response.ok) throw errorOf(response, payload);
      return payload;
    }
  }

  async function readJson(response) {
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return { unparsed: text };
    }
  }

  function errorOf(response, payload) {
    const error = payload && payload.error;
    if (error && typeof error === "object") {
      return new ApiError(error.status || response.status, error.code || "error",
                          error.message || response.statusText);
    }
    const text = payload && payload.unparsed ? shorten(payload.unparsed, 200) : "";
    return new ApiError(response.status, "http_error",
                        text || response.statusText || `HTTP ${response.status}`);
  }

  /**
   * Call `tick` now and again `interval` ms after each call ends, while it
   * resolves true. Calls never overlap. A failing call is shown in the error
   * banner and retried, unless `stopOn(error)` says retrying cannot help.
   */
  function every(interval, tick, stopOn = () => false) {
    let timer = null;
    let running = false;
    let rerun = false;
    let stopped = false;
    async function run() {
      timer = null;
      running = true;
      let again = true;
      try {
        again = await tick();
        showError(null);
      } catch (exc) {
        showError(exc);
        again = !stopOn(exc);
      }
      running = false;
      if (rerun) { // asked for fresh data while this call was under way
        rerun = false;
        run();
      } else if (again && !stopped) {
        timer = setTimeout(run, interval);
      }
    }
    run();
    return {
      /** Fetch again at once (after the user changed something). */
      now() {
        if (running) {
          rerun = true;
          return;
        }
        if (timer !== null) clearTimeout(timer);
        run();
      },
      stop() {
        stopped = true;
        if (timer !== null) clearTimeout(timer);
      },
    };
  }

  return {
    ApiError, JOB_STATES, TERMINAL_STATES, ZONE, api, byId, cancelledBadge, clockTime, el,
    elapsed, every, formatDuration, formatTime, isCancellation, isCancelled, jobUrl, parseTime,
    shorten, showError, showZone, stateBadge, timeNode,
  };
})();

Orchestrator.showZone();
