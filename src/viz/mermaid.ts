/**
 * `toMermaid(machine)`: a Mermaid `stateDiagram-v2` of any XState v5 machine, built from its
 * state nodes alone (nothing is run).
 *
 * Rules (each keeps the text parseable by Mermaid's state grammar):
 * 1. Ids are the node ids with `[^A-Za-z0-9_]` replaced by `_` (made unique if two collide);
 *    each state is declared as `state "key" as id`, so the diagram shows the short names.
 * 2. The machine itself is a composite state, so parallel regions, separated by `--`, are always
 *    inside a composite state (Mermaid accepts `--` only there).
 * 3. Labels never contain `:`, `;`, `#`, `"` or a line break, which end or break a Mermaid label.
 * 4. Output is deterministic: definition order throughout, no timestamps or counters.
 * 5. No label is hidden under another: an edge is drawn only between two different states.
 *    Internal transitions (no target, or only the source or its descendants without `reenter`)
 *    and re-entering self-transitions are listed instead in one legend note beside the machine,
 *    under two headings that tell them apart, each entry naming its state's path.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { describeTransitions, type TransitionInfo } from './transitions.js';

const INDENT = '  ';

/** Mermaid lexes these at the start of an id as keywords. */
const RESERVED_PREFIX = /^(default|direction|state|note|class|classDef|scale|hide)/i;

/** Builds the Mermaid id for every state node of a machine, unique and sanitised. */
function mermaidIds(root: AnyStateNode): Map<AnyStateNode, string> {
  const ids = new Map<AnyStateNode, string>();
  const used = new Set<string>();
  const visit = (node: AnyStateNode) => {
    let base = node.id.replace(/[^A-Za-z0-9_]/g, '_');
    if (base === '' || RESERVED_PREFIX.test(base)) base = `s_${base}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    ids.set(node, id);
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(root);
  return ids;
}

const cleanLabel = (text: string) =>
  text
    .replace(/[:;#\r\n]+/g, ' ')
    .replace(/"/g, "'")
    .replace(/\s+/g, ' ')
    .trim();

const childrenOf = (node: AnyStateNode): AnyStateNode[] => Object.values(node.states) as AnyStateNode[];

/** Headings of the legend note: the two kinds of transition that are not drawn as edges. */
export const LEGEND_INTERNAL = 'internal transitions (the state is not exited)';
export const LEGEND_REENTER = 're-entering self-transitions (exit and entry run again)';

/** A state's path below the machine (`container.starting`); the machine's own id for the root. */
function pathOf(node: AnyStateNode, root: AnyStateNode): string {
  return node === root || !node.id.startsWith(`${root.id}.`) ? node.id : node.id.slice(root.id.length + 1);
}

/** One legend entry: `• container.starting: event [guard] / actions`, plus `-> target` for a child target. */
function legendLine(node: AnyStateNode, root: AnyStateNode, t: TransitionInfo, paths: Map<string, string>): string {
  let text = `• ${pathOf(node, root)}: ${t.label}`;
  if (t.actions.length > 0) text += ` / ${t.actions.join(', ')}`;
  const others = t.targets.filter((target) => target !== node.id);
  if (others.length > 0) text += ` -> ${others.map((target) => paths.get(target) ?? target).join(', ')}`;
  return cleanNote(text);
}

/** A note line must not end the note early nor break the line. */
const cleanNote = (text: string) =>
  text
    .replace(/[\r\n]+/g, ' ')
    .replace(/\bend note\b/gi, 'end-note')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * Renders `machine` as a Mermaid `stateDiagram-v2`.
 *
 * Edges are labelled with the event type, `after(delayName)` / `after(100ms)`, `always`,
 * `onDone(src)` / `onError(src)` for invocations, plus ` [guardName]` when guarded. Transitions
 * that would be self-loops (internal ones, and re-entering self-transitions) are listed in a
 * legend note beside the machine instead, `• state.path: label / actions`, under one heading each.
 *
 * @example
 * console.log(toMermaid(sessionMachine)); // paste into any Mermaid renderer
 */
export function toMermaid(machine: AnyStateMachine): string {
  const root = machine.root as AnyStateNode;
  const ids = mermaidIds(root);
  const byNodeId = new Map([...ids].map(([node, id]) => [node.id, id] as const));
  const lines: string[] = ['stateDiagram-v2'];
  const idOf = (node: AnyStateNode) => ids.get(node) as string;

  const emitEdges = (node: AnyStateNode, depth: number) => {
    const pad = INDENT.repeat(depth);
    const from = idOf(node);
    for (const t of describeTransitions(node)) {
      if (t.internal) continue;
      for (const target of t.targets) {
        const to = byNodeId.get(target) ?? from;
        if (to !== from) lines.push(`${pad}${from} --> ${to} : ${cleanLabel(t.label)}`);
      }
    }
    if (node.type === 'final') lines.push(`${pad}${from} --> [*]`);
  };

  const emitNode = (node: AnyStateNode, depth: number) => {
    const pad = INDENT.repeat(depth);
    const id = idOf(node);
    const name = node.type === 'history' ? (node.history === 'deep' ? 'H*' : 'H') : node.key;
    const label = cleanLabel(name);
    if (label !== id) lines.push(`${pad}state "${label}" as ${id}`);
    const children = childrenOf(node);
    if (children.length > 0) {
      lines.push(`${pad}state ${id} {`);
      if (node.type === 'parallel') {
        children.forEach((child, i) => {
          if (i > 0) lines.push(`${pad}${INDENT}--`);
          emitNode(child, depth + 1);
        });
      } else {
        const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
        if (initial !== undefined) lines.push(`${pad}${INDENT}[*] --> ${idOf(initial)}`);
        for (const child of children) emitNode(child, depth + 1);
      }
      lines.push(`${pad}}`);
    }
    emitEdges(node, depth);
  };

  lines.push(`${INDENT}[*] --> ${idOf(root)}`);
  emitNode(root, 1);
  // The legend, in definition order (each state before its children).
  const internal: string[] = [];
  const reentering: string[] = [];
  const paths = new Map([...ids.keys()].map((node) => [node.id, pathOf(node, root)] as const));
  const collect = (node: AnyStateNode) => {
    const from = idOf(node);
    for (const t of describeTransitions(node)) {
      if (t.internal) internal.push(legendLine(node, root, t, paths));
      else if (t.targets.some((target) => (byNodeId.get(target) ?? from) === from))
        reentering.push(legendLine(node, root, t, paths));
    }
    for (const child of childrenOf(node)) collect(child);
  };
  collect(root);
  if (internal.length > 0 || reentering.length > 0) {
    lines.push(`${INDENT}note right of ${idOf(root)}`);
    if (internal.length > 0)
      lines.push(`${INDENT}${INDENT}${LEGEND_INTERNAL}`, ...internal.map((l) => `${INDENT}${INDENT}${l}`));
    if (reentering.length > 0)
      lines.push(`${INDENT}${INDENT}${LEGEND_REENTER}`, ...reentering.map((l) => `${INDENT}${INDENT}${l}`));
    lines.push(`${INDENT}end note`);
  }
  return `${lines.join('\n')}\n`;
}
