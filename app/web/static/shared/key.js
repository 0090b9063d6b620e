// The API key a browser tab signed in with, kept in sessionStorage (gone when the tab closes;
// shared by the runs console and GraphiQL on this origin), and a cheap check of a key.
const STORAGE = "valuerank.apiKey";

export function storedKey() {
  return sessionStorage.getItem(STORAGE);
}

export function storeKey(key) {
  sessionStorage.setItem(STORAGE, key.trim());
}

export function forgetKey() {
  sessionStorage.removeItem(STORAGE);
}

export function authorization(key) {
  return { Authorization: `Bearer ${key.trim()}` };
}

// null when the server accepts these headers' key; else the reason, in words.
export async function checkKey(endpoint, headers) {
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
  } catch (error) {
    return `The server cannot be reached (${error.message}).`;
  }
  if (response.ok) return null;
  let message = `HTTP ${response.status}`;
  try {
    message = (await response.json()).errors?.[0]?.message ?? message;
  } catch {
    // not JSON: keep the status
  }
  return response.status === 401 ? `This API key is not valid: ${message}` : message;
}
