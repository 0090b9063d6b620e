// One run: live progress and spend through runProgress, ETA, pause reason, the controls
// (admin keys), exports, per-model totals, failed slots and the results matrix.
import { gql, subscribe, download } from "/static/console/api.js";
import { h, money, seconds, when, statusBadge, progressBar, errorBox, TERMINAL } from "/static/console/dom.js";
import { loadTranscripts, matrix, modelTotals, failedSlots } from "/static/console/matrix.js";

const RUN = `query Run($id: ID!) {
  run(id: $id) {
    id name status pauseReason definitionId createdAt startedAt completedAt durationSeconds
    maxBudgetUsd samplesPerScenario parentRunId
    definition { name }
    models { modelId displayName }
    progress { total completed failed percentComplete byModel { modelId completed failed } }
    summarizeProgress { total completed failed percentComplete }
    spend { total }
    failedProbes { scenarioId modelId sampleIndex errorCode errorMessage retryCount }
  }
}`;
const PROGRESS = `subscription Progress($id: ID!) {
  runProgress(runId: $id) {
    status pauseReason maxBudgetUsd estimatedSecondsRemaining transcriptId
    runProgress { total completed failed percentComplete }
    summarizeProgress { total completed failed percentComplete }
    spend { total }
  }
}`;
const ACTIONS = {
  pause: { label: "Pause", mutation: `mutation($id: ID!) { pauseRun(runId: $id) { status } }`, when: ["PENDING", "RUNNING"] },
  resume: { label: "Resume", mutation: `mutation($id: ID!) { resumeRun(runId: $id) { status } }`, when: ["PAUSED"] },
  cancel: { label: "Cancel", mutation: `mutation($id: ID!) { cancelRun(runId: $id) { status } }`, when: ["PENDING", "RUNNING", "PAUSED", "SUMMARIZING"] },
  rerun: { label: "Rerun", mutation: `mutation($id: ID!) { rerunRun(runId: $id) { run { id } } }`, when: [...TERMINAL] },
};

function liveBox(state) {
  const p = state.progress;
  const cap = state.maxBudgetUsd;
  const spent = state.spend?.total ?? 0;
  const summary = state.summarizeProgress;
  return h(
    "section",
    { class: "card live-box", id: "live-box" },
    h("div", { class: "row" }, h("strong", {}, "Status "), h("span", { id: "run-status" }, statusBadge(state.status)),
      state.pauseReason ? h("span", { class: "pause-reason", id: "pause-reason" }, `Paused: ${state.pauseReason}`) : null),
    h("div", { class: "meter" }, h("span", {}, "Probes"), progressBar(p.percentComplete, "probe progress"),
      h("span", { id: "progress-count" }, `${p.completed} done, ${p.failed} failed of ${p.total}`)),
    summary ? h("div", { class: "meter" }, h("span", {}, "Summaries"), progressBar(summary.percentComplete, "summary progress"),
      h("span", {}, `${summary.completed} of ${summary.total}`)) : null,
    h("div", { class: "meter" }, h("span", {}, "Spend"),
      cap ? progressBar((100 * spent) / cap, "spend against the cap") : h("span", {}, ""),
      h("span", { id: "spend" }, cap ? `${money(spent)} of ${money(cap)} cap` : `${money(spent)} (no cap)`)),
    h("div", {}, "ETA: ", h("span", { id: "eta" }, TERMINAL.has(state.status) ? "done" : seconds(state.estimatedSecondsRemaining))),
  );
}

function controls(state, role, act) {
  const admin = role === "admin";
  return h(
    "div",
    { class: "controls", id: "controls" },
    Object.entries(ACTIONS).map(([name, action]) =>
      h("button", {
        type: "button",
        id: `action-${name}`,
        disabled: !admin || !action.when.includes(state.status),
        title: admin ? null : "Admin key required",
        onclick: () => act(name),
      }, action.label)),
    admin ? null : h("span", { class: "hint" }, "Read-only: a viewer key cannot pause, resume, cancel or rerun."),
  );
}

function exports(runId, problem) {
  const save = (path, name) => download(path, name).catch((e) => problem(e.message));
  return h(
    "div",
    { class: "exports" },
    "Export: ",
    h("button", { type: "button", class: "link", onclick: () => save(`/export/runs/${runId}/transcripts.csv`, `${runId}-transcripts.csv`) }, "transcripts.csv"),
    h("button", { type: "button", class: "link", onclick: () => save(`/export/runs/${runId}/transcripts.jsonl`, `${runId}-transcripts.jsonl`) }, "transcripts.jsonl"),
    h("button", { type: "button", class: "link", onclick: () => save(`/export/runs/${runId}/manifest.json`, `${runId}-manifest.json`) }, "manifest.json"),
  );
}

function header(run) {
  return h(
    "section",
    { class: "run-header" },
    h("h1", {}, run.name || `Run ${run.id}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, run.id)),
      h("dt", {}, "Definition"), h("dd", {}, run.definition?.name ?? run.definitionId),
      h("dt", {}, "Models"), h("dd", {}, run.models.map((m) => m.displayName).join(", ")),
      h("dt", {}, "Samples per scenario"), h("dd", {}, run.samplesPerScenario),
      h("dt", {}, "Created"), h("dd", {}, when(run.createdAt)),
      h("dt", {}, "Duration"), h("dd", {}, seconds(run.durationSeconds)),
      run.parentRunId ? [h("dt", {}, "Rerun of"), h("dd", {}, h("a", { href: `#/runs/${run.parentRunId}` }, run.parentRunId))] : null),
  );
}

export function showRun(runId, { role, render, navigate }) {
  const problems = h("div", { id: "problems" });
  const problem = (message) => problems.replaceChildren(errorBox(message));
  const parts = { header: h("div"), live: h("div"), controls: h("div"), totals: h("div"), failed: h("div"), matrix: h("div") };
  let run = null;
  let state = null;
  let transcripts = [];
  let matrixPage = 0;
  let reloading = null;
  let stopped = false;

  const drawLive = () => {
    parts.live.replaceChildren(liveBox(state));
    parts.controls.replaceChildren(controls(state, role, act));
  };
  const drawResults = () => {
    parts.header.replaceChildren(header(run));
    parts.totals.replaceChildren(modelTotals(run.models, transcripts, run.progress.byModel));
    parts.failed.replaceChildren(failedSlots(run.failedProbes));
    parts.matrix.replaceChildren(matrix(run.models, transcripts, run.failedProbes, matrixPage, (page) => {
      matrixPage = page;
      drawResults();
    }));
  };

  async function reloadResults() {
    const data = await gql(RUN, { id: runId });
    if (stopped || !data.run) return;
    run = data.run;
    transcripts = await loadTranscripts(runId);
    if (!stopped) drawResults();
  }
  // Transcripts arrive a few per second: read them again at most every two seconds.
  const scheduleResults = () => {
    if (reloading) return;
    reloading = setTimeout(async () => {
      try {
        await reloadResults();
      } catch (error) {
        problem(error.message);
      } finally {
        reloading = null;
      }
    }, 2000);
  };

  async function act(name) {
    problems.replaceChildren();
    try {
      const data = await gql(ACTIONS[name].mutation, { id: runId });
      if (name === "rerun") {
        navigate(`#/runs/${data.rerunRun.run.id}`);
        return;
      }
      state = { ...state, status: Object.values(data)[0].status };
      drawLive();
    } catch (error) {
      problem(error.message);
    }
  }

  let stopProgress = () => {};
  (async () => {
    try {
      const data = await gql(RUN, { id: runId });
      if (!data.run) {
        render(errorBox(`No run ${runId}.`));
        return;
      }
      run = data.run;
      state = { ...run, estimatedSecondsRemaining: null };
      if (stopped) return;
      render(h("div", { class: "run-page" }, h("a", { href: "#/runs" }, "← Runs"), parts.header, problems,
        parts.live, parts.controls, exports(runId, problem),
        h("h2", {}, "Per model"), parts.totals, h("h2", {}, "Failed slots"), parts.failed,
        h("h2", {}, "Results"), parts.matrix));
      parts.header.replaceChildren(header(run));
      drawLive();
      transcripts = await loadTranscripts(runId);
      if (!stopped) drawResults();
    } catch (error) {
      render(errorBox(error.message));
      return;
    }
    if (stopped) return;
    stopProgress = subscribe(PROGRESS, { id: runId }, {
      next: ({ runProgress: event }) => {
        state = { ...state, ...event, progress: event.runProgress };
        drawLive();
        if (event.transcriptId || TERMINAL.has(event.status)) scheduleResults();
      },
      error: (message) => problem(`Live progress stopped: ${message}`),
    });
  })();
  return () => {
    stopped = true;
    clearTimeout(reloading);
    stopProgress();
  };
}
