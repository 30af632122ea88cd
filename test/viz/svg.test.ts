import { describe, expect, it } from 'vitest';
import { createMachine, type AnyStateMachine } from 'xstate';
import { registryMachine, sessionMachine } from '../../machines/index.js';
import { layoutStatechart, textWidth, FONT, type Box } from '../../src/viz/layout.js';
import { toSVG } from '../../src/viz/svg.js';
import { toJSON, type StateJSON } from '../../src/viz/json.js';
import { describeTransitions } from '../../src/viz/transitions.js';
import { allStateNodes, oddMachine } from './fixtures.js';

const MACHINES = [
  ['session', sessionMachine],
  ['registry', registryMachine],
  ['odd', oddMachine],
] as [string, AnyStateMachine][];

const unescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

const attr = (tag: string, name: string): string | undefined => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m === null ? undefined : unescape(m[1]!);
};

/** Start tags of elements whose class list contains `cls`. */
const tagsWithClass = (svg: string, cls: string): string[] =>
  [...svg.matchAll(/<[a-z]+\b[^>]*>/g)]
    .map((m) => m[0])
    .filter((t) => (attr(t, 'class') ?? '').split(' ').includes(cls));

/** Label boxes as drawn: edge label backgrounds and internal transition rows. */
function labelBoxes(svg: string): (Box & { what: string })[] {
  const boxes: (Box & { what: string })[] = [];
  for (const m of svg.matchAll(
    /<g class="sc-label"><rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)"\/>\s*<text[^>]*>([^<]*)</g,
  )) {
    boxes.push({ x: +m[1]!, y: +m[2]!, width: +m[3]!, height: +m[4]!, what: `edge label ${unescape(m[5]!)}` });
  }
  for (const tag of [...tagsWithClass(svg, 'sc-internal'), ...tagsWithClass(svg, 'sc-invoke')]) {
    const [x, y, width, height] = (attr(tag, 'data-box') ?? '').split(' ').map(Number);
    boxes.push({ x: x!, y: y!, width: width!, height: height!, what: `row ${attr(tag, 'data-label') ?? 'invoke'}` });
  }
  return boxes;
}

const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

const inside = (inner: Box, outer: Box) =>
  inner.x >= outer.x - 0.5 &&
  inner.y >= outer.y - 0.5 &&
  inner.x + inner.width <= outer.x + outer.width + 0.5 &&
  inner.y + inner.height <= outer.y + outer.height + 0.5;

describe('toSVG', () => {
  it.each(MACHINES)('shows every transition of the %s machine as text, exactly once', async (_name, machine) => {
    const svg = await toSVG(machine);
    const drawn = tagsWithClass(svg, 'sc-transition').map(
      (t) => `${attr(t, 'data-source')} -> ${attr(t, 'data-target')} : ${attr(t, 'data-label')}`,
    );
    const rows = tagsWithClass(svg, 'sc-internal').map((t) => `${attr(t, 'data-source')} : ${attr(t, 'data-label')}`);
    const expectedEdges: string[] = [];
    const expectedRows: string[] = [];
    for (const node of allStateNodes(machine)) {
      for (const t of describeTransitions(node)) {
        if (t.internal) expectedRows.push(`${node.id} : ${t.label}`);
        else for (const target of t.targets) expectedEdges.push(`${node.id} -> ${target} : ${t.label}`);
      }
    }
    expect(drawn.sort()).toEqual(expectedEdges.sort());
    expect(rows.sort()).toEqual(expectedRows.sort());
    // The text itself is there, not only the data attributes (a long label wraps its guard).
    const texts = [...svg.matchAll(/<g class="sc-label">[^]*?<text[^>]*>(.*?)<\/text>/g)].map((m) =>
      unescape(m[1]!.replace(/<tspan[^>]*>/g, ' ').replace(/<\/tspan>/g, '')),
    );
    expect(texts.sort()).toEqual(expectedEdges.map((e) => e.slice(e.indexOf(' : ') + 3)).sort());
  });

  it.each(MACHINES)('draws no two labels of the %s machine over each other', async (_name, machine) => {
    const boxes = labelBoxes(await toSVG(machine));
    expect(boxes.length).toBeGreaterThan(0);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        expect(overlaps(boxes[i]!, boxes[j]!), `${boxes[i]!.what} overlaps ${boxes[j]!.what}`).toBe(false);
      }
    }
  });

  it.each(MACHINES)('keeps edge labels of the %s machine off every leaf state', async (_name, machine) => {
    const layout = await layoutStatechart(toJSON(machine));
    const leaves = layout.states.filter((s) => !layout.states.some((c) => c.parent === s.id));
    for (const e of layout.edges) {
      if (e.label === null) continue;
      for (const s of leaves) expect(overlaps(e.label, s), `${e.label.text} over ${s.id}`).toBe(false);
    }
  });

  it.each(MACHINES)('gives the text of the %s machine the room it is measured for', async (_name, machine) => {
    const layout = await layoutStatechart(toJSON(machine));
    const byId = new Map(layout.states.map((s) => [s.id, s] as const));
    for (const s of layout.states) {
      if (s.parent !== null) expect(inside(s, byId.get(s.parent)!), `${s.id} inside ${s.parent}`).toBe(true);
      for (const row of s.rows) {
        expect(row.width).toBe(textWidth(row.text, FONT.row));
        expect(inside(row, s), `row ${row.text} inside ${s.id}`).toBe(true);
      }
      if (s.type !== 'history') expect(inside(s.title, s), `title of ${s.id}`).toBe(true);
    }
    for (const e of layout.edges) {
      if (e.label === null) continue;
      for (const line of e.label.lines) expect(e.label.width).toBeGreaterThanOrEqual(textWidth(line, FONT.label));
      expect(e.label.height).toBeGreaterThanOrEqual(e.label.lines.length * FONT.label);
      expect(e.label.lines.join(' ')).toBe(e.label.text);
      expect(e.points.length).toBeGreaterThanOrEqual(2);
    }
  });

  it('marks every state with its full id, so a page can highlight it', async () => {
    const svg = await toSVG(sessionMachine);
    const ids = tagsWithClass(svg, 'sc-state').map((t) => attr(t, 'data-state'));
    expect(ids).toEqual(allStateNodes(sessionMachine).map((n) => n.id));
    expect(ids).toContain('session.container.running');
    expect(ids).toContain('session.mailbox.committing');
  });

  it('draws parallel regions as boxes inside their parallel state, and re-entering self-loops as edges', async () => {
    const layout = await layoutStatechart(toJSON(sessionMachine));
    const regions = layout.states.filter((s) => s.region).map((s) => s.id);
    expect(regions).toEqual(['session.container', 'session.poller', 'session.mailbox']);
    const loops = layout.edges.filter((e) => e.transition !== null && e.source === e.target);
    expect(loops.map((e) => `${e.source} ${e.transition!.label}`)).toEqual([
      'session.poller.polling after(pollMs) [containerLive]',
      'session.mailbox.idle session.quietCheck',
    ]);
    // One initial marker per compound state with an initial child.
    const compounds = (s: StateJSON): StateJSON[] => [
      ...(s.initial !== null ? [s] : []),
      ...s.states.flatMap(compounds),
    ];
    expect(layout.initials.map((i) => i.parent)).toEqual(compounds(toJSON(sessionMachine).root).map((s) => s.id));
  });

  it('escapes every piece of text and stays well-formed', async () => {
    const machine = createMachine({
      id: 'x<&>',
      initial: 'a "quoted" state',
      states: {
        'a "quoted" state': { on: { "it's <b>&go": 'b&b' } },
        'b&b': { on: { '</text><script>': { actions: 'x<y' } } },
      },
    });
    const svg = await toSVG(machine);
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('it&#39;s &lt;b&gt;&amp;go');
    expect(svg).toContain('&lt;/text&gt;&lt;script&gt; / x&lt;y');
    // Tags balance: every opened element is closed in order.
    const stack: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)\b[^>]*?(\/?)>/g)) {
      if (m[3] === '/') continue;
      if (m[1] === '/') expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
  });

  it('is deterministic: the same machine gives the same bytes', async () => {
    expect(await toSVG(sessionMachine)).toBe(await toSVG(sessionMachine));
  });
});
