/**
 * `layoutStatechart(json)`: places the states and transitions of a machine (its `toJSON` form)
 * with ELK's layered algorithm, so the SVG renderer only has to draw boxes, lines and text.
 *
 * Rules (guarded by test/viz/svg.test.ts):
 * 1. Every transition is placed exactly once: an edge with its own label box (ELK places edge
 *    labels as part of the layout, so two labels never overlap), or, when it is internal
 *    (`TransitionInfo.internal`: it never exits its source), a row inside its source state's box.
 *    A re-entering self-transition is an edge from the state to itself.
 * 2. Compound states contain their children; the regions of a parallel state are boxes inside it.
 *    A state's title and rows sit in a header that ELK keeps clear of its children.
 * 3. Text is measured for a monospace font (advance 0.6 em, the width of every common monospace
 *    face), so the layout is computed without a browser and the text fits where it is drawn.
 * 4. Deterministic: definition order is the model order given to ELK, whose random seed is fixed;
 *    the same machine gives the same layout.
 * 5. Compact enough to read on a screen: small compounds flow left to right, large ones (and the
 *    regions of a parallel state) top to bottom, and a long guarded label wraps its guard.
 */
import elkBundle from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineJSON, StateJSON } from './json.js';
import type { TransitionInfo } from './transitions.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A line of text inside a state's header: an invoked actor or an internal transition. */
export interface StateRow extends Box {
  kind: 'invoke' | 'internal';
  text: string;
  /** The internal transition the row shows (`null` for an invoke row). */
  transition: TransitionInfo | null;
}

export interface PlacedState extends Box {
  id: string;
  key: string;
  type: StateJSON['type'];
  /** Full id of the parent state; `null` for the machine itself. */
  parent: string | null;
  /** Whether the parent is a parallel state (this state is one of its regions). */
  region: boolean;
  /** Nesting depth: 0 for the machine itself. */
  depth: number;
  title: Box & { text: string };
  rows: StateRow[];
}

export interface PlacedEdge {
  /** Full id of the source state. */
  source: string;
  /** Full id of the target state (`null` for the arrow from an initial-state marker). */
  target: string;
  /** Index of the transition in its source state's `transitions`, `null` for initial arrows. */
  index: number | null;
  transition: TransitionInfo | null;
  /** The polyline from source to target; the last point touches the target. */
  points: { x: number; y: number }[];
  /** The label box; `lines` is the text as drawn, one entry per line. */
  label: (Box & { text: string; lines: string[] }) | null;
}

/** The filled dot that points at a compound state's initial child. */
export interface InitialMarker {
  /** Full id of the compound state. */
  parent: string;
  cx: number;
  cy: number;
  r: number;
}

export interface StatechartLayout {
  machineId: string;
  width: number;
  height: number;
  /** Every state, parents before their children, in definition order. */
  states: PlacedState[];
  edges: PlacedEdge[];
  initials: InitialMarker[];
}

/** Font sizes (px) the renderer must use for the measurements to hold. */
export const FONT = { title: 13, row: 11, label: 11 } as const;
const ADVANCE = 0.6;
const LINE = { title: 20, row: 15, label: 15 } as const;
const PAD = { x: 10, y: 6, compound: 12 } as const;
const MARKER = 12;
/** Compound states with at least this many children flow top to bottom instead of left to right. */
const DOWN_FROM = 5;
/** Labels longer than this (characters) wrap their guard onto a second line. */
const WRAP_AT = 24;

export const textWidth = (text: string, size: number): number => Math.ceil(text.length * size * ADVANCE);

/** An edge label's lines: a long guarded label puts its guard on a second line. */
export function labelLines(t: TransitionInfo): string[] {
  const guard = t.guard === null ? '' : ` [${t.guard}]`;
  if (guard === '' || t.label.length <= WRAP_AT || !t.label.endsWith(guard)) return [t.label];
  return [t.label.slice(0, -guard.length), guard.trim()];
}

/** The text of a header row for an internal transition: `event [guard] / actions` (UML notation). */
export function internalRowText(t: TransitionInfo, targetKeys: string[]): string {
  let text = t.label;
  if (t.actions.length > 0) text += ` / ${t.actions.join(', ')}`;
  if (targetKeys.length > 0) text += ` -> ${targetKeys.join(', ')}`;
  return text;
}

interface Prepared {
  state: StateJSON;
  parent: StateJSON | null;
  depth: number;
  title: string;
  rows: { kind: 'invoke' | 'internal'; text: string; transition: TransitionInfo | null }[];
  headerWidth: number;
  headerHeight: number;
}

const titleOf = (s: StateJSON): string => (s.type === 'history' ? 'H' : s.key);

function prepare(root: StateJSON): Map<string, Prepared> {
  const byId = new Map<string, StateJSON>();
  const walk = (s: StateJSON) => {
    byId.set(s.id, s);
    s.states.forEach(walk);
  };
  walk(root);
  const out = new Map<string, Prepared>();
  const visit = (s: StateJSON, parent: StateJSON | null, depth: number) => {
    const rows: Prepared['rows'] = s.invoke.map((inv) => ({
      kind: 'invoke' as const,
      text: `invoke ${inv.src}`,
      transition: null,
    }));
    for (const t of s.transitions) {
      if (!t.internal) continue;
      const keys = t.targets.filter((id) => id !== s.id).map((id) => byId.get(id)?.key ?? id);
      rows.push({ kind: 'internal', text: internalRowText(t, keys), transition: t });
    }
    const title = titleOf(s);
    const headerWidth = Math.max(textWidth(title, FONT.title), ...rows.map((r) => textWidth(r.text, FONT.row)));
    const headerHeight = LINE.title + rows.length * LINE.row + (rows.length > 0 ? 4 : 0);
    out.set(s.id, { state: s, parent, depth, title, rows, headerWidth, headerHeight });
    for (const child of s.states) visit(child, s, depth + 1);
  };
  visit(root, null, 0);
  return out;
}

/** Lowest common ancestor (full id) of two states given the parent map. */
function commonAncestor(a: string, b: string, parents: Map<string, string | null>): string | null {
  const chain = new Set<string>();
  for (let n: string | null = a; n !== null; n = parents.get(n) ?? null) chain.add(n);
  for (let n: string | null = b; n !== null; n = parents.get(n) ?? null) if (chain.has(n)) return n;
  return null;
}

/**
 * ELK options of every compound state (ELK does not inherit options from a parent): layered,
 * left to right, orthogonal edges, labels placed by ELK, definition order kept where it can be.
 */
const LAYERED: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.layered.edgeLabels.sideSelection': 'SMART_DOWN',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.considerModelOrder.components': 'MODEL_ORDER',
  'elk.layered.cycleBreaking.strategy': 'MODEL_ORDER',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.spacing.nodeNode': '28',
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.edgeLabel': '4',
  'elk.spacing.edgeEdge': '12',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '10',
  'elk.spacing.edgeNode': '14',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.randomSeed': '1',
  'elk.json.edgeCoords': 'ROOT',
  'elk.json.shapeCoords': 'ROOT',
};

// elk.bundled.js is CommonJS: its module object is the constructor, which also carries itself as
// `default` (the only form the type declarations describe under NodeNext).
const ELK = elkBundle.default;

const initialId = (stateId: string) => `${stateId}#initial`;
const edgeId = (source: string, index: number, target: number) => `${source}#t${index}>${target}`;

/**
 * Lays out `json` (from `toJSON(machine)`). Resolves with absolute coordinates for every state,
 * header row, edge and label; the top-left corner of the drawing is (0, 0).
 */
export async function layoutStatechart(json: MachineJSON): Promise<StatechartLayout> {
  const prepared = prepare(json.root);
  const parents = new Map<string, string | null>();
  for (const p of prepared.values()) parents.set(p.state.id, p.parent?.id ?? null);

  const elkNodes = new Map<string, ElkNode>();
  const buildNode = (s: StateJSON): ElkNode => {
    const p = prepared.get(s.id) as Prepared;
    const node: ElkNode = { id: s.id, layoutOptions: {} };
    elkNodes.set(s.id, node);
    if (s.states.length === 0) {
      if (s.type === 'history') {
        node.width = node.height = 28;
      } else {
        node.width = p.headerWidth + 2 * PAD.x + (s.type === 'final' ? 8 : 0);
        node.height = p.headerHeight + 2 * PAD.y + (s.type === 'final' ? 8 : 0);
      }
      return node;
    }
    const children: ElkNode[] = [];
    if (s.initial !== null) children.push({ id: initialId(s.id), width: MARKER, height: MARKER });
    for (const child of s.states) children.push(buildNode(child));
    node.children = children;
    node.edges = [];
    node.layoutOptions = {
      ...LAYERED,
      'elk.padding': `[top=${p.headerHeight + PAD.compound},left=${PAD.compound},bottom=${PAD.compound},right=${PAD.compound}]`,
      'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      'elk.nodeSize.minimum': `(${p.headerWidth + 2 * PAD.compound}, ${p.headerHeight + 2 * PAD.compound})`,
    };
    // Regions of a parallel state stack top to bottom; so do the states of a large compound, whose
    // left-to-right chain of labelled edges would grow too wide to read at any screen's width.
    if (s.type === 'parallel' || s.states.length >= DOWN_FROM) node.layoutOptions['elk.direction'] = 'DOWN';
    return node;
  };
  const root = buildNode(json.root);

  const edgeInfo = new Map<string, PlacedEdge>();
  const addEdge = (container: string | null, edge: ElkExtendedEdge, placed: PlacedEdge) => {
    const owner = elkNodes.get(container ?? json.root.id) ?? root;
    (owner.edges ??= []).push(edge);
    edgeInfo.set(edge.id, placed);
  };
  for (const p of prepared.values()) {
    const s = p.state;
    if (s.initial !== null) {
      addEdge(
        s.id,
        { id: `${initialId(s.id)}>`, sources: [initialId(s.id)], targets: [s.initial] },
        { source: s.id, target: s.initial, index: null, transition: null, points: [], label: null },
      );
    }
    s.transitions.forEach((t, index) => {
      if (t.internal) return;
      t.targets.forEach((target, j) => {
        const lca = target === s.id ? (parents.get(s.id) ?? null) : commonAncestor(s.id, target, parents);
        // An edge lives in the parent of the lowest common ancestor when that is one of its ends.
        const container = lca === s.id || lca === target ? (parents.get(lca) ?? null) : lca;
        const lines = labelLines(t);
        const width = Math.max(...lines.map((line) => textWidth(line, FONT.label))) + 8;
        addEdge(
          container,
          {
            id: edgeId(s.id, index, j),
            sources: [s.id],
            targets: [target],
            labels: [
              { id: `${edgeId(s.id, index, j)}:label`, text: t.label, width, height: lines.length * LINE.label },
            ],
          },
          { source: s.id, target, index, transition: t, points: [], label: null },
        );
      });
    });
  }

  const graph: ElkNode = {
    id: '#graph',
    layoutOptions: { ...LAYERED, 'elk.padding': '[top=8,left=8,bottom=8,right=8]' },
    children: [root],
  };

  const elk = new ELK();
  const laidOut = await elk.layout(graph);

  const states: PlacedState[] = [];
  const initials: InitialMarker[] = [];
  const edges: PlacedEdge[] = [];
  const visitNode = (node: ElkNode) => {
    const x = node.x ?? 0;
    const y = node.y ?? 0;
    const width = node.width ?? 0;
    const height = node.height ?? 0;
    if (node.id.endsWith('#initial')) {
      initials.push({
        parent: node.id.slice(0, -'#initial'.length),
        cx: x + width / 2,
        cy: y + height / 2,
        r: width / 2,
      });
    } else if (node.id !== '#graph') {
      const p = prepared.get(node.id) as Prepared;
      const inset = p.state.states.length > 0 ? PAD.compound : PAD.x;
      const top = y + (p.state.states.length > 0 ? 4 : PAD.y) + (p.state.type === 'final' ? 4 : 0);
      const left = x + inset + (p.state.type === 'final' ? 4 : 0);
      states.push({
        id: node.id,
        key: p.state.key,
        type: p.state.type,
        parent: p.parent?.id ?? null,
        region: p.parent?.type === 'parallel',
        depth: p.depth,
        x,
        y,
        width,
        height,
        title:
          p.state.type === 'history'
            ? { text: p.title, x, y, width, height }
            : { text: p.title, x: left, y: top, width: textWidth(p.title, FONT.title), height: LINE.title },
        rows: p.rows.map((r, i) => ({
          ...r,
          x: left,
          y: top + LINE.title + 4 + i * LINE.row,
          width: textWidth(r.text, FONT.row),
          height: LINE.row,
        })),
      });
    }
    for (const e of node.edges ?? []) {
      const placed = edgeInfo.get(e.id);
      if (placed === undefined) continue;
      const points: { x: number; y: number }[] = [];
      for (const section of e.sections ?? []) {
        points.push(section.startPoint, ...(section.bendPoints ?? []), section.endPoint);
      }
      const l = e.labels?.[0];
      edges.push({
        ...placed,
        source: placed.source,
        points: points.map((pt) => ({ x: pt.x, y: pt.y })),
        label:
          l === undefined
            ? null
            : {
                text: l.text ?? '',
                lines: placed.transition === null ? [l.text ?? ''] : labelLines(placed.transition),
                x: l.x ?? 0,
                y: l.y ?? 0,
                width: l.width ?? 0,
                height: l.height ?? 0,
              },
      });
    }
    for (const child of node.children ?? []) visitNode(child);
  };
  visitNode(laidOut);
  // Definition order: the ELK tree walk is already parents-first in child order.
  return {
    machineId: json.id,
    width: Math.ceil(laidOut.width ?? 0),
    height: Math.ceil(laidOut.height ?? 0),
    states,
    edges,
    initials,
  };
}
