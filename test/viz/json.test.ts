import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { registryMachine, sessionMachine } from '../../machines/index.js';
import { toJSON, type StateJSON } from '../../src/viz/index.js';
import { allStateNodes, oddMachine } from './fixtures.js';

const flatten = (s: StateJSON): StateJSON[] => [s, ...s.states.flatMap(flatten)];
const find = (machine: AnyStateMachine, id: string): StateJSON => {
  const found = flatten(toJSON(machine).root).find((s) => s.id === id);
  if (found === undefined) throw new Error(`no state ${id}`);
  return found;
};

const MACHINES = [
  ['session', sessionMachine],
  ['registry', registryMachine],
  ['odd', oddMachine],
] as [string, AnyStateMachine][];

describe('toJSON', () => {
  it.each(MACHINES)('round-trips the %s machine through JSON.stringify / JSON.parse unchanged', (_name, machine) => {
    const json = toJSON(machine);
    expect(JSON.parse(JSON.stringify(json))).toStrictEqual(json);
  });

  it.each(MACHINES)('lists every state of the %s machine, in definition order', (_name, machine) => {
    expect(flatten(toJSON(machine).root).map((s) => s.id)).toEqual(allStateNodes(machine).map((n) => n.id));
  });

  it.each(MACHINES)('is deterministic for the %s machine', (_name, machine) => {
    expect(JSON.stringify(toJSON(machine))).toBe(JSON.stringify(toJSON(machine)));
  });

  it('describes the session machine: parallel root, regions with initial states, typed transitions', () => {
    const json = toJSON(sessionMachine);
    expect(json.id).toBe('session');
    expect(json.root.type).toBe('parallel');
    expect(json.root.initial).toBeNull();
    expect(json.root.states.map((s) => [s.key, s.type, s.initial])).toEqual([
      ['container', 'compound', 'session.container.stopped'],
      ['poller', 'compound', 'session.poller.off'],
      ['mailbox', 'compound', 'session.mailbox.idle'],
    ]);
    expect(json.root.transitions.find((t) => t.event === 'container.wake')).toEqual({
      kind: 'event',
      event: 'container.wake',
      label: 'container.wake [isStoppedPhase]',
      targets: [],
      guard: 'isStoppedPhase',
      reenter: false,
      internal: true,
      actions: ['requestWake'],
      delay: null,
    });
    expect(find(sessionMachine, 'session.container.stopped').transitions).toEqual([
      {
        kind: 'always',
        event: '',
        label: 'always [canStart]',
        targets: ['session.container.starting'],
        guard: 'canStart',
        reenter: false,
        internal: false,
        actions: [],
        delay: null,
      },
    ]);
  });

  it('keeps guarded alternatives in order and names invocations and delays', () => {
    const starting = find(sessionMachine, 'session.container.starting');
    expect(starting.invoke).toEqual([{ id: starting.invoke[0]!.id, src: 'startContainer' }]);
    expect(starting.transitions.filter((t) => t.kind === 'done').map((t) => [t.guard, t.targets])).toEqual([
      ['stopRequested', ['session.container.stopping']],
      [null, ['session.container.running']],
    ]);
    const idle = find(sessionMachine, 'session.container.idle');
    expect(idle.transitions.find((t) => t.kind === 'after')).toMatchObject({
      delay: 'idleStopMs',
      label: 'after(idleStopMs)',
      targets: ['session.container.stopping'],
    });
    // the raise/cancel XState adds for `after` are not listed as written actions
    expect(idle.entry).toEqual(['changePhase']);
    expect(idle.exit).toEqual([]);
  });

  it('marks internal transitions as XState v5 takes them: targetless, or to self without reenter', () => {
    const kinds = (id: string) => find(sessionMachine, id).transitions.map((t) => [t.label, t.internal]);
    expect(kinds('session.poller.polling')).toEqual([
      ['after(pollMs) [containerLive]', false], // reenter: true
      ['after(pollMs)', false],
    ]);
    expect(kinds('session.mailbox.idle')).toEqual([
      ['mailbox.enqueue [carriesTurn]', false],
      ['session.quietCheck', false], // reenter: true
      ['after(passivateMs) [containerStopped]', true], // no target
      ['always [hasQueued]', false],
    ]);
    // `onError: 'r1'` inside r1 targets itself without reenter: r1 is not exited.
    expect(find(oddMachine, 'odd-machine.split.right.r1').transitions.map((t) => [t.label, t.internal])).toEqual([
      ['onDone(inline)', false],
      ['onError(inline)', true],
    ]);
  });
});
