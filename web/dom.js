// Small DOM helpers: elements are built with h(), never from HTML strings, so API text is always text.

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden", "indeterminate"]);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  return assign(el, props, children);
}

export function svg(tag, props = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  return assign(el, props, children);
}

function assign(el, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "text") {
      el.textContent = value;
    } else if (PROPERTIES.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
export function uniqueId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

export function loading(text) {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function notice(kind, sentence, detail) {
  return h(
    "div",
    { class: ["notice", `notice-${kind}`], role: kind === "error" ? "alert" : "status" },
    h("p", { class: "notice-text", text: sentence }),
    detail ? h("p", { class: "notice-detail", text: detail }) : null,
  );
}

// Runs `work` with the button disabled and relabelled; the label comes back even when `work` fails.
export async function busy(button, label, work) {
  const before = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = before;
  }
}

export function time(iso) {
  if (!iso) return h("span", { class: "muted", text: "—" });
  const date = new Date(iso);
  const text = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return h("time", { datetime: iso, title: iso, text });
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

export function number(n) {
  return typeof n === "number" ? n.toLocaleString() : "—";
}
