// A small inline SVG line chart: matched profiles of the succeeded evaluations, oldest to newest.

import { h, svg, uniqueId } from "./dom.js";

// The drawing is sized in CSS pixels of the box it goes in (at least MIN_WIDTH), so 14px
// labels stay 14px on a phone instead of shrinking with a 1040-wide drawing.
const MAX_WIDTH = 1040;
const MIN_WIDTH = 300;
const HEIGHT = 230;
const MARGIN = { top: 16, right: 24, bottom: 34, left: 56 };

function niceCeiling(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function shortTime(ms) {
  return new Date(ms).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// evaluations: as GET .../evaluations lists them; boxWidth: the width in CSS px of the box
// the chart goes in (0 when unknown: the full width is drawn).
export function matchedChart(evaluations, boxWidth = 0) {
  const WIDTH = boxWidth > 0 ? Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, boxWidth - 32))) : MAX_WIDTH;
  const points = evaluations
    .filter((e) => e.status === "SUCCEEDED" && typeof e.matchedProfiles === "number")
    .map((e) => ({ t: Date.parse(e.finishedAt || e.startedAt), v: e.matchedProfiles, trigger: e.trigger }))
    .filter((p) => Number.isFinite(p.t))
    .sort((a, b) => a.t - b.t);
  if (points.length === 0) {
    return h("p", { class: "muted chart-empty", text: "The chart appears after the first successful evaluation." });
  }
  const innerW = WIDTH - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const t0 = points[0].t;
  const t1 = points[points.length - 1].t;
  const top = niceCeiling(Math.max(...points.map((p) => p.v)));
  const x = (t) => MARGIN.left + (t1 === t0 ? innerW / 2 : ((t - t0) / (t1 - t0)) * innerW);
  const y = (v) => MARGIN.top + innerH - (v / top) * innerH;

  const titleId = uniqueId("chart-title");
  const descId = uniqueId("chart-desc");
  const first = points[0].v;
  const last = points[points.length - 1].v;
  const description =
    points.length === 1
      ? `One evaluation: ${last.toLocaleString()} matched profiles.`
      : `${points.length} evaluations, from ${first.toLocaleString()} to ${last.toLocaleString()} matched profiles.`;

  const grid = [0, top / 2, top].map((v) => [
    svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(v), y2: y(v), class: "chart-grid" }),
    svg("text", { x: MARGIN.left - 8, y: y(v) + 4, "text-anchor": "end", class: "chart-label" }, Math.round(v).toLocaleString()),
  ]);
  const xLabels =
    points.length === 1
      ? [svg("text", { x: x(t0), y: HEIGHT - 10, "text-anchor": "middle", class: "chart-label" }, shortTime(t0))]
      : [
          svg("text", { x: x(t0), y: HEIGHT - 10, "text-anchor": "start", class: "chart-label" }, shortTime(t0)),
          svg("text", { x: x(t1), y: HEIGHT - 10, "text-anchor": "end", class: "chart-label" }, shortTime(t1)),
        ];
  const line =
    points.length > 1
      ? svg("polyline", { points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" "), class: "chart-line" })
      : null;
  const dots = points.map((p) =>
    svg(
      "circle",
      { cx: x(p.t), cy: y(p.v), r: 4.5, class: "chart-dot" },
      svg("title", {}, `${shortTime(p.t)}: ${p.v.toLocaleString()} matched profiles (${p.trigger})`),
    ),
  );

  return h(
    "figure",
    { class: "chart" },
    svg(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, class: "chart-svg" },
      svg("title", { id: titleId }, "Matched profiles over time"),
      svg("desc", { id: descId }, description),
      grid,
      line,
      dots,
      xLabels,
    ),
    h("figcaption", { class: "muted", text: `Matched profiles over time. ${description}` }),
  );
}
