/**
 * The session machine, tested three ways:
 * - pure: `initialTransition` / `transition` assert the next snapshot and the actions the machine
 *   asks for (spawns, emits) without running anything;
 * - actors: the machine with recorded stubs for its invoked actors and a SimulatedClock, for
 *   invocation counts, group commit and timers;
 * - model-based: every reachable (container state, event) pair, found by `getShortestPaths` over
 *   the pure machine, is replayed on a real actor and checked against the container-status table
 *   of API.md ("Container status").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, fromPromise, initialTransition, transition, waitFor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  sessionMachine,
  type CommitInput,
  type ContainerPhase,
  type ContainerStatus,
  type SessionEmitted,
  type SessionEvent,
} from '../../machines/session.machine.js';
import type { CommitOutput, StartOutput } from '../../machines/session.machine.js';
import {
  containerOf,
  drain,
  mailboxOf,
  okResults,
  op,
  SESSION_INPUT,
  sessionHarness,
  type HarnessOptions,
  type SessionHarness,
  type SessionSnapshot,
  type StatusEvent,
} from './helpers.js';

// ------------------------------------------------------------------------------------ pure helpers

interface ActionLike {
  type: string;
  params?: unknown;
}

const invokeIdOf = (stateId: string): string => {
  const def = sessionMachine.getStateNodeById(stateId).invoke[0];
  if (def === undefined) throw new Error(`${stateId} invokes nothing`);
  return def.id;
};
const afterEventOf = (stateId: string): string => {
  const def = sessionMachine.getStateNodeById(stateId).after[0];
  if (def === undefined) throw new Error(`${stateId} has no delayed transition`);
  return def.eventType;
};

/** Events the machine receives from its own invoked actors and timers, addressed by their real ids. */
const internal = (type: string, extra: Record<string, unknown> = {}) => ({ type, ...extra }) as unknown as SessionEvent;
const START_ID = invokeIdOf('session.container.starting');
const ENV = {
  startDone: internal(`xstate.done.actor.${START_ID}`, { output: undefined }),
  startFailed: (error: unknown) => internal(`xstate.error.actor.${START_ID}`, { error }),
  turn: { type: 'mailbox.turn' } as SessionEvent,
  committed: (output: CommitOutput): SessionEvent => ({ type: 'mailbox.committed', ...output }),
  idleTimeout: internal(afterEventOf('session.container.idle')),
};

const EV = {
  wake: { type: 'container.wake' } as SessionEvent,
  stop: { type: 'container.stop', reason: 'stop requested' } as SessionEvent,
  exited: { type: 'container.exited', code: 0, signal: null } as SessionEvent,
  busy: { type: 'container.observed', busy: true } as SessionEvent,
  notBusy: { type: 'container.observed', busy: false } as SessionEvent,
  close: { type: 'session.close' } as SessionEvent,
  enqueue: (requestId: string, writesOutbound = false) =>
    ({ type: 'mailbox.enqueue', op: op(requestId, { writesOutbound }) }) as SessionEvent,
};

/**
 * The machine as the pure tests see it: its two mailbox effects as plain actions, so that the
 * actions `transition` returns name them with their params.
 */
const pureMachine = sessionMachine.provide({ actions: { awaitTurn: () => {}, commitBatch: () => {} } });

function initial(): SessionSnapshot {
  return initialTransition(pureMachine, SESSION_INPUT)[0];
}

/** Applies `events` in order; returns the last snapshot and every action asked for on the way. */
function run(from: SessionSnapshot, ...events: SessionEvent[]): { s: SessionSnapshot; actions: ActionLike[] } {
  let s = from;
  const actions: ActionLike[] = [];
  for (const event of events) {
    const [next, asked] = transition(pureMachine, s, event);
    s = next;
    actions.push(...(asked as ActionLike[]));
  }
  return { s, actions };
}

const emittedOf = (actions: ActionLike[]): SessionEmitted[] =>
  actions.filter((a) => a.type === 'xstate.emit').map((a) => (a.params as { event: SessionEmitted }).event);
const spawnsOf = (actions: ActionLike[], src: string): unknown[] =>
  actions
    .filter((a) => a.type === 'xstate.spawnChild' && (a.params as { src: unknown }).src === src)
    .map((a) => (a.params as { input: unknown }).input);

const paramsOf = (actions: ActionLike[], type: string): unknown[] =>
  actions.filter((a) => a.type === type).map((a) => a.params);

/** A pure snapshot in `phase` (mailbox state left as the path leaves it). */
function inPhase(phase: ContainerPhase): SessionSnapshot {
  const s0 = initial();
  switch (phase) {
    case 'stopped':
      return s0;
    case 'starting':
      return run(s0, EV.wake).s;
    case 'running':
      return run(s0, EV.wake, ENV.startDone).s;
    case 'idle':
      return run(s0, EV.wake, ENV.startDone, EV.notBusy).s;
    case 'stopping':
      return run(s0, EV.wake, ENV.startDone, EV.stop).s;
  }
}

const PHASES: ContainerPhase[] = ['stopped', 'starting', 'running', 'idle', 'stopping'];

// ------------------------------------------------------------------------------------ actor helpers

const harnesses: SessionHarness[] = [];
function harness(options?: HarnessOptions): SessionHarness {
  const h = sessionHarness(options);
  harnesses.push(h);
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) {
    expect(h.errors).toEqual([]);
    h.actor.stop();
  }
});

const inContainer = (state: string) => (s: SessionSnapshot) => containerOf(s) === state;
const statusPairs = (h: SessionHarness) => h.statuses().map((e) => `${e.from}>${e.to}`);

async function runningHarness(options?: HarnessOptions): Promise<SessionHarness> {
  const h = harness(options);
  h.actor.send(EV.wake);
  await h.until(inContainer('running'));
  await h.until((s) => mailboxOf(s) === 'idle'); // the first poll, committed
  return h;
}

async function idleHarness(options?: HarnessOptions): Promise<SessionHarness> {
  const h = await runningHarness(options);
  h.actor.send(EV.notBusy);
  expect(containerOf(h.snapshot())).toBe('idle');
  return h;
}

// ======================================================================================= pure rules

describe('session machine, pure transitions', () => {
  it('starts in stopped with an idle mailbox and reports no status change', () => {
    const [s, actions] = initialTransition(sessionMachine, SESSION_INPUT);
    expect(s.value).toEqual({ container: 'stopped', poller: 'off', mailbox: 'idle' });
    expect(s.context.status).toBe('stopped');
    expect(emittedOf(actions as ActionLike[])).toEqual([]);
  });

  it('moves stopped → starting on container.wake and asks for startContainer once', () => {
    const { s, actions } = run(initial(), EV.wake);
    expect(containerOf(s)).toBe('starting');
    expect(spawnsOf(actions, 'startContainer')).toEqual([{ sessionId: SESSION_INPUT.sessionId }]);
  });

  it.each(['starting', 'running', 'idle'] as const)('ignores container.wake in %s (no second start)', (phase) => {
    const before = inPhase(phase);
    const { s, actions } = run(before, EV.wake, EV.wake);
    expect(containerOf(s)).toBe(phase);
    expect(s.context).toEqual(before.context);
    expect(spawnsOf(actions, 'startContainer')).toEqual([]);
  });

  it('remembers a wake during stopping and starts again after the exit', () => {
    const stopping = run(inPhase('stopping'), EV.wake);
    expect(containerOf(stopping.s)).toBe('stopping');
    expect(spawnsOf(stopping.actions, 'startContainer')).toEqual([]);
    const { s, actions } = run(stopping.s, EV.exited);
    expect(containerOf(s)).toBe('starting');
    expect(spawnsOf(actions, 'startContainer')).toHaveLength(1);
  });

  it('does not start while an outbound write is in flight, and starts once it settles', () => {
    const committing = run(initial(), EV.enqueue('w1', true), ENV.turn);
    expect(mailboxOf(committing.s)).toBe('committing');
    const woken = run(committing.s, EV.wake);
    expect(containerOf(woken.s)).toBe('stopped');
    expect(woken.s.context.wakeRequested).toBe(true);
    expect(spawnsOf(woken.actions, 'startContainer')).toEqual([]);
    const done = run(woken.s, ENV.committed(okResults(committing.s.context.inFlight)));
    expect(containerOf(done.s)).toBe('starting');
    expect(spawnsOf(done.actions, 'startContainer')).toHaveLength(1);
  });

  it('does not start while an outbound write is still queued, and starts once it is committed', () => {
    const gathering = run(initial(), EV.enqueue('w1', true));
    expect(mailboxOf(gathering.s)).toBe('gathering');
    const woken = run(gathering.s, EV.wake);
    expect(containerOf(woken.s)).toBe('stopped');
    const committing = run(woken.s, ENV.turn);
    expect(containerOf(committing.s)).toBe('stopped');
    expect((paramsOf(committing.actions, 'commitBatch') as CommitInput[])[0]!.containerStatus).toBe('stopped');
    const done = run(committing.s, ENV.committed(okResults(committing.s.context.inFlight)));
    expect(containerOf(done.s)).toBe('starting');
  });

  it('lets a start begin while an ordinary (non-outbound) write is in flight', () => {
    const committing = run(initial(), EV.enqueue('r1'), ENV.turn);
    const { s } = run(committing.s, EV.wake);
    expect(containerOf(s)).toBe('starting');
  });

  it.each(PHASES)('gives commitBatch containerStatus "stopped" only in phase stopped (phase %s)', (phase) => {
    const queued = run(inPhase(phase), EV.enqueue(`probe-${phase}`)).s;
    expect(mailboxOf(queued)).toBe('gathering');
    const { s, actions } = run(queued, ENV.turn);
    expect(mailboxOf(s)).toBe('committing');
    expect(s.context.phase).toBe(phase);
    const inputs = paramsOf(actions, 'commitBatch') as CommitInput[];
    expect(inputs).toHaveLength(1);
    expect(inputs[0]!.ops.map((o) => o.requestId)).toContain(`probe-${phase}`);
    expect(inputs[0]!.containerStatus).toBe(phase === 'stopped' ? 'stopped' : 'running');
  });

  it('moves running → idle on observed busy:false and idle → running on busy:true; the reverse does nothing', () => {
    const running = inPhase('running');
    expect(containerOf(run(running, EV.busy).s)).toBe('running');
    expect(run(running, EV.busy).s.context).toEqual(running.context);
    const idle = run(running, EV.notBusy);
    expect(containerOf(idle.s)).toBe('idle');
    expect(emittedOf(idle.actions)).toEqual([
      {
        type: 'container.status',
        sessionId: 's-1',
        from: 'running',
        to: 'idle',
        reason: 'no claimed or due work',
        at: null,
      },
    ]);
    expect(run(idle.s, EV.notBusy).s.context).toEqual(idle.s.context);
    const back = run(idle.s, EV.busy);
    expect(containerOf(back.s)).toBe('running');
    expect(emittedOf(back.actions)).toEqual([
      { type: 'container.status', sessionId: 's-1', from: 'idle', to: 'running', reason: 'work arrived', at: null },
    ]);
  });

  it('moves idle → stopping on the idle timer, with reason "idle timeout"', () => {
    const { s, actions } = run(inPhase('idle'), ENV.idleTimeout);
    expect(containerOf(s)).toBe('stopping');
    expect(spawnsOf(actions, 'stopContainer')).toEqual([{ sessionId: 's-1', reason: 'idle timeout' }]);
    expect(emittedOf(actions)).toEqual([]);
  });

  it.each(['starting', 'running', 'idle', 'stopping'] as const)('moves %s → stopped on container.exited', (phase) => {
    const { s } = run(inPhase(phase), EV.exited);
    expect(containerOf(s)).toBe('stopped');
    expect(s.context.status).toBe('stopped');
  });

  it('reports start failure: starting → stopped and container.startFailed, no status change', () => {
    const error = new Error('no docker');
    const { s, actions } = run(inPhase('starting'), ENV.startFailed(error));
    expect(containerOf(s)).toBe('stopped');
    expect(emittedOf(actions)).toEqual([{ type: 'container.startFailed', sessionId: 's-1', error }]);
  });

  it('never starts a closed session', () => {
    expect(containerOf(run(initial(), EV.close, EV.wake).s)).toBe('stopped');
    const restart = run(inPhase('stopping'), EV.wake, EV.close, EV.exited);
    expect(containerOf(restart.s)).toBe('stopped');
    expect(spawnsOf(restart.actions, 'startContainer')).toEqual([]);
    const closeFirst = run(inPhase('stopping'), EV.close, EV.wake, EV.exited);
    expect(containerOf(closeFirst.s)).toBe('stopped');
  });

  it('asks for a stop right after a start that was told to stop while starting', () => {
    const { s, actions } = run(inPhase('starting'), EV.stop, ENV.startDone);
    expect(containerOf(s)).toBe('stopping');
    expect(spawnsOf(actions, 'stopContainer')).toEqual([{ sessionId: 's-1', reason: 'stop requested' }]);
    expect(emittedOf(actions)).toEqual([]);
  });
});

// ===================================================================================== actor rules

describe('session actor, containers', () => {
  it('invokes startContainer exactly once however many wakes arrive while starting, running or idle', async () => {
    const h = harness({ autoStart: false });
    h.actor.send(EV.wake);
    h.actor.send(EV.wake);
    expect(containerOf(h.snapshot())).toBe('starting');
    await drain();
    expect(h.starts).toHaveLength(1);
    expect(h.starts[0]!.input).toEqual({ sessionId: 's-1' });
    h.starts[0]!.deferred.resolve();
    await h.until(inContainer('running'));
    h.actor.send(EV.wake);
    h.actor.send(EV.notBusy);
    h.actor.send(EV.wake);
    await drain();
    expect(containerOf(h.snapshot())).toBe('idle');
    expect(h.starts).toHaveLength(1);
  });

  it('restarts after the exit when woken during stopping', async () => {
    const h = await runningHarness();
    h.actor.send({ type: 'container.stop', reason: 'test stop' });
    expect(containerOf(h.snapshot())).toBe('stopping');
    h.actor.send(EV.wake);
    await drain();
    expect(h.starts).toHaveLength(1);
    expect(h.stops).toEqual([{ sessionId: 's-1', reason: 'test stop' }]);
    h.actor.send(EV.exited);
    await h.until(inContainer('running'));
    expect(h.starts).toHaveLength(2);
    expect(statusPairs(h)).toEqual(['stopped>running', 'running>stopped', 'stopped>running']);
  });

  // Regression: the wake's reason used to overwrite the stop's reason on the running → stopped event.
  it('keeps the stop reason on the running → stopped event when woken during stopping', async () => {
    const h = await runningHarness();
    h.actor.send({ type: 'container.stop', reason: 'test stop' });
    h.actor.send(EV.wake);
    h.actor.send(EV.exited);
    await h.until(inContainer('running'));
    expect(h.statuses()[1]!.reason).toBe('test stop (exited with code 0)');
  });

  it('never begins a start while an outbound write is in flight', async () => {
    const h = harness({ autoCommit: false });
    h.actor.send(EV.enqueue('w1', true));
    await h.until((s) => mailboxOf(s) === 'committing');
    expect(h.commits[0]!.input.containerStatus).toBe('stopped');
    h.actor.send(EV.wake);
    await drain();
    expect(containerOf(h.snapshot())).toBe('stopped');
    expect(h.starts).toHaveLength(0);
    h.commits[0]!.deferred.resolve(okResults(h.commits[0]!.input.ops));
    await h.until(inContainer('running'));
    expect(h.starts).toHaveLength(1);
  });

  it('reports every outward status change with from/to/reason and none for starting or stopping', async () => {
    const h = harness({ autoStart: false });
    h.actor.send({ type: 'container.wake', reason: 'message m1' });
    await drain();
    expect(containerOf(h.snapshot())).toBe('starting');
    expect(h.statuses()).toEqual([]);
    h.starts[0]!.deferred.resolve();
    await h.until(inContainer('running'));
    h.actor.send(EV.notBusy);
    h.actor.send(EV.busy);
    h.actor.send({ type: 'container.stop', reason: 'test stop' });
    expect(containerOf(h.snapshot())).toBe('stopping');
    expect(h.statuses()).toHaveLength(3);
    h.actor.send({ type: 'container.exited', code: null, signal: 'SIGTERM' });
    const base = { type: 'container.status', sessionId: 's-1', at: null };
    expect(h.statuses()).toEqual([
      { ...base, from: 'stopped', to: 'running', reason: 'message m1' },
      { ...base, from: 'running', to: 'idle', reason: 'no claimed or due work' },
      { ...base, from: 'idle', to: 'running', reason: 'work arrived' },
      { ...base, from: 'running', to: 'stopped', reason: 'test stop (exited on SIGTERM)' },
    ]);
    expect(h.snapshot().context.status).toBe('stopped');
  });

  it('stops an idle container after idleStopMs on the injected clock, and reports idle → stopped on exit', async () => {
    const h = await idleHarness();
    h.clock.increment(h.input.idleStopMs - 1);
    expect(containerOf(h.snapshot())).toBe('idle');
    h.clock.increment(1);
    expect(containerOf(h.snapshot())).toBe('stopping');
    await drain();
    expect(h.stops).toEqual([{ sessionId: 's-1', reason: 'idle timeout' }]);
    h.actor.send(EV.exited);
    expect(containerOf(h.snapshot())).toBe('stopped');
    expect(h.statuses().at(-1)).toMatchObject({
      from: 'idle',
      to: 'stopped',
      reason: 'idle timeout (exited with code 0)',
    });
  });

  it('restarts the idle timer when the container was busy in between', async () => {
    const h = await idleHarness();
    h.clock.increment(h.input.idleStopMs - 1);
    h.actor.send(EV.busy);
    h.actor.send(EV.notBusy);
    h.clock.increment(h.input.idleStopMs - 1);
    expect(containerOf(h.snapshot())).toBe('idle');
    h.clock.increment(1);
    expect(containerOf(h.snapshot())).toBe('stopping');
  });

  it.each(['running', 'idle'] as const)('goes %s → stopped on container.exited', async (phase) => {
    const h = phase === 'running' ? await runningHarness() : await idleHarness();
    h.actor.send({ type: 'container.exited', code: 137, signal: null });
    expect(containerOf(h.snapshot())).toBe('stopped');
    expect(h.statuses().at(-1)).toMatchObject({ from: phase, to: 'stopped', reason: 'exited with code 137' });
  });

  it('goes starting → stopped on container.exited without a status event', async () => {
    const h = harness({ autoStart: false });
    h.actor.send(EV.wake);
    h.actor.send(EV.exited);
    expect(containerOf(h.snapshot())).toBe('stopped');
    h.starts[0]!.deferred.resolve(); // the cancelled start settling late changes nothing
    await drain();
    expect(containerOf(h.snapshot())).toBe('stopped');
    expect(h.statuses()).toEqual([]);
  });

  it('turns a rejected startContainer into stopped plus container.startFailed, and can start again', async () => {
    const h = harness({ autoStart: false });
    h.actor.send(EV.wake);
    await drain();
    const error = new Error('image missing');
    h.starts[0]!.deferred.reject(error);
    await h.until(inContainer('stopped'));
    expect(h.emitted).toContainEqual({ type: 'container.startFailed', sessionId: 's-1', error });
    expect(h.statuses()).toEqual([]);
    h.actor.send(EV.wake);
    await drain();
    expect(h.starts).toHaveLength(2);
  });

  it('never starts a closed session', async () => {
    const h = harness();
    h.actor.send(EV.close);
    h.actor.send(EV.wake);
    await drain();
    expect(h.starts).toHaveLength(0);
    expect(containerOf(h.snapshot())).toBe('stopped');
  });

  it('does not restart after the exit when closed while a wake was pending in stopping', async () => {
    const h = await runningHarness();
    h.actor.send(EV.stop);
    h.actor.send(EV.wake);
    h.actor.send(EV.close);
    h.actor.send(EV.exited);
    await drain();
    expect(containerOf(h.snapshot())).toBe('stopped');
    expect(h.starts).toHaveLength(1);
  });

  // Regression: in `starting`, a wake that followed a stop used to be dropped, so the container
  // was stopped right after it started and Runtime.wake() waited forever.
  it('does not lose a wake that arrives after a stop while starting', async () => {
    const h = harness({ autoStart: false });
    h.actor.send(EV.wake);
    h.actor.send(EV.stop);
    h.actor.send(EV.wake);
    await drain();
    h.starts[0]!.deferred.resolve();
    await h.until((s) => containerOf(s) !== 'starting');
    if (containerOf(h.snapshot()) === 'stopping') h.actor.send(EV.exited);
    await drain();
    h.starts.at(-1)!.deferred.resolve();
    await drain();
    expect(containerOf(h.snapshot())).toBe('running');
  });

  // Regression: a rejected stopContainer used to error the whole session actor (status 'error';
  // every later event, mailbox ops included, ignored).
  it('survives a rejected stopContainer', async () => {
    const machine = sessionMachine.provide({
      actors: {
        startContainer: fromPromise<StartOutput, { sessionId: string }>(async () => {}),
        stopContainer: fromPromise<void, { sessionId: string; reason: string }>(async () => {
          throw new Error('docker stop failed');
        }),
      },
    });
    const errors: unknown[] = [];
    const actor = createActor(machine, { input: SESSION_INPUT });
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    actor.send(EV.wake);
    await waitFor(actor, (s) => containerOf(s) === 'running');
    actor.send(EV.stop);
    await drain();
    const status = actor.getSnapshot().status;
    actor.stop();
    expect(errors).toEqual([]);
    expect(status).toBe('active');
  });
});

describe('session actor, passivation', () => {
  it('emits session.passivate once, passivateMs after the session became stopped and quiet', () => {
    const h = harness({ input: { passivateMs: 1_000 } });
    h.clock.increment(999);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toEqual([]);
    h.clock.increment(1);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toEqual([
      { type: 'session.passivate', sessionId: 's-1' },
    ]);
    h.clock.increment(10_000);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toHaveLength(1);
  });

  it('does not passivate while the container is not stopped, and does once it stopped', async () => {
    const h = await runningHarness({ input: { passivateMs: 1_000 } });
    h.clock.increment(5_000);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toEqual([]);
    h.actor.send(EV.stop);
    h.clock.increment(5_000);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toEqual([]);
    h.actor.send(EV.exited);
    h.clock.increment(999);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toEqual([]);
    h.clock.increment(1);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toHaveLength(1);
  });

  it('does not passivate while the mailbox is busy', async () => {
    const h = harness({ input: { passivateMs: 1_000 }, autoCommit: false });
    h.actor.send(EV.enqueue('r1'));
    await h.until((s) => mailboxOf(s) === 'committing');
    h.clock.increment(5_000);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toEqual([]);
    h.commits[0]!.deferred.resolve(okResults(h.commits[0]!.input.ops));
    await h.until((s) => mailboxOf(s) === 'idle');
    h.clock.increment(999);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toEqual([]);
    h.clock.increment(1);
    expect(h.emitted.filter((e) => e.type === 'session.passivate')).toHaveLength(1);
  });
});

describe('session actor, mailbox', () => {
  const settledIds = (h: SessionHarness) =>
    h.emitted.flatMap((e) => (e.type === 'mailbox.settled' ? e.results.map((r) => r.requestId) : []));

  it('commits N same-tick enqueues as one commitBatch call, in order', async () => {
    const h = harness();
    const ids = Array.from({ length: 25 }, (_, i) => `r${i}`);
    for (const id of ids) h.actor.send(EV.enqueue(id));
    await h.until((s) => mailboxOf(s) === 'idle' && s.context.queue.length === 0);
    expect(h.commits.map((c) => c.input.ops.map((o) => o.requestId))).toEqual([ids]);
    expect(settledIds(h)).toEqual(ids);
  });

  it('puts ops that arrive during a commit into the next batch', async () => {
    const h = harness({ autoCommit: false });
    h.actor.send(EV.enqueue('a1'));
    h.actor.send(EV.enqueue('a2'));
    await h.until((s) => mailboxOf(s) === 'committing');
    h.actor.send(EV.enqueue('b1'));
    h.actor.send(EV.enqueue('b2'));
    h.actor.send(EV.enqueue('b3'));
    await drain();
    expect(h.commits).toHaveLength(1);
    h.commits[0]!.deferred.resolve(okResults(h.commits[0]!.input.ops));
    await h.until(() => h.commits.length === 2);
    h.commits[1]!.deferred.resolve(okResults(h.commits[1]!.input.ops));
    await h.until((s) => mailboxOf(s) === 'idle' && s.context.queue.length === 0);
    expect(h.commits.map((c) => c.input.ops.map((o) => o.requestId))).toEqual([
      ['a1', 'a2'],
      ['b1', 'b2', 'b3'],
    ]);
    expect(settledIds(h)).toEqual(['a1', 'a2', 'b1', 'b2', 'b3']);
  });

  it('caps a batch at maxBatch and keeps arrival order across batches', async () => {
    const h = harness({ input: { maxBatch: 3 } });
    const ids = Array.from({ length: 7 }, (_, i) => `r${i}`);
    for (const id of ids) h.actor.send(EV.enqueue(id));
    await h.until((s) => mailboxOf(s) === 'idle' && s.context.queue.length === 0);
    expect(h.commits.map((c) => c.input.ops.map((o) => o.requestId))).toEqual([
      ['r0', 'r1', 'r2'],
      ['r3', 'r4', 'r5'],
      ['r6'],
    ]);
    expect(settledIds(h)).toEqual(ids);
  });

  it('accepts mailbox.enqueue in every mailbox state (none dropped)', async () => {
    const h = harness({ autoCommit: false });
    const seen = new Set<string>();
    const sendIn = (id: string) => {
      seen.add(mailboxOf(h.snapshot()));
      h.actor.send(EV.enqueue(id));
    };
    sendIn('in-idle');
    sendIn('in-gathering');
    await h.until((s) => mailboxOf(s) === 'committing');
    sendIn('in-committing');
    expect(seen).toEqual(new Set(Object.keys(sessionMachine.root.states.mailbox!.states)));
    h.autoCommit = true;
    h.commits[0]!.deferred.resolve(okResults(h.commits[0]!.input.ops));
    await h.until((s) => mailboxOf(s) === 'idle' && s.context.queue.length === 0);
    expect(settledIds(h)).toEqual(['in-idle', 'in-gathering', 'in-committing']);
  });

  it('settles a batch whose operations failed like any other, and commits the next one', async () => {
    const h = harness({ autoCommit: false });
    h.actor.send(EV.enqueue('x1'));
    h.actor.send(EV.enqueue('x2'));
    await h.until((s) => mailboxOf(s) === 'committing');
    h.actor.send(EV.enqueue('y1'));
    const error = new Error('SQLITE_BUSY');
    h.autoCommit = true;
    const failed = h.commits[0]!.input.ops.map((o) => ({
      requestId: o.requestId,
      kind: o.kind,
      ok: false as const,
      error,
    }));
    h.commits[0]!.deferred.resolve({ at: 0, results: failed });
    await h.until((s) => mailboxOf(s) === 'idle' && s.context.queue.length === 0);
    const settled = h.emitted.flatMap((e) => (e.type === 'mailbox.settled' ? e.results : []));
    expect(settled.map((r) => [r.requestId, r.ok])).toEqual([
      ['x1', false],
      ['x2', false],
      ['y1', true],
    ]);
    expect(h.commits.map((c) => c.input.ops.map((o) => o.requestId))).toEqual([['x1', 'x2'], ['y1']]);
  });

  it('commits an enqueue that carries the turn to an idle mailbox at once, without waiting for mailbox.turn', () => {
    const { s, actions } = run(initial(), { type: 'mailbox.enqueue', op: op('t1'), turn: true });
    expect(mailboxOf(s)).toBe('committing');
    expect(paramsOf(actions, 'awaitTurn')).toEqual([]);
    expect((paramsOf(actions, 'commitBatch') as CommitInput[]).map((i) => i.ops.map((o) => o.requestId))).toEqual([
      ['t1'],
    ]);
    // Queued exactly once: nothing is left behind for a second commit.
    expect(s.context.queue).toEqual([]);
  });

  it('only queues an enqueue that carries the turn while the mailbox is gathering or committing', () => {
    const gathering = run(initial(), EV.enqueue('g1'));
    expect(mailboxOf(gathering.s)).toBe('gathering');
    expect(gathering.actions.filter((a) => a.type === 'awaitTurn')).toHaveLength(1);
    const late = run(gathering.s, { type: 'mailbox.enqueue', op: op('g2'), turn: true });
    expect(mailboxOf(late.s)).toBe('gathering');
    expect(paramsOf(late.actions, 'commitBatch')).toEqual([]);
    const committing = run(late.s, ENV.turn);
    expect((paramsOf(committing.actions, 'commitBatch') as CommitInput[])[0]!.ops.map((o) => o.requestId)).toEqual([
      'g1',
      'g2',
    ]);
    const during = run(committing.s, { type: 'mailbox.enqueue', op: op('c1'), turn: true });
    expect(mailboxOf(during.s)).toBe('committing');
    expect(paramsOf(during.actions, 'commitBatch')).toEqual([]);
    expect(during.s.context.queue.map((o) => o.requestId)).toEqual(['c1']);
  });

  it('ignores a commit answer or a turn outside the state that asked for it', () => {
    const idle = initial();
    const stray = run(idle, ENV.committed({ at: 0, results: [] }), ENV.turn);
    expect(mailboxOf(stray.s)).toBe('idle');
    expect(stray.actions.filter((a) => a.type === 'xstate.emit')).toEqual([]);
    const gathering = run(idle, EV.enqueue('g1')).s;
    expect(mailboxOf(run(gathering, ENV.committed({ at: 0, results: [] })).s)).toBe('gathering');
    const committing = run(gathering, ENV.turn).s;
    const again = run(committing, ENV.turn);
    expect(mailboxOf(again.s)).toBe('committing');
    expect(paramsOf(again.actions, 'commitBatch')).toEqual([]);
  });

  it('queues a poll of outbound.db when the container becomes live', async () => {
    const h = await runningHarness();
    expect(h.commits.flatMap((c) => c.input.ops.map((o) => o.kind))).toEqual(['pollOutbound']);
    expect(h.commits[0]!.input.containerStatus).toBe('running');
  });
});

// =================================================================================== model-based

/**
 * API.md, "Container status": stopped → running (wake), running ⇄ idle, running|idle → stopped;
 * any other transition is refused.
 */
const LEGAL_STATUS_CHANGES = new Set([
  'stopped>running',
  'running>idle',
  'idle>running',
  'running>stopped',
  'idle>stopped',
]);

type ModelEventName =
  | 'container.wake'
  | 'container.stop'
  | 'container.exited'
  | 'container.observed(busy)'
  | 'container.observed(idle)'
  | 'session.close'
  | 'start.done'
  | 'start.failed'
  | 'idle.timeout';

interface Flags {
  closed: boolean;
  wakeRequested: boolean;
  stopRequested: boolean;
}

/**
 * The hand-written table: for each phase, the events it accepts and the phase they lead to.
 * An event missing from a phase's row is refused: no change at all (state, context, emits).
 * `session.close` is accepted everywhere: it marks the session closed and never moves the phase.
 */
const ACCEPTED: Record<ContainerPhase, Partial<Record<ModelEventName, (f: Flags) => ContainerPhase | 'refused'>>> = {
  stopped: {
    'container.wake': (f) => (f.closed ? 'stopped' : 'starting'),
    'session.close': () => 'stopped',
  },
  starting: {
    // A wake after a stop request cancels the request (a closed session is never woken).
    'container.wake': (f) => (f.stopRequested && !f.closed ? 'starting' : 'refused'),
    'container.stop': () => 'starting',
    'container.exited': () => 'stopped',
    'session.close': () => 'starting',
    'start.done': (f) => (f.stopRequested ? 'stopping' : 'running'),
    'start.failed': () => 'stopped',
  },
  running: {
    'container.observed(idle)': () => 'idle',
    'container.stop': () => 'stopping',
    'container.exited': () => 'stopped',
    'session.close': () => 'running',
  },
  idle: {
    'container.observed(busy)': () => 'running',
    'container.stop': () => 'stopping',
    'container.exited': () => 'stopped',
    'idle.timeout': () => 'stopping',
    'session.close': () => 'idle',
  },
  stopping: {
    'container.wake': () => 'stopping',
    'container.exited': (f) => (f.wakeRequested && !f.closed ? 'starting' : 'stopped'),
    'session.close': () => 'stopping',
  },
};

const USER_EVENTS: [ModelEventName, SessionEvent][] = [
  ['container.wake', EV.wake],
  ['container.stop', EV.stop],
  ['container.exited', EV.exited],
  ['container.observed(busy)', EV.busy],
  ['container.observed(idle)', EV.notBusy],
  ['session.close', EV.close],
];
const START_FAILURE = new Error('start failed (model)');
/** Outcomes of the container's own actors and timers, possible only in one state each. */
const ENV_EVENTS: [ModelEventName, ContainerPhase, SessionEvent][] = [
  ['start.done', 'starting', ENV.startDone],
  ['start.failed', 'starting', ENV.startFailed(START_FAILURE)],
  ['idle.timeout', 'idle', ENV.idleTimeout],
];

function modelEvents(s: SessionSnapshot): [ModelEventName, SessionEvent][] {
  const phase = containerOf(s);
  return [
    ...USER_EVENTS,
    ...ENV_EVENTS.filter(([, p]) => p === phase).map(([n, , e]): [ModelEventName, SessionEvent] => [n, e]),
  ];
}
const nameOf = new Map<SessionEvent, ModelEventName>(
  [...USER_EVENTS, ...ENV_EVENTS.map(([n, , e]): [ModelEventName, SessionEvent] => [n, e])].map(([n, e]) => [e, n]),
);

const flagsOf = (s: SessionSnapshot): Flags => ({
  closed: s.context.closed,
  wakeRequested: s.context.wakeRequested,
  stopRequested: s.context.stopRequested,
});
/** The traversal key: the container state plus the flags that decide its transitions (bounded). */
const keyOf = (s: SessionSnapshot) => JSON.stringify({ container: containerOf(s), ...flagsOf(s) });

const MODEL_PATHS = getShortestPaths(sessionMachine, {
  input: SESSION_INPUT,
  events: (s) => modelEvents(s).map(([, e]) => e),
  serializeState: (s) => keyOf(s),
  serializeEvent: (e) => nameOf.get(e) ?? JSON.stringify(e),
});

interface Case {
  title: string;
  path: { name: ModelEventName; event: SessionEvent; key: string }[];
  from: SessionSnapshot;
  name: ModelEventName;
  event: SessionEvent;
}

const CASES: Case[] = MODEL_PATHS.flatMap((p) => {
  const path = p.steps
    .filter((step) => (step.event.type as string) !== 'xstate.init')
    .map((step) => ({ name: nameOf.get(step.event)!, event: step.event, key: keyOf(step.state) }));
  const flags = flagsOf(p.state);
  const flagText = Object.entries(flags)
    .filter(([, v]) => v)
    .map(([k]) => k)
    .join(',');
  return modelEvents(p.state).map(([name, event]) => ({
    title: `${containerOf(p.state)}${flagText ? `{${flagText}}` : ''} + ${name}`,
    path,
    from: p.state,
    name,
    event,
  }));
});

/** Runs one model step on a real actor: user events are sent, actor outcomes settled, timers advanced. */
async function perform(h: SessionHarness, name: ModelEventName, event: SessionEvent): Promise<void> {
  switch (name) {
    case 'start.done':
      h.starts.at(-1)!.deferred.resolve();
      await h.until((s) => containerOf(s) !== 'starting');
      return;
    case 'start.failed':
      h.starts.at(-1)!.deferred.reject(START_FAILURE);
      await h.until((s) => containerOf(s) !== 'starting');
      return;
    case 'idle.timeout':
      h.clock.increment(h.input.idleStopMs);
      return;
    default:
      h.actor.send(event);
      await drain();
  }
}

function expectLegalStatusChain(statuses: StatusEvent[], current: ContainerStatus): void {
  let at: ContainerStatus = 'stopped';
  for (const e of statuses) {
    expect(LEGAL_STATUS_CHANGES, `${e.from} → ${e.to} is not a legal status change`).toContain(`${e.from}>${e.to}`);
    expect(e.from).toBe(at);
    at = e.to;
  }
  expect(current).toBe(at);
}

describe('session machine, model-based (container region)', () => {
  it('reaches every container state through the traversal', () => {
    const reached = new Set(MODEL_PATHS.map((p) => containerOf(p.state)));
    expect(reached).toEqual(new Set(Object.keys(sessionMachine.root.states.container!.states)));
    expect(new Set(PHASES)).toEqual(reached);
  });

  it('covers every (reachable state, event) pair', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(MODEL_PATHS.length * USER_EVENTS.length);
    expect(new Set(CASES.map((c) => c.name))).toEqual(new Set(nameOf.values()));
  });

  it('only ever emits status changes from the legal table, in every pure transition', () => {
    for (const c of CASES) {
      const [, actions] = transition(sessionMachine, c.from, c.event);
      for (const e of emittedOf(actions as ActionLike[])) {
        if (e.type !== 'container.status') continue;
        expect(LEGAL_STATUS_CHANGES, `${c.title}: ${e.from} → ${e.to}`).toContain(`${e.from}>${e.to}`);
      }
    }
  });

  it.each(CASES.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    // The pure machine agrees with the table.
    const phase = c.from.context.phase;
    const ruleFor = ACCEPTED[phase][c.name];
    const outcome = ruleFor === undefined ? 'refused' : ruleFor(flagsOf(c.from));
    const rule = outcome === 'refused' ? undefined : () => outcome;
    const [pureNext, pureActions] = transition(sessionMachine, c.from, c.event);
    if (rule === undefined) {
      expect(containerOf(pureNext)).toBe(containerOf(c.from));
      expect(pureNext.context).toEqual(c.from.context);
      expect(emittedOf(pureActions as ActionLike[])).toEqual([]);
      expect((pureActions as ActionLike[]).filter((a) => a.type === 'xstate.spawnChild')).toEqual([]);
    } else {
      expect(containerOf(pureNext)).toBe(rule());
    }

    // A real actor with stubbed actors follows the same path.
    const h = harness({ autoStart: false });
    for (const step of c.path) {
      await perform(h, step.name, step.event);
      expect(keyOf(h.snapshot())).toBe(step.key);
    }
    expect(keyOf(h.snapshot())).toBe(keyOf(c.from));
    const before = h.snapshot();
    const emittedBefore = h.emitted.length;
    const startsBefore = h.starts.length;
    const stopsBefore = h.stops.length;

    await perform(h, c.name, c.event);
    const after = h.snapshot();
    expect(keyOf(after)).toBe(keyOf(pureNext));
    expectLegalStatusChain(h.statuses(), after.context.status);
    if (rule === undefined) {
      expect(containerOf(after)).toBe(containerOf(before));
      expect(flagsOf(after)).toEqual(flagsOf(before));
      expect(after.context.status).toBe(before.context.status);
      expect(after.context.reason).toBe(before.context.reason);
      expect(h.emitted.slice(emittedBefore).filter((e) => e.type.startsWith('container.'))).toEqual([]);
      expect(h.starts).toHaveLength(startsBefore);
      expect(h.stops).toHaveLength(stopsBefore);
    } else {
      expect(containerOf(after)).toBe(rule());
    }
  });
});

describe('session machine, clock stamps', () => {
  it('carries the clock time of the causing event on container.status (observed, exited)', () => {
    const [s0] = initialTransition(sessionMachine, SESSION_INPUT);
    const [live] = transition(sessionMachine, s0, EV.wake);
    const [up, upActions] = transition(sessionMachine, live, {
      ...ENV.startDone,
      output: { at: 1234 },
    } as unknown as SessionEvent);
    expect(emittedOf(upActions as ActionLike[]).filter((e) => e.type === 'container.status')).toMatchObject([
      { to: 'running', at: 1234 },
    ]);
    const [, idleActions] = transition(sessionMachine, up, { type: 'container.observed', busy: false, at: 5678 });
    expect(emittedOf(idleActions as ActionLike[]).filter((e) => e.type === 'container.status')).toMatchObject([
      { to: 'idle', at: 5678 },
    ]);
  });
});
