// GraphiQL for this server: the HTTP endpoint and the graphql-transport-ws subscriptions on
// /graphql, signed in with the key from the link `make run` prints (#key=…, a fragment the
// browser never sends) or from the runs console's sign-in (the same sessionStorage entry),
// and the README's operations as tabs (tabs.json).
import { authorization, checkKey, storedKey, storeKey } from "/static/shared/key.js";

const ENDPOINT = new URL("/graphql", location.href).href;
const SOCKET = ENDPOINT.replace(/^http/, "ws");
// GraphiQL's saved tabs (localStorage, namespace "graphiql"): a signed-in link replaces them,
// so the README's tabs open with the key in their headers.
const SAVED_TABS = ["graphiql:tabState", "graphiql:query", "graphiql:variables", "graphiql:headers"];

function keyFromLink() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (!key) return null;
  storeKey(key);
  SAVED_TABS.forEach((name) => localStorage.removeItem(name));
  history.replaceState(null, "", location.pathname + location.search); // out of the address bar
  return key;
}

function showNotice(text) {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.hidden = !text;
}

// The query's own document: GraphiQL 3 hands the fetcher the editor's last parsed document,
// which after a tab switch can be the previous tab's (a subscription then went over HTTP).
function documentOf(params) {
  try {
    return GraphiQL.GraphQL.parse(params.query);
  } catch {
    return undefined; // the server answers with the syntax error
  }
}

function isSubscription(params, documentAST) {
  const operations = (documentAST?.definitions ?? []).filter(
    (d) => d.kind === "OperationDefinition",
  );
  const chosen = operations.find((d) => d.name?.value === params.operationName) ?? operations[0];
  return chosen?.operation === "subscription";
}

function hasAuthorization(headers) {
  return Object.keys(headers).some((name) => name.toLowerCase() === "authorization");
}

// GraphiQL's own fetcher, with two additions: a tab without an Authorization header uses the
// signed-in key; and a subscription's key is checked over HTTP first, so a refused key is one
// readable error at once (graphql-ws would otherwise retry a refused socket for ~40 s).
function makeFetcher() {
  const base = GraphiQL.createFetcher({ url: ENDPOINT, subscriptionUrl: SOCKET });
  return async (params, options = {}) => {
    const headers = { ...(options.headers ?? {}) };
    const key = storedKey();
    if (!hasAuthorization(headers) && key) Object.assign(headers, authorization(key));
    const documentAST = params.query ? documentOf(params) : options.documentAST;
    if (isSubscription(params, documentAST)) {
      const problem = await checkKey(ENDPOINT, headers);
      if (problem) return { errors: [{ message: problem }] };
    }
    return base(params, { ...options, headers, documentAST });
  };
}

function headersFor(key) {
  return key ? JSON.stringify(authorization(key), null, 2) : undefined;
}

async function defaultTabs(key) {
  const response = await fetch("/static/graphiql/tabs.json");
  const tabs = await response.json();
  const headers = headersFor(key);
  return tabs.map((tab) => ({
    query: tab.query,
    variables: tab.variables ? JSON.stringify(tab.variables, null, 2) : undefined,
    headers,
  }));
}

async function main() {
  const key = keyFromLink() ?? storedKey();
  if (key) {
    checkKey(ENDPOINT, authorization(key)).then((problem) => showNotice(problem ?? ""));
  } else {
    showNotice(
      'No API key yet: add {"Authorization": "Bearer <key>"} in the Headers tab, ' +
        "or open the signed-in link `make run` prints.",
    );
  }
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: makeFetcher(),
      defaultTabs: await defaultTabs(key),
      // GraphiQL 3 fills the first tab's headers editor from this, not from defaultTabs[0];
      // a new tab (+) starts with it too.
      defaultHeaders: headersFor(key),
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    }),
  );
}

main();
