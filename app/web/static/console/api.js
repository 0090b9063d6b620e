// The public GraphQL API, as any client uses it: POST /graphql with the key in the
// Authorization header, and graphql-transport-ws on the same path (vendored graphql-ws) with the
// key in connection_init.
import { authorization, storedKey } from "/static/shared/key.js";

const ENDPOINT = new URL("/graphql", location.href).href;
const SOCKET = ENDPOINT.replace(/^http/, "ws");
// The server closes a socket whose key it refuses with 4403 and the reason in words: retrying
// cannot help, so the client stops and the page shows the reason.
const REFUSED = 4403;

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export async function gql(query, variables = {}) {
  const key = storedKey();
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(key ? authorization(key) : {}) },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`HTTP ${response.status}`, "HTTP_ERROR");
  }
  const error = body.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code ?? "ERROR");
  return body.data;
}

let client = null;
const socketListeners = new Set();

function socket() {
  if (client) return client;
  client = graphqlWs.createClient({
    url: SOCKET,
    connectionParams: () => authorization(storedKey() ?? ""),
    lazy: true,
    retryAttempts: 20,
    shouldRetry: (event) => event?.code !== REFUSED,
    on: {
      connected: () => socketListeners.forEach((listen) => listen({ connected: true })),
      closed: (event) => {
        const problem = event?.code === REFUSED ? event.reason : null;
        socketListeners.forEach((listen) => listen({ connected: false, problem }));
      },
    },
  });
  return client;
}

export function onSocketState(listen) {
  socketListeners.add(listen);
  return () => socketListeners.delete(listen);
}

// Calls next(data) for every event; error(message) once on failure. Returns a stop function.
export function subscribe(query, variables, { next, error = () => {}, complete = () => {} }) {
  return socket().subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) error(result.errors[0].message);
        else next(result.data);
      },
      error: (failure) => error(describe(failure)),
      complete,
    },
  );
}

function describe(failure) {
  if (Array.isArray(failure)) return failure[0]?.message ?? "subscription failed";
  if (failure?.code) return `${failure.reason || "connection closed"} (${failure.code})`;
  return failure?.message ?? String(failure);
}

export function closeSocket() {
  client?.dispose();
  client = null;
}

// Admin or viewer: no field says, so ask for a mutation that changes nothing (a run that does
// not exist). The role check comes first: a viewer's key is FORBIDDEN, an admin's NOT_FOUND.
export async function detectRole() {
  try {
    await gql(`mutation { pauseRun(runId: "role-check-no-such-run") { id } }`);
    return "admin";
  } catch (error) {
    if (error.code === "FORBIDDEN") return "viewer";
    if (error.code === "UNAUTHENTICATED") throw error;
    return "admin";
  }
}

// An export (/export/...) needs the key as a header: fetched here, then saved as a file.
export async function download(path, filename) {
  const response = await fetch(path, { headers: authorization(storedKey() ?? "") });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(body.errors?.[0]?.message ?? `HTTP ${response.status}`, "EXPORT");
  }
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
