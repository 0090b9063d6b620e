// One transcript as a conversation, with its tokens, duration, cost, model version and the
// decision with its evidence.
import { gql } from "/static/console/api.js";
import { h, money, seconds, when, decisionClass, errorBox } from "/static/console/dom.js";

const TRANSCRIPT = `query Transcript($id: ID!) {
  transcript(id: $id) {
    id runId scenarioId modelId modelVersion sampleIndex content turnCount tokenCount
    durationMs estimatedCost decisionCode decisionText decisionMetadata createdAt
    summarizedAt contentExpiresAt
    scenario { name }
  }
}`;

function message(entry) {
  const role = entry.role ?? "message";
  const text = typeof entry.content === "string" ? entry.content : JSON.stringify(entry.content, null, 2);
  const details = Object.entries(entry).filter(([name]) => !["role", "content"].includes(name));
  return h(
    "div",
    { class: `bubble bubble-${role}` },
    h("div", { class: "bubble-role" }, role),
    h("div", { class: "bubble-text" }, text),
    details.length ? h("div", { class: "bubble-meta" }, details.map(([name, value]) => `${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`).join(" · ")) : null,
  );
}

function evidence(metadata) {
  if (!metadata || typeof metadata !== "object") return null;
  return h(
    "dl",
    { class: "facts evidence" },
    Object.entries(metadata).map(([name, value]) => [
      h("dt", {}, name),
      h("dd", {}, typeof value === "object" ? h("pre", {}, JSON.stringify(value, null, 2)) : String(value)),
    ]),
  );
}

export function showTranscript(id, { render }) {
  (async () => {
    let data;
    try {
      data = await gql(TRANSCRIPT, { id });
    } catch (error) {
      render(errorBox(error.message));
      return;
    }
    const t = data.transcript;
    if (!t) {
      render(errorBox(`No transcript ${id}.`));
      return;
    }
    const messages = Array.isArray(t.content?.messages) ? t.content.messages : [];
    render(
      h(
        "div",
        { class: "transcript-page" },
        h("a", { href: `#/runs/${t.runId}` }, "← Run"),
        h("h1", {}, t.scenario?.name ?? t.scenarioId, " · ", t.modelId),
        h("dl", { class: "facts", id: "transcript-facts" },
          h("dt", {}, "Model version"), h("dd", {}, t.modelVersion ?? "—"),
          h("dt", {}, "Sample"), h("dd", {}, t.sampleIndex),
          h("dt", {}, "Turns"), h("dd", {}, t.turnCount),
          h("dt", {}, "Tokens"), h("dd", {}, t.tokenCount),
          h("dt", {}, "Duration"), h("dd", {}, seconds(t.durationMs / 1000)),
          h("dt", {}, "Cost"), h("dd", {}, money(t.estimatedCost)),
          h("dt", {}, "Created"), h("dd", {}, when(t.createdAt))),
        h("section", { class: "card decision-box", id: "decision" },
          h("h2", {}, "Decision ", h("span", { class: decisionClass(t.decisionCode) }, t.decisionCode ?? "pending")),
          t.decisionText ? h("p", {}, t.decisionText) : h("p", { class: "hint" }, "Not summarized yet."),
          evidence(t.decisionMetadata)),
        h("section", { class: "chat", id: "chat" },
          messages.length ? messages.map(message) : h("p", { class: "hint" }, t.contentExpiresAt ? "The conversation has expired (retention)." : "No messages."),
        ),
      ),
    );
  })();
  return () => {};
}
