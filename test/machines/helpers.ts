/**
 * Test helpers for the machine tests: deferred promises (to hold a start or a commit mid-flight),
 * a one-turn drain, and a session-actor harness whose effects are recorded stubs.
 */
import { createActor, fromPromise, SimulatedClock, waitFor, type Actor, type SnapshotFrom } from 'xstate';
import {
  sessionMachine,
  type CommitInput,
  type MailboxOp,
  type OpResult,
  type SessionEmitted,
  type SessionInput,
} from '../../machines/session.machine.js';
import type { CommitOutput, StartOutput } from '../../machines/session.machine.js';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Lets every already-settled promise run its reactions (one macrotask turn). Not a sleep: it
 * waits for no duration, only for the microtask queue to empty.
 */
export const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

export const SESSION_INPUT: SessionInput = {
  sessionId: 's-1',
  agentGroupId: 'ag-1',
  pollMs: 1_000_000_000,
  idleStopMs: 5_000,
  passivateMs: 1_000_000_000,
  maxBatch: 100,
};

export const okResults = (ops: MailboxOp[]): CommitOutput => ({ at: 0, results: okList(ops) });

const okList = (ops: MailboxOp[]): OpResult[] =>
  ops.map((op) => ({ requestId: op.requestId, kind: op.kind, ok: true, value: op.requestId }));

export type StatusEvent = Extract<SessionEmitted, { type: 'container.status' }>;
export type SessionSnapshot = SnapshotFrom<typeof sessionMachine>;

export interface SessionHarness {
  actor: Actor<typeof sessionMachine>;
  clock: SimulatedClock;
  input: SessionInput;
  starts: { input: { sessionId: string }; deferred: Deferred<void> }[];
  stops: { sessionId: string; reason: string }[];
  commits: { input: CommitInput; deferred: Deferred<CommitOutput> }[];
  emitted: SessionEmitted[];
  errors: unknown[];
  /** Resolve each start as soon as it is invoked. */
  autoStart: boolean;
  /** Resolve each commit with one ok result per op as soon as it is invoked. */
  autoCommit: boolean;
  statuses(): StatusEvent[];
  snapshot(): SessionSnapshot;
  until(predicate: (s: SessionSnapshot) => boolean): Promise<SessionSnapshot>;
}

export interface HarnessOptions {
  input?: Partial<SessionInput>;
  autoStart?: boolean;
  autoCommit?: boolean;
}

/**
 * A started session actor with recorded stubs for `startContainer`, `stopContainer` and
 * `commitBatch`. The commit turn comes one microtask after `awaitTurn` asks for it, so operations
 * sent in the same synchronous run gather into one batch.
 */
export function sessionHarness(options: HarnessOptions = {}): SessionHarness {
  const input = { ...SESSION_INPUT, ...options.input };
  const clock = new SimulatedClock();
  const h = {
    clock,
    input,
    starts: [],
    stops: [],
    commits: [],
    emitted: [],
    errors: [],
    autoStart: options.autoStart ?? true,
    autoCommit: options.autoCommit ?? true,
  } as unknown as SessionHarness;
  const machine = sessionMachine.provide({
    actions: {
      awaitTurn: ({ self }) => queueMicrotask(() => self.send({ type: 'mailbox.turn' })),
      commitBatch: ({ self }, commitInput: CommitInput) => {
        const d = deferred<CommitOutput>();
        h.commits.push({ input: commitInput, deferred: d });
        d.promise.then(
          (output) => self.send({ type: 'mailbox.committed', ...output }),
          (error: unknown) => h.errors.push(error),
        );
        if (h.autoCommit) d.resolve(okResults(commitInput.ops));
      },
    },
    actors: {
      startContainer: fromPromise<StartOutput, { sessionId: string }>(({ input: startInput }) => {
        const d = deferred<void>();
        h.starts.push({ input: startInput, deferred: d });
        if (h.autoStart) d.resolve();
        return d.promise;
      }),
      stopContainer: fromPromise<void, { sessionId: string; reason: string }>(async ({ input: stopInput }) => {
        h.stops.push(stopInput);
      }),
    },
  });
  h.actor = createActor(machine, { input, clock, id: `session:${input.sessionId}` });
  h.actor.on('*', (event) => h.emitted.push(event));
  h.actor.subscribe({ error: (error) => h.errors.push(error) });
  h.statuses = () => h.emitted.filter((e): e is StatusEvent => e.type === 'container.status');
  h.snapshot = () => h.actor.getSnapshot();
  h.until = (predicate) => waitFor(h.actor, predicate);
  h.actor.start();
  return h;
}

/** The container region's state value. */
export const containerOf = (s: SessionSnapshot): string => (s.value as { container: string }).container;
/** The mailbox region's state value. */
export const mailboxOf = (s: SessionSnapshot): string => (s.value as { mailbox: string }).mailbox;

export const op = (requestId: string, extra: Partial<MailboxOp> = {}): MailboxOp => ({
  requestId,
  kind: 'test',
  ...extra,
});
