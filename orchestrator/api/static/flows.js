// The registered flows: each one's inputs, what it provides, where it comes
// from, and for a declarative flow the document it is built from.
"use strict";

(() => {
  const { api, byId, el } = Orchestrator;

  function names(list, kind, empty) {
    if (!list || list.length === 0) return el("span", { className: "note", text: empty });
    return el("ul", { className: `inline-list names ${kind}` },
      ...list.map((name) => el("li", {}, el("code", { text: name }))));
  }

  function row(label, node) {
    return [el("dt", { text: label }), el("dd", {}, node)];
  }

  function documentBlock(flow) {
    if (!flow.document) {
      return el("p", { className: "note flow-kind", text: "A Python flow." });
    }
    return el("details", { className: "flow-document" },
      el("summary", { text: "Flow document" }),
      el("pre", { className: "json document", text: JSON.stringify(flow.document, null, 2) }));
  }

  function flowCard(flow) {
    const jobs = el("a", { text: "its jobs",
                           attrs: { href: `/?flow=${encodeURIComponent(flow.name)}` } });
    return el("article", { className: "flow", dataset: { flow: flow.name,
                                                          declarative: Boolean(flow.document) } },
      el("h2", {}, el("code", { className: "flow-name", text: flow.name }), " ",
         el("span", { className: "note flow-jobs" }, "(", jobs, ")")),
      el("p", { className: "flow-description", text: flow.description || "No description." }),
      el("dl", { className: "details" },
        ...row("Requires", names(flow.requires, "requires", "nothing")),
        ...row("May also read", names(flow.optional, "optional", "nothing")),
        ...row("Provides", names(flow.provides, "provides", "nothing")),
        ...row("Source", el("code", { className: "flow-source", text: flow.source || "—" }))),
      documentBlock(flow));
  }

  const RETRY_MS = 5000; // after a failed load

  Orchestrator.every(RETRY_MS, async () => {
    const answer = await api("GET", "/v1/flows");
    const flows = (answer.flows || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    byId("flows").replaceChildren(...flows.map(flowCard));
    byId("no-flows").hidden = flows.length > 0;
    byId("refresh-status").textContent = `Loaded ${Orchestrator.clockTime()}`;
    document.body.dataset.loaded = "true";
    return false; // flows change only when the API restarts or reloads: once is enough
  });
})();
