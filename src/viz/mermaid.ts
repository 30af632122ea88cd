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
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { describeTransitions } from './transitions.js';

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

/**
 * Renders `machine` as a Mermaid `stateDiagram-v2`.
 *
 * Edges are labelled with the event type, `after(delayName)` / `after(100ms)`, `always`,
 * `onDone(src)` / `onError(src)` for invocations, plus ` [guardName]` when guarded; a targetless
 * transition (actions only) is drawn as a self-loop.
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
      const targets = t.targets.length > 0 ? t.targets.map((target) => byNodeId.get(target) ?? from) : [from];
      for (const to of targets) lines.push(`${pad}${from} --> ${to} : ${cleanLabel(t.label)}`);
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
  return `${lines.join('\n')}\n`;
}
