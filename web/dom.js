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

// Runs `work` with the button marked busy and relabelled; the label comes back even when `work`
// fails. The button is not `disabled`: a disabled button drops keyboard focus to the page body
// (issue 17 item 1), so it stays focusable with aria-disabled and its clicks and form submits
// are swallowed while busy (see the capture listeners below).
export async function busy(button, label, work) {
  const before = button.textContent;
  button.setAttribute("aria-disabled", "true");
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.removeAttribute("aria-disabled");
    button.removeAttribute("aria-busy");
    button.textContent = before;
  }
}

// A button marked aria-disabled (busy, or nothing to do) does nothing when pressed.
document.addEventListener(
  "click",
  (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[aria-disabled='true']") : null;
    if (button && button.dataset.explain === undefined) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);
document.addEventListener(
  "submit",
  (event) => {
    if (event.target.querySelector("[aria-busy='true']")) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);

// Moves focus to `el` (made focusable for scripts only) so a keyboard or screen-reader user
// lands on what an action produced, e.g. a message after the button that caused it went away.
export function focusOn(el) {
  if (!el || !el.isConnected) return;
  if (!el.matches("a[href], button, input, select, textarea, [tabindex]")) el.setAttribute("tabindex", "-1");
  el.focus();
}

// Gives every cell of a data table its column's name (data-label), which the phone layout
// shows in front of the value when rows are stacked as cards (styles.css, max-width 720px).
export function stackable(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  table.classList.add("stackable");
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, i) => {
      if (names[i] && !cell.hasAttribute("colspan")) cell.setAttribute("data-label", names[i]);
    });
  }
  return table;
}

// A menu button (WAI-ARIA APG "menu button" pattern): Enter, Space or ArrowDown opens it on
// the first item, ArrowUp on the last; arrows, Home and End move; Escape or Tab closes it and
// focus returns to the button. items: [{label, onSelect}]; onSelect gets the button back.
export function menuButton({ label, ariaLabel, items, className = "small" }) {
  const menuId = uniqueId("menu");
  const button = h("button", {
    type: "button",
    class: [className, "menu-button"],
    "aria-haspopup": "menu",
    "aria-expanded": "false",
    "aria-controls": menuId,
    "aria-label": ariaLabel,
  }, label, h("span", { class: "caret", "aria-hidden": "true", text: "▾" }));
  const entries = items.map((item) => h("li", { role: "none" }, h("button", { type: "button", role: "menuitem", tabindex: "-1", text: item.label })));
  const menu = h("ul", { id: menuId, role: "menu", class: "menu", "aria-label": ariaLabel ?? label, hidden: true }, entries);
  const wrap = h("div", { class: "menu-wrap" }, button, menu);
  const buttons = entries.map((li) => li.firstChild);

  function open(index) {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    buttons[(index + buttons.length) % buttons.length].focus();
  }
  function close(returnFocus = true) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (returnFocus) button.focus();
  }
  button.addEventListener("click", () => (menu.hidden ? open(0) : close()));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") open(0);
    else if (event.key === "ArrowUp") open(-1);
    else return;
    event.preventDefault();
  });
  buttons.forEach((item, i) => {
    item.addEventListener("click", () => {
      close();
      items[i].onSelect(button);
    });
    item.addEventListener("keydown", (event) => {
      const moves = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: -1 };
      if (event.key in moves) {
        event.preventDefault();
        open(moves[event.key]);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      } else if (event.key === "Tab") {
        close(false);
      }
    });
  });
  wrap.addEventListener("focusout", (event) => {
    if (!wrap.contains(event.relatedTarget)) close(false);
  });
  return { wrap, button };
}

export function time(iso) {
  if (!iso) return h("span", { class: "muted", text: "—" });
  const date = new Date(iso);
  // Short date and minutes: one line in a phone's table card (issue 17 item 6); the exact time is the title.
  const text = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  return h("time", { datetime: iso, title: iso, text });
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

export function number(n) {
  return typeof n === "number" ? n.toLocaleString() : "—";
}
