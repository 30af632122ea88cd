/**
 * `toSVG(machine)`: the statechart drawn as a standalone SVG document, rendered in Node (ELK lays
 * it out, see layout.ts; no browser, no network). The README, `session-actors viz --format svg`
 * and the dashboard all show this output.
 *
 * Rules (guarded by test/viz/svg.test.ts):
 * 1. Every transition of the machine is visible as text: an edge label (`data-label` on its
 *    `.sc-transition` group) or a row inside its source state (`.sc-internal`, UML's
 *    `event [guard] / actions` notation for internal transitions). Re-entering self-transitions
 *    are loops drawn on the state.
 * 2. Every state is a `<g class="sc-state" data-state="<full id>">`, so a page can highlight the
 *    current state of each region by its id (class `sc-active`).
 * 3. All text is XML-escaped; the document is well-formed and carries its own styles.
 * 4. Deterministic: the same machine gives the same bytes.
 */
import type { AnyStateMachine } from 'xstate';
import { toJSON } from './json.js';
import {
  FONT,
  layoutStatechart,
  textWidth,
  type PlacedEdge,
  type PlacedState,
  type StatechartLayout,
} from './layout.js';

const esc = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

const n = (v: number): string => String(Math.round(v * 10) / 10);

const STYLE = `
.sc-root { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace; }
.sc-state > rect { fill: #ffffff; stroke: #475569; stroke-width: 1.2; }
.sc-state.sc-compound > rect { fill: #f8fafc; }
.sc-state.sc-region > rect { fill: #f1f5f9; stroke-dasharray: 6 4; }
.sc-state.sc-parallel > rect { fill: #ffffff; }
.sc-state.sc-active > rect { fill: #fef3c7; stroke: #d97706; stroke-width: 2.5; }
.sc-state.sc-active > .sc-title { fill: #92400e; }
.sc-title { font-size: ${FONT.title}px; font-weight: 600; fill: #0f172a; }
.sc-internal, .sc-invoke { font-size: ${FONT.row}px; fill: #334155; }
.sc-invoke { fill: #6d28d9; }
.sc-transition > path { fill: none; stroke: #64748b; stroke-width: 1.2; }
.sc-transition.sc-reenter > path { stroke-dasharray: 4 3; }
.sc-label > rect { fill: #ffffff; fill-opacity: 0.92; stroke: none; }
.sc-label > text { font-size: ${FONT.label}px; fill: #1e293b; }
.sc-initial { fill: #0f172a; }
.sc-initial-edge > path { fill: none; stroke: #0f172a; stroke-width: 1.2; }
.sc-rule { stroke: #cbd5e1; stroke-width: 1; }
.sc-legend { font-size: ${FONT.row}px; fill: #475569; }
`;

const LEGEND_LINE = 16;

/** The legend lines that apply to this drawing. */
function legendLines(layout: StatechartLayout): string[] {
  const lines: string[] = [];
  if (layout.states.some((s) => s.rows.some((r) => r.kind === 'internal'))) {
    lines.push('event [guard] / actions inside a state: internal transition (the state is not exited)');
  }
  if (layout.edges.some((e) => e.transition !== null && e.source === e.target)) {
    lines.push('dashed loop: re-entering self-transition (the state is exited and entered again)');
  }
  lines.push('filled dot: initial state; double border: final state; dashed box: parallel region');
  return lines;
}

function stateClass(s: PlacedState, hasChildren: boolean): string {
  const classes = ['sc-state', `sc-${s.type}`];
  if (hasChildren) classes.push('sc-compound');
  if (s.region) classes.push('sc-region');
  return classes.join(' ');
}

function drawState(s: PlacedState, hasChildren: boolean): string {
  const parts: string[] = [];
  const attrs = `class="${stateClass(s, hasChildren)}" data-state="${esc(s.id)}"`;
  if (s.type === 'history') {
    const r = Math.min(s.width, s.height) / 2;
    parts.push(`<g ${attrs}>`);
    parts.push(`<circle cx="${n(s.x + r)}" cy="${n(s.y + r)}" r="${n(r)}" fill="#fff" stroke="#475569"/>`);
    parts.push(
      `<text class="sc-title" x="${n(s.x + r)}" y="${n(s.y + r + 4)}" text-anchor="middle">${esc(s.title.text)}</text>`,
    );
    parts.push('</g>');
    return parts.join('');
  }
  const radius = hasChildren ? 8 : 10;
  parts.push(`<g ${attrs}>`);
  parts.push(
    `<rect x="${n(s.x)}" y="${n(s.y)}" width="${n(s.width)}" height="${n(s.height)}" rx="${radius}" ry="${radius}"/>`,
  );
  if (s.type === 'final') {
    parts.push(
      `<rect x="${n(s.x + 4)}" y="${n(s.y + 4)}" width="${n(s.width - 8)}" height="${n(s.height - 8)}" rx="7" ry="7" fill="none" stroke="#475569"/>`,
    );
  }
  parts.push(`<text class="sc-title" x="${n(s.title.x)}" y="${n(s.title.y + 15)}">${esc(s.title.text)}</text>`);
  if (s.rows.length > 0 && !hasChildren) {
    const y = s.title.y + s.title.height + 1;
    parts.push(`<path class="sc-rule" d="M${n(s.x)} ${n(y)} H${n(s.x + s.width)}"/>`);
  }
  for (const row of s.rows) {
    const cls = row.kind === 'invoke' ? 'sc-invoke' : 'sc-internal';
    const data =
      row.transition === null
        ? ''
        : ` data-source="${esc(s.id)}" data-label="${esc(row.transition.label)}" data-event="${esc(row.transition.event)}"`;
    parts.push(
      `<text class="${cls}"${data} x="${n(row.x)}" y="${n(row.y + 11)}" data-box="${n(row.x)} ${n(row.y)} ${n(row.width)} ${n(row.height)}">${esc(row.text)}</text>`,
    );
  }
  parts.push('</g>');
  return parts.join('');
}

function pathOf(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(p.x)} ${n(p.y)}`).join(' ');
}

function drawEdge(e: PlacedEdge): string {
  if (e.transition === null) {
    return `<g class="sc-initial-edge" data-target="${esc(e.target)}"><path d="${pathOf(e.points)}" marker-end="url(#sc-arrow)"/></g>`;
  }
  const t = e.transition;
  const classes = ['sc-transition', `sc-${t.kind}`];
  if (e.source === e.target) classes.push('sc-reenter');
  const parts = [
    `<g class="${classes.join(' ')}" data-source="${esc(e.source)}" data-target="${esc(e.target)}" data-event="${esc(t.event)}" data-label="${esc(t.label)}">`,
    `<path d="${pathOf(e.points)}" marker-end="url(#sc-arrow)"/>`,
  ];
  if (e.label !== null) {
    const l = e.label;
    parts.push(
      `<g class="sc-label"><rect x="${n(l.x)}" y="${n(l.y)}" width="${n(l.width)}" height="${n(l.height)}"/>`,
      `<text x="${n(l.x + 4)}" y="${n(l.y + 11)}">${l.lines
        .map((line, i) => (i === 0 ? esc(line) : `<tspan x="${n(l.x + 4)}" dy="15">${esc(line)}</tspan>`))
        .join('')}</text></g>`,
    );
  }
  parts.push('</g>');
  return parts.join('');
}

/** Renders a computed layout as an SVG document (see `layoutStatechart`). */
export function renderSVG(layout: StatechartLayout): string {
  const legend = legendLines(layout);
  const width = Math.max(layout.width, ...legend.map((l) => textWidth(l, FONT.row) + 20));
  const height = layout.height + 8 + legend.length * LEGEND_LINE;
  const parents = new Set(layout.states.map((s) => s.parent).filter((p): p is string => p !== null));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="sc-root" data-machine="${esc(layout.machineId)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<style>${STYLE}</style>`,
    '<defs><marker id="sc-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#64748b"/></marker></defs>',
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  for (const s of layout.states) out.push(drawState(s, parents.has(s.id)));
  for (const i of layout.initials) {
    out.push(
      `<circle class="sc-initial" data-initial-of="${esc(i.parent)}" cx="${n(i.cx)}" cy="${n(i.cy)}" r="${n(i.r / 1.5)}"/>`,
    );
  }
  for (const e of layout.edges) if (e.transition === null) out.push(drawEdge(e));
  for (const e of layout.edges) if (e.transition !== null) out.push(drawEdge(e));
  out.push('<g class="sc-legend">');
  legend.forEach((line, i) => out.push(`<text x="10" y="${layout.height + 14 + i * LEGEND_LINE}">${esc(line)}</text>`));
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Renders `machine` as an SVG statechart, offline: compound states contain their children,
 * parallel regions are dashed boxes, every transition label is placed without overlap, internal
 * transitions are listed inside their state, and every state carries `data-state="<full id>"`.
 *
 * @example
 * writeFileSync('session.svg', await toSVG(sessionMachine));
 */
export async function toSVG(machine: AnyStateMachine): Promise<string> {
  return renderSVG(await layoutStatechart(toJSON(machine)));
}
