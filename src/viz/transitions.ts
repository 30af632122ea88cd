/**
 * Reads the transitions of one XState v5 state node as plain data, for the Mermaid and JSON views.
 *
 * Rules:
 * 1. Order is the node's own definition order (`node.transitions`, then `node.always`), never
 *    sorted: the order of guarded alternatives for one event is part of their meaning.
 * 2. Only names are read (guards, actions, delays, invoked sources); nothing is called, so a
 *    machine with I/O in its implementations can be described safely.
 * 3. `internal` follows XState v5's own rule: a transition without `reenter: true` whose targets
 *    are all the source itself or its descendants (or that has none) never exits the source, so
 *    its entry and exit actions do not run (test/viz/json.test.ts).
 */
import type { AnyStateNode } from 'xstate';

export type TransitionKind = 'event' | 'after' | 'always' | 'done' | 'error' | 'stateDone';

/** One transition of a state node, described by names only. */
export interface TransitionInfo {
  kind: TransitionKind;
  /** The event type the machine reacts to (`''` for `always`). */
  event: string;
  /** Readable label: `container.wake`, `after(idleStopMs)`, `always`, `onDone(startContainer)`. */
  label: string;
  /** Ids of the target state nodes; empty for a targetless transition (actions only). */
  targets: string[];
  guard: string | null;
  reenter: boolean;
  /**
   * True when taking it never exits the source state (no target, or only the source or its
   * descendants without `reenter`): drawn inside the state, not as an edge. A re-entering
   * self-transition (`reenter: true`) exits and enters the source again and is not internal.
   */
  internal: boolean;
  actions: string[];
  /** The delay of an `after` transition: a named delay or milliseconds. */
  delay: string | number | null;
}

interface NamedFunction {
  (...args: never[]): unknown;
  guards?: unknown[];
  type?: unknown;
}

/** A guard's readable name: `canStart`, `not(closed)`, `and(a, b)`, `inline` for anonymous ones. */
export function guardLabel(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const fn = guard as NamedFunction;
    if (Array.isArray(fn.guards) && ['and', 'or', 'not'].includes(fn.name)) {
      return `${fn.name}(${fn.guards.map((g) => guardLabel(g) ?? 'inline').join(', ')})`;
    }
    return fn.name !== '' && fn.name !== 'guard' ? fn.name : 'inline';
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'inline';
}

/** An action's readable name: its string, its `type` (`xstate.assign`, ...), or `inline`. */
export function actionLabel(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const fn = action as NamedFunction;
    if (typeof fn.type === 'string') return fn.type;
    return fn.name !== '' ? fn.name : 'inline';
  }
  if (typeof action === 'object' && action !== null && typeof (action as { type?: unknown }).type === 'string') {
    return (action as { type: string }).type;
  }
  return 'inline';
}

/** The readable name of an invoked actor's source (`inline` for logic defined in place). */
export function sourceLabel(src: unknown): string {
  if (typeof src === 'string') return src.startsWith('xstate.invoke.') ? 'inline' : src;
  return 'inline';
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

function delayLabel(delay: unknown): string | number {
  if (typeof delay === 'string' || typeof delay === 'number') return delay;
  if (typeof delay === 'function' && delay.name !== '' && delay.name !== 'delay') return delay.name;
  return 'inline';
}

/** Every transition leaving `node` (its `on`, `after`, invoke `onDone`/`onError`, `always`), in definition order. */
export function describeTransitions(node: AnyStateNode): TransitionInfo[] {
  const out: TransitionInfo[] = [];
  const invokes = new Map(node.invoke.map((def) => [def.id, sourceLabel(def.src)] as const));
  const delays = new Map(node.after.map((def) => [def.eventType, delayLabel(def.delay)] as const));

  for (const [eventType, definitions] of node.transitions) {
    let kind: TransitionKind = 'event';
    let base = eventType;
    let delay: string | number | null = null;
    if (delays.has(eventType)) {
      kind = 'after';
      delay = delays.get(eventType) ?? null;
      base = `after(${typeof delay === 'number' ? `${delay}ms` : String(delay)})`;
    } else if (eventType.startsWith('xstate.done.actor.')) {
      kind = 'done';
      const id = eventType.slice('xstate.done.actor.'.length);
      base = `onDone(${invokes.get(id) ?? id})`;
    } else if (eventType.startsWith('xstate.error.actor.')) {
      kind = 'error';
      const id = eventType.slice('xstate.error.actor.'.length);
      base = `onError(${invokes.get(id) ?? id})`;
    } else if (eventType.startsWith('xstate.done.state.')) {
      kind = 'stateDone';
      base = 'onDone';
    }
    for (const t of definitions) out.push(info(node, kind, eventType, base, delay, t));
  }
  for (const t of node.always ?? []) out.push(info(node, 'always', '', 'always', null, t));
  return out;
}

/** Whether `node` is `ancestor` itself or lies inside it. */
function isWithin(node: AnyStateNode, ancestor: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = node; n !== undefined; n = n.parent) if (n === ancestor) return true;
  return false;
}

function info(
  source: AnyStateNode,
  kind: TransitionKind,
  event: string,
  base: string,
  delay: string | number | null,
  t: { target?: readonly AnyStateNode[] | undefined; guard?: unknown; reenter?: boolean; actions?: unknown },
): TransitionInfo {
  const guard = guardLabel(t.guard);
  const targets = t.target ?? [];
  const reenter = t.reenter === true;
  return {
    kind,
    event,
    label: guard === null ? base : `${base} [${guard}]`,
    targets: targets.map((target) => target.id),
    guard,
    reenter,
    internal: targets.length === 0 || (!reenter && targets.every((target) => isWithin(target, source))),
    actions: asArray(t.actions).map(actionLabel),
    delay,
  };
}
