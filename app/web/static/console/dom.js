// Building the page with DOM calls (text is never parsed as HTML) and formatting values.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function money(value) {
  if (value === null || value === undefined) return "—";
  return value < 0.01 && value > 0 ? `$${value.toFixed(5)}` : `$${value.toFixed(4)}`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "—";
  const total = Math.round(value);
  if (total < 60) return `${total}s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes}m ${total % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function statusBadge(status) {
  return h("span", { class: `status status-${(status ?? "").toLowerCase()}` }, status ?? "—");
}

export const DECISION_CODES = ["1", "2", "3", "4", "5", "other"];

export function decisionClass(code) {
  if (code === null || code === undefined) return "decision decision-none";
  return `decision decision-${DECISION_CODES.includes(code) ? code : "other"}`;
}

export function progressBar(percent, label) {
  const clamped = Math.max(0, Math.min(100, percent ?? 0));
  return h(
    "div",
    {
      class: "progress",
      role: "progressbar",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": clamped.toFixed(0),
      "aria-label": label,
    },
    h("div", { class: "progress-fill", style: `width: ${clamped}%` }),
    h("span", { class: "progress-text" }, `${clamped.toFixed(0)}%`),
  );
}

export function errorBox(message) {
  return h("div", { class: "error", role: "alert" }, message);
}

export function shortId(id) {
  return id ? `${id.slice(0, 8)}…` : "—";
}

export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
