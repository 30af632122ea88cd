/**
 * A machine that uses what the session and registry machines do not: ids needing sanitising (two of which collide once sanitised),
 * nested parallel regions, final and history states, numeric delays, inline and higher-order
 * guards, inline invoked logic.
 */
import { and, createMachine, fromPromise, not, type AnyStateMachine, type AnyStateNode } from 'xstate';

export const oddMachine = createMachine({
  id: 'odd-machine',
  initial: 'first step',
  states: {
    'first step': {
      on: {
        'go:now': { target: 'split_left', guard: not('blocked') },
        'go;later': { target: 'done', guard: ({ context }) => context !== undefined },
      },
      after: { 250: { target: 'split', guard: and(['a', 'b']) } },
    },
    split: {
      type: 'parallel',
      states: {
        left: {
          initial: 'l1',
          states: { l1: { on: { NEXT: 'l2' } }, l2: { type: 'final' } },
        },
        right: {
          initial: 'r1',
          states: {
            r1: { invoke: { src: fromPromise(async () => 1), onDone: 'r2', onError: 'r1' } },
            r2: {},
            hist: { type: 'history', history: 'deep' },
          },
        },
      },
      onDone: 'done',
    },
    split_left: {},
    done: { type: 'final' },
  },
});

/** Every state node of `machine`, root first, in definition order. */
export function allStateNodes(machine: AnyStateMachine): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const visit = (node: AnyStateNode) => {
    out.push(node);
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(machine.root as AnyStateNode);
  return out;
}
