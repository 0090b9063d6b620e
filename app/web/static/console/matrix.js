// A run's results: every transcript read in pages (a run may hold thousands), then shown as a
// scenario × model matrix a page of scenarios at a time, per-model totals and failed slots.
import { gql } from "/static/console/api.js";
import { h, money, seconds, decisionClass, DECISION_CODES } from "/static/console/dom.js";

const FETCH_PAGE = 250;
const ROWS_PER_PAGE = 25;
const TRANSCRIPTS = `query Transcripts($id: ID!, $limit: Int, $offset: Int) {
  run(id: $id) {
    transcripts(limit: $limit, offset: $offset) {
      id scenarioId modelId sampleIndex decisionCode tokenCount durationMs estimatedCost
      scenario { name }
    }
  }
}`;

export async function loadTranscripts(runId, onPage) {
  const all = [];
  for (let offset = 0; ; offset += FETCH_PAGE) {
    const data = await gql(TRANSCRIPTS, { id: runId, limit: FETCH_PAGE, offset });
    const page = data.run?.transcripts ?? [];
    all.push(...page);
    onPage?.(all);
    if (page.length < FETCH_PAGE) return all;
  }
}

function scenarioRows(transcripts, failures) {
  const rows = new Map();
  const row = (id, name) => {
    if (!rows.has(id)) rows.set(id, { id, name: name ?? id, cells: new Map() });
    return rows.get(id);
  };
  for (const t of transcripts) {
    const cells = row(t.scenarioId, t.scenario?.name).cells;
    if (!cells.has(t.modelId)) cells.set(t.modelId, []);
    cells.get(t.modelId).push({ transcript: t });
  }
  for (const f of failures) {
    const cells = row(f.scenarioId).cells;
    if (!cells.has(f.modelId)) cells.set(f.modelId, []);
    cells.get(f.modelId).push({ failure: f });
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function chip(entry) {
  if (entry.failure) {
    const f = entry.failure;
    return h("span", { class: "decision decision-failed", title: `${f.errorCode}: ${f.errorMessage ?? ""}` }, "✗");
  }
  const t = entry.transcript;
  return h(
    "a",
    {
      href: `#/transcripts/${t.id}`,
      class: decisionClass(t.decisionCode),
      title: `sample ${t.sampleIndex} · ${t.tokenCount} tokens · ${seconds(t.durationMs / 1000)}`,
      dataset: { transcriptId: t.id },
    },
    t.decisionCode ?? "…",
  );
}

export function matrix(models, transcripts, failures, page, turnPage) {
  const rows = scenarioRows(transcripts, failures);
  if (!rows.length) return h("p", { class: "hint", id: "matrix" }, "No results yet: they appear as slots finish.");
  const pages = Math.max(1, Math.ceil(rows.length / ROWS_PER_PAGE));
  const current = Math.min(page, pages - 1);
  const shown = rows.slice(current * ROWS_PER_PAGE, (current + 1) * ROWS_PER_PAGE);
  const legend = h(
    "div",
    { class: "legend" },
    "Decision: ",
    DECISION_CODES.map((code) => h("span", { class: decisionClass(code) }, code)),
    h("span", { class: decisionClass(null) }, "…"),
    " summary pending ",
    h("span", { class: "decision decision-failed" }, "✗"),
    " failed slot",
  );
  return h(
    "div",
    { class: "matrix-wrap" },
    legend,
    h(
      "table",
      { class: "grid matrix", id: "matrix" },
      h("thead", {}, h("tr", {}, h("th", {}, "Scenario"), models.map((m) => h("th", {}, m.modelId)))),
      h(
        "tbody",
        {},
        shown.map((row) =>
          h("tr", {}, h("th", { class: "scenario", title: row.id }, row.name),
            models.map((m) => h("td", {}, (row.cells.get(m.modelId) ?? []).map(chip)))),
        ),
      ),
    ),
    h(
      "div",
      { class: "pager" },
      h("button", { type: "button", disabled: current <= 0, onclick: () => turnPage(current - 1) }, "← Previous"),
      h("span", {}, `${rows.length} scenarios · page ${current + 1} of ${pages}`),
      h("button", { type: "button", disabled: current >= pages - 1, onclick: () => turnPage(current + 1) }, "Next →"),
    ),
  );
}

export function modelTotals(models, transcripts, byModel) {
  const totals = new Map(models.map((m) => [m.modelId, { count: 0, tokens: 0, cost: 0, ms: 0, codes: [] }]));
  for (const t of transcripts) {
    const total = totals.get(t.modelId);
    if (!total) continue;
    total.count += 1;
    total.tokens += t.tokenCount;
    total.cost += t.estimatedCost ?? 0;
    total.ms += t.durationMs;
    const code = Number(t.decisionCode);
    if (Number.isFinite(code)) total.codes.push(code);
  }
  const failed = new Map((byModel ?? []).map((b) => [b.modelId, b.failed]));
  return h(
    "table",
    { class: "grid", id: "model-totals" },
    h("thead", {}, h("tr", {}, ["Model", "Transcripts", "Failed", "Tokens", "Cost", "Avg duration", "Mean decision"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      [...totals].map(([modelId, t]) =>
        h(
          "tr",
          {},
          h("td", {}, modelId),
          h("td", { class: "num" }, t.count),
          h("td", { class: "num" }, failed.get(modelId) ?? 0),
          h("td", { class: "num" }, t.tokens),
          h("td", { class: "num" }, money(t.cost)),
          h("td", { class: "num" }, t.count ? seconds(t.ms / t.count / 1000) : "—"),
          h("td", { class: "num" }, t.codes.length ? (t.codes.reduce((a, b) => a + b, 0) / t.codes.length).toFixed(2) : "—"),
        ),
      ),
    ),
  );
}

export function failedSlots(failures) {
  if (!failures.length) return h("p", { class: "hint" }, "No failed slots.");
  const shown = failures.slice(0, 100);
  return h(
    "div",
    {},
    h(
      "table",
      { class: "grid", id: "failed-slots" },
      h("thead", {}, h("tr", {}, ["Scenario", "Model", "Sample", "Error", "Retries"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        shown.map((f) =>
          h("tr", {}, h("td", {}, f.scenarioId), h("td", {}, f.modelId), h("td", { class: "num" }, f.sampleIndex),
            h("td", {}, h("code", {}, f.errorCode ?? ""), " ", f.errorMessage ?? ""), h("td", { class: "num" }, f.retryCount)),
        ),
      ),
    ),
    failures.length > shown.length ? h("p", { class: "hint" }, `…and ${failures.length - shown.length} more (see the exports).`) : null,
  );
}
