// Two runs side by side, from compareRuns: configuration changes, per-model statistics and the
// decisions that changed.
import { gql } from "/static/console/api.js";
import { h, money, seconds, statusBadge, decisionClass, errorBox } from "/static/console/dom.js";

const SIDE = "transcriptCount meanDecision avgTokens avgDurationMs cost decisionDistribution { code count }";
const COMPARE = `query Compare($base: ID!, $other: ID!) {
  compareRuns(baseRunId: $base, otherRunId: $other) {
    matchedSlotCount changedDecisionCount costDelta tokenDelta durationDeltaSeconds
    configChanges { key base other }
    perModel { modelId meanDelta base { ${SIDE} } other { ${SIDE} } }
    baseRun { id name status } otherRun { id name status }
    changedDecisions(limit: 200) { scenarioId modelId sampleIndex baseCode otherCode baseTranscriptId otherTranscriptId }
  }
}`;

function pickForm(params, navigate) {
  const form = h(
    "form",
    { class: "filters", id: "compare-form" },
    h("label", {}, "Base run", h("input", { name: "base", value: params.get("base") ?? "", required: true, size: "30" })),
    h("label", {}, "Other run", h("input", { name: "other", value: params.get("other") ?? "", required: true, size: "30" })),
    h("button", { type: "submit" }, "Compare"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    navigate(`#/compare?base=${encodeURIComponent(data.get("base"))}&other=${encodeURIComponent(data.get("other"))}`);
  });
  return form;
}

const fmt = (value, digits = 2) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
const json = (value) => (value === undefined || value === null ? "—" : JSON.stringify(value));

function result(c) {
  const runLink = (run) => h("a", { href: `#/runs/${run.id}` }, run.name || run.id, " ", statusBadge(run.status));
  return h(
    "div",
    { id: "comparison" },
    h("div", { class: "side-by-side" }, h("div", { class: "card" }, h("h2", {}, "Base"), runLink(c.baseRun)),
      h("div", { class: "card" }, h("h2", {}, "Other"), runLink(c.otherRun))),
    h("p", {}, `${c.matchedSlotCount} matched slots, ${c.changedDecisionCount} changed decisions; cost ${money(c.costDelta)}, tokens ${c.tokenDelta}, duration ${seconds(c.durationDeltaSeconds)} (other − base).`),
    h("h2", {}, "Configuration changes"),
    c.configChanges.length
      ? h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Base"), h("th", {}, "Other"))),
        h("tbody", {}, c.configChanges.map((x) => h("tr", {}, h("td", {}, x.key), h("td", {}, json(x.base)), h("td", {}, json(x.other))))))
      : h("p", { class: "hint" }, "Same configuration."),
    h("h2", {}, "Per model"),
    h("table", { class: "grid", id: "compare-models" },
      h("thead", {}, h("tr", {}, ["Model", "Transcripts", "Mean decision", "Δ mean", "Avg tokens", "Avg duration", "Cost"].map((t) => h("th", {}, t)))),
      h("tbody", {}, c.perModel.map((m) => h("tr", {},
        h("td", {}, m.modelId),
        h("td", { class: "num" }, `${m.base.transcriptCount} → ${m.other.transcriptCount}`),
        h("td", { class: "num" }, `${fmt(m.base.meanDecision)} → ${fmt(m.other.meanDecision)}`),
        h("td", { class: "num" }, fmt(m.meanDelta)),
        h("td", { class: "num" }, `${fmt(m.base.avgTokens, 0)} → ${fmt(m.other.avgTokens, 0)}`),
        h("td", { class: "num" }, `${seconds((m.base.avgDurationMs ?? 0) / 1000)} → ${seconds((m.other.avgDurationMs ?? 0) / 1000)}`),
        h("td", { class: "num" }, `${money(m.base.cost)} → ${money(m.other.cost)}`))))),
    h("h2", {}, "Changed decisions"),
    c.changedDecisions.length
      ? h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["Scenario", "Model", "Sample", "Base", "Other"].map((t) => h("th", {}, t)))),
        h("tbody", {}, c.changedDecisions.map((d) => h("tr", {}, h("td", {}, d.scenarioId), h("td", {}, d.modelId), h("td", { class: "num" }, d.sampleIndex),
          h("td", {}, h("a", { href: `#/transcripts/${d.baseTranscriptId}`, class: decisionClass(d.baseCode) }, d.baseCode ?? "…")),
          h("td", {}, h("a", { href: `#/transcripts/${d.otherTranscriptId}`, class: decisionClass(d.otherCode) }, d.otherCode ?? "…"))))))
      : h("p", { class: "hint" }, "No decision changed."),
  );
}

export function showCompare({ params, render, navigate }) {
  const body = h("div");
  render(h("div", { class: "compare-page" }, h("h1", {}, "Compare two runs"), pickForm(params, navigate), body));
  const base = params.get("base");
  const other = params.get("other");
  if (base && other) {
    gql(COMPARE, { base, other })
      .then((data) => body.replaceChildren(result(data.compareRuns)))
      .catch((error) => body.replaceChildren(errorBox(error.message)));
  } else {
    body.replaceChildren(h("p", { class: "hint" }, "Pick two runs on the runs list (the checkboxes), or paste their ids."));
  }
  return () => {};
}
