/**
 * `toJSON(machine)`: the structure of any XState v5 machine as plain JSON data.
 *
 * Rules:
 * 1. Only JSON values: strings, numbers, booleans, `null`, arrays and plain objects, so
 *    `JSON.parse(JSON.stringify(x))` gives back an equal value (absent things are `null` or `[]`,
 *    never `undefined`).
 * 2. Deterministic: child states and transitions keep the machine's definition order (an array,
 *    not an object keyed by name, so no key is ever reordered); the same machine gives the same
 *    JSON text every time.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { actionLabel, describeTransitions, sourceLabel, type TransitionInfo } from './transitions.js';

/** A transition as JSON: exactly what `describeTransitions` reports (plain data, names only). */
export type TransitionJSON = TransitionInfo;

export interface StateJSON {
  /** Full id, e.g. `session.container.stopped`. */
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Full id of the initial child of a compound state; `null` otherwise. */
  initial: string | null;
  entry: string[];
  exit: string[];
  invoke: { id: string; src: string }[];
  transitions: TransitionJSON[];
  /** Child states in definition order. */
  states: StateJSON[];
}

export interface MachineJSON {
  id: string;
  root: StateJSON;
}

/**
 * The entry or exit actions written in the machine: XState adds a delayed `raise` to `entry` and a
 * `cancel` to `exit` for each `after` transition, which are left out (they are the `after` edge).
 */
function writtenActions(node: AnyStateNode, which: 'entry' | 'exit'): string[] {
  const afterEvents = new Set(node.after.map((def) => def.eventType));
  const generated = (action: unknown): boolean => {
    if (typeof action !== 'function') return false;
    const a = action as unknown as { type?: unknown; id?: unknown; sendId?: unknown };
    if (which === 'entry') return a.type === 'xstate.raise' && afterEvents.has(a.id as string);
    return a.type === 'xstate.cancel' && afterEvents.has(a.sendId as string);
  };
  return node[which].filter((action) => !generated(action)).map(actionLabel);
}

function stateJSON(node: AnyStateNode): StateJSON {
  const children = Object.values(node.states) as AnyStateNode[];
  const initial =
    node.type === 'compound' ? ((node.initial?.target?.[0] as AnyStateNode | undefined)?.id ?? null) : null;
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    initial,
    entry: writtenActions(node, 'entry'),
    exit: writtenActions(node, 'exit'),
    invoke: node.invoke.map((def) => ({ id: def.id, src: sourceLabel(def.src) })),
    transitions: describeTransitions(node),
    states: children.map(stateJSON),
  };
}

/**
 * Describes `machine` as plain JSON: a tree of states with their type, initial child, entry and
 * exit actions, invocations and transitions (`{ event, targets, guard, ... }`).
 *
 * @example
 * process.stdout.write(JSON.stringify(toJSON(sessionMachine), null, 2));
 */
export function toJSON(machine: AnyStateMachine): MachineJSON {
  const root = machine.root as AnyStateNode;
  return { id: machine.id, root: stateJSON(root) };
}
