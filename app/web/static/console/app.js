// The runs console: sign in with an API key (kept in this tab's sessionStorage), then a view
// per address: #/runs, #/runs/<id>, #/transcripts/<id>, #/compare?base=…&other=…
import { forgetKey, storedKey, storeKey, checkKey, authorization } from "/static/shared/key.js";
import { closeSocket, detectRole, onSocketState } from "/static/console/api.js";
import { h, errorBox } from "/static/console/dom.js";
import { showRuns } from "/static/console/runs.js";
import { showRun } from "/static/console/run.js";
import { showTranscript } from "/static/console/transcript.js";
import { showCompare } from "/static/console/compare.js";

const view = document.getElementById("view");
const session = { role: null, stop: null };

function signInForm(problem) {
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    placeholder: "vrk_…",
    autocomplete: "off",
    required: true,
    size: "50",
  });
  const form = h(
    "form",
    { id: "sign-in", class: "card sign-in" },
    h("h1", {}, "Sign in"),
    h(
      "p",
      {},
      "Paste an API key: the one `make run` prints, or one from `valuerank api-key create`. ",
      "It stays in this browser tab (session storage) and is sent only to this server.",
    ),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    problem ? errorBox(problem) : null,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    const refused = await checkKey("/graphql", authorization(key));
    if (refused) {
      render(signInForm(refused));
      return;
    }
    storeKey(key);
    session.role = null;
    route();
  });
  return form;
}

function render(...nodes) {
  view.replaceChildren(...nodes);
}

async function ensureRole() {
  if (session.role) return session.role;
  session.role = await detectRole();
  const who = document.getElementById("who");
  who.textContent = session.role === "admin" ? "admin key" : "viewer key (read-only)";
  who.dataset.role = session.role;
  document.getElementById("sign-out").hidden = false;
  return session.role;
}

function signOut() {
  forgetKey();
  closeSocket();
  session.role = null;
  document.getElementById("who").textContent = "";
  document.getElementById("sign-out").hidden = true;
  location.hash = "#/runs";
  route();
}

async function route() {
  session.stop?.();
  session.stop = null;
  if (!storedKey()) {
    render(signInForm());
    return;
  }
  let role;
  try {
    role = await ensureRole();
  } catch (error) {
    forgetKey();
    render(signInForm(`This API key is not valid: ${error.message}`));
    return;
  }
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  const context = { role, params, render, navigate: (hash) => (location.hash = hash) };
  let stop;
  if (parts[0] === "runs" && parts[1]) stop = showRun(parts[1], context);
  else if (parts[0] === "transcripts" && parts[1]) stop = showTranscript(parts[1], context);
  else if (parts[0] === "compare") stop = showCompare(context);
  else stop = showRuns(context);
  session.stop = stop;
}

onSocketState(({ connected, problem }) => {
  // The socket opens while a page listens (a list, a running run) and closes after.
  const live = document.getElementById("live");
  live.textContent = connected ? "● live" : problem ? `⚠ ${problem}` : "";
  live.className = connected ? "live live-on" : "live";
});
document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
route();
