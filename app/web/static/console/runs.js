// The runs list: filters in the address (#/runs?status=…&definitionId=…&modelId=…&createdAfter=…
// &createdBefore=…&page=…), refreshed whenever runsChanged says a run was created, changed
// status or was deleted; and, for admin keys, a form to start a run.
import { gql, subscribe } from "/static/console/api.js";
import { h, money, seconds, when, statusBadge, progressBar, errorBox } from "/static/console/dom.js";

const PAGE = 25;
const STATUSES = ["PENDING", "RUNNING", "PAUSED", "SUMMARIZING", "COMPLETED", "FAILED", "CANCELLED"];
const FILTERS = ["status", "definitionId", "modelId", "createdAfter", "createdBefore"];

const RUNS = `query Runs($status: String, $definitionId: String, $modelId: String,
    $createdAfter: DateTime, $createdBefore: DateTime, $limit: Int, $offset: Int) {
  runs(status: $status, definitionId: $definitionId, modelId: $modelId,
       createdAfter: $createdAfter, createdBefore: $createdBefore, limit: $limit, offset: $offset) {
    id name status createdAt durationSeconds
    progress { total completed failed percentComplete }
    spend { total } maxBudgetUsd
    definition { name }
    models { modelId }
  }
  runCount(status: $status, definitionId: $definitionId, modelId: $modelId,
           createdAfter: $createdAfter, createdBefore: $createdBefore)
}`;
const CATALOG = `{
  definitions(limit: 100) { id name }
  llmModels(status: "ACTIVE") { modelId displayName isAvailable }
}`;
const START = `mutation Start($input: StartRunInput!) { startRun(input: $input) { run { id } } }`;
const CHANGES = `subscription { runsChanged { runId kind status } }`;

function variablesFrom(params) {
  const variables = { limit: PAGE, offset: PAGE * Number(params.get("page") ?? 0) };
  for (const name of FILTERS) {
    const value = params.get(name);
    if (!value) continue;
    // A date input gives a day: the whole day counts for both ends.
    if (name === "createdAfter") variables[name] = new Date(`${value}T00:00:00`).toISOString();
    else if (name === "createdBefore") variables[name] = new Date(`${value}T23:59:59.999`).toISOString();
    else variables[name] = value;
  }
  return variables;
}

function select(name, label, options, chosen) {
  return h(
    "label",
    {},
    label,
    h(
      "select",
      { name },
      h("option", { value: "" }, "any"),
      options.map(([value, text]) => h("option", { value, selected: value === chosen }, text)),
    ),
  );
}

function filterForm(catalog, params, navigate) {
  const form = h(
    "form",
    { class: "filters", id: "filters" },
    select("status", "Status", STATUSES.map((s) => [s, s]), params.get("status")),
    select(
      "definitionId",
      "Definition",
      catalog.definitions.map((d) => [d.id, d.name]),
      params.get("definitionId"),
    ),
    select(
      "modelId",
      "Model",
      catalog.llmModels.map((m) => [m.modelId, m.displayName]),
      params.get("modelId"),
    ),
    h("label", {}, "From", h("input", { type: "date", name: "createdAfter", value: params.get("createdAfter") ?? "" })),
    h("label", {}, "To", h("input", { type: "date", name: "createdBefore", value: params.get("createdBefore") ?? "" })),
    h("button", { type: "submit" }, "Filter"),
    h("a", { href: "#/runs", class: "button-link" }, "Clear"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) chosen.set(name, value);
    navigate(`#/runs?${chosen}`);
  });
  return form;
}

function startForm(catalog, role, navigate) {
  const admin = role === "admin";
  const models = catalog.llmModels.filter((m) => m.isAvailable);
  const problem = h("div", { class: "form-problem" });
  const form = h(
    "form",
    { class: "card start", id: "start-run" },
    h("h2", {}, "Start a run"),
    h(
      "label",
      {},
      "Definition",
      h("select", { name: "definitionId", required: true }, catalog.definitions.map((d) => h("option", { value: d.id }, d.name))),
    ),
    h(
      "fieldset",
      { class: "models" },
      h("legend", {}, "Models"),
      models.map((m) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "models", value: m.modelId }), m.displayName),
      ),
    ),
    h("label", {}, "Samples per scenario", h("input", { type: "number", name: "samplesPerScenario", min: "1", max: "100", value: "1" })),
    h("label", {}, "Spend cap (USD)", h("input", { type: "number", name: "maxBudgetUsd", min: "0", step: "0.01", placeholder: "none" })),
    h("label", {}, "Name", h("input", { type: "text", name: "name", placeholder: "optional" })),
    h("button", { type: "submit", disabled: !admin, title: admin ? null : "Admin key required" }, "Start run"),
    admin ? null : h("p", { class: "hint" }, "A viewer key can watch runs but not start them."),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const input = {
      definitionId: data.get("definitionId"),
      models: data.getAll("models"),
      samplesPerScenario: Number(data.get("samplesPerScenario") || 1),
    };
    if (data.get("maxBudgetUsd")) input.maxBudgetUsd = Number(data.get("maxBudgetUsd"));
    if (data.get("name")) input.name = data.get("name");
    try {
      const started = await gql(START, { input });
      navigate(`#/runs/${started.startRun.run.id}`);
    } catch (error) {
      problem.replaceChildren(errorBox(error.message));
    }
  });
  return form;
}

function runRow(run, compare) {
  const budget = run.maxBudgetUsd ? ` / ${money(run.maxBudgetUsd)}` : "";
  return h(
    "tr",
    { dataset: { runId: run.id } },
    h("td", {}, h("input", { type: "checkbox", "aria-label": "compare", onchange: (e) => compare(run.id, e.target.checked) })),
    h("td", {}, h("a", { href: `#/runs/${run.id}` }, run.name || run.id)),
    h("td", {}, statusBadge(run.status)),
    h("td", {}, run.definition?.name ?? "—"),
    h("td", {}, run.models.map((m) => m.modelId).join(", ")),
    h("td", { class: "progress-cell" }, progressBar(run.progress.percentComplete, "progress"),
      h("small", {}, `${run.progress.completed}/${run.progress.total}`, run.progress.failed ? `, ${run.progress.failed} failed` : "")),
    h("td", { class: "num" }, money(run.spend.total) + budget),
    h("td", { class: "num" }, seconds(run.durationSeconds)),
    h("td", {}, when(run.createdAt)),
  );
}

function pager(params, count, navigate) {
  const page = Number(params.get("page") ?? 0);
  const last = Math.max(0, Math.ceil(count / PAGE) - 1);
  const go = (target) => {
    const next = new URLSearchParams(params);
    next.set("page", String(target));
    navigate(`#/runs?${next}`);
  };
  return h(
    "div",
    { class: "pager" },
    h("button", { type: "button", disabled: page <= 0, onclick: () => go(page - 1) }, "← Newer"),
    h("span", {}, `${count} runs · page ${page + 1} of ${last + 1}`),
    h("button", { type: "button", disabled: page >= last, onclick: () => go(page + 1) }, "Older →"),
  );
}

export function showRuns({ role, params, render, navigate }) {
  const table = h("tbody", { id: "runs-body" });
  const footer = h("div", {});
  const status = h("div", {});
  const chosen = new Set();
  const compareButton = h("button", { type: "button", id: "compare-selected", disabled: true }, "Compare the two selected");
  compareButton.addEventListener("click", () => {
    const [base, other] = [...chosen];
    navigate(`#/compare?base=${base}&other=${other}`);
  });
  const compare = (id, on) => {
    if (on) chosen.add(id);
    else chosen.delete(id);
    compareButton.disabled = chosen.size !== 2;
  };
  let stopped = false;
  let pending = null;

  async function load() {
    try {
      const data = await gql(RUNS, variablesFrom(params));
      if (stopped) return;
      table.replaceChildren(...data.runs.map((run) => runRow(run, compare)));
      if (!data.runs.length) table.append(h("tr", {}, h("td", { colspan: "9", class: "empty" }, "No runs match.")));
      footer.replaceChildren(pager(params, data.runCount, navigate));
      status.replaceChildren();
    } catch (error) {
      status.replaceChildren(errorBox(error.message));
    }
  }

  (async () => {
    let catalog = { definitions: [], llmModels: [] };
    try {
      catalog = await gql(CATALOG);
    } catch (error) {
      status.replaceChildren(errorBox(error.message));
    }
    if (stopped) return;
    render(
      h(
        "div",
        { class: "runs-page" },
        h("section", { class: "runs" },
          h("h1", {}, "Runs"),
          filterForm(catalog, params, navigate),
          status,
          h("table", { class: "grid", id: "runs" },
            h("thead", {}, h("tr", {}, ["", "Run", "Status", "Definition", "Models", "Progress", "Spend", "Duration", "Created"].map((t) => h("th", {}, t)))),
            table),
          h("div", { class: "row" }, compareButton, footer)),
        startForm(catalog, role, navigate),
      ),
    );
    await load();
  })();

  const stop = subscribe(CHANGES, {}, {
    next: () => {
      // Changes come in bursts: one reload for each burst.
      clearTimeout(pending);
      pending = setTimeout(load, 300);
    },
    error: (message) => status.replaceChildren(errorBox(`Live updates stopped: ${message}`)),
  });
  return () => {
    stopped = true;
    clearTimeout(pending);
    stop();
  };
}
