/**
 * The session actor: one per live session, three parallel regions (container, poller, mailbox).
 *
 * Invariants (guarded by test/machines/session.machine.test.ts and test/runtime/mailbox.test.ts):
 * 1. Every event the actor accepts is handled in every state, so none is silently dropped: mailbox
 *    operations are appended to `context.queue` by a root-level handler (or, when the enqueue
 *    carries the commit turn to an idle mailbox, by the transition that commits them at once).
 * 2. Group commit: all operations queued when the commit turn comes (up to `maxBatch`) share one
 *    `commitBatch`; operations arriving while it runs wait for the next one. Order of commit
 *    equals order of arrival. The turn and the commit answer with `mailbox.turn` and
 *    `mailbox.committed`, which only `gathering` and `committing` accept, each sent once per entry.
 * 3. No second start: `container.wake` only has an effect in `stopped` (or `stopping`, where it
 *    restarts after the exit). A start never begins while a host write to `outbound.db` is in
 *    flight, and such a write is only committed with proof that the container is `stopped`.
 * 4. The machine imports no I/O: the actions `awaitTurn` and `commitBatch` and the actors
 *    `startContainer` and `stopContainer` are named here and implemented in
 *    src/runtime/session-actor.ts.
 */
import { assign, emit, enqueueActions, fromPromise, raise, setup } from 'xstate';

export type ContainerStatus = 'stopped' | 'running' | 'idle';
export type ContainerPhase = 'stopped' | 'starting' | 'running' | 'idle' | 'stopping';

/** One queued database operation: plain data, correlated with its caller by `requestId`. */
export interface MailboxOp {
  requestId: string;
  kind: string;
  /** True for the host's writes to `outbound.db`, which need the container stopped. */
  writesOutbound?: boolean;
  payload?: unknown;
}

export type OpResult =
  | { requestId: string; kind: string; ok: true; value: unknown }
  | { requestId: string; kind: string; ok: false; error: unknown };

export interface CommitInput {
  sessionId: string;
  ops: MailboxOp[];
  /** `stopped` only while no container exists or is being started: the proof outbound writes need. */
  containerStatus: ContainerStatus;
}

/** What `startContainer` resolves with: the clock time the container was up, when known. */
export type StartOutput = { at: number } | void;

/** A committed batch: one result per operation, and the clock time the batch ran at. */
export interface CommitOutput {
  at: number;
  results: OpResult[];
}

export interface SessionInput {
  sessionId: string;
  agentGroupId: string;
  pollMs: number;
  idleStopMs: number;
  passivateMs: number;
  maxBatch: number;
}

export interface SessionContext extends SessionInput {
  phase: ContainerPhase;
  status: ContainerStatus;
  queue: MailboxOp[];
  inFlight: MailboxOp[];
  wakeRequested: boolean;
  stopRequested: boolean;
  closed: boolean;
  /** Reason carried into the next status change. */
  reason: string;
  /** Reason of the wake that the next start serves. */
  wakeReason: string;
  polls: number;
}

export type SessionEvent =
  /**
   * One operation (`op`) or several in call order (`ops`), appended to the queue. `turn: true`
   * says the sender already holds this event-loop turn's commit for an idle mailbox, so the
   * batch commits at once instead of waiting for `mailbox.turn`.
   */
  | { type: 'mailbox.enqueue'; op?: MailboxOp; ops?: MailboxOp[]; turn?: boolean }
  /** The commit turn `awaitTurn` asked for has come. */
  | { type: 'mailbox.turn' }
  /** The batch `commitBatch` was handed is committed: one result per operation, in order. */
  | { type: 'mailbox.committed'; at: number; results: OpResult[] }
  | { type: 'container.wake'; reason?: string; at?: number }
  | { type: 'container.stop'; reason: string; at?: number }
  | { type: 'container.exited'; code: number | null; signal: string | null; at?: number }
  | { type: 'container.observed'; busy: boolean; at?: number }
  | { type: 'session.close' }
  | { type: 'session.quietCheck' };

export type SessionEmitted =
  | { type: 'mailbox.settled'; results: OpResult[]; at: number }
  | {
      type: 'container.status';
      sessionId: string;
      from: ContainerStatus;
      to: ContainerStatus;
      reason: string;
      /** Clock time carried by the event that caused the change (epoch ms), if it had one. */
      at: number | null;
    }
  | { type: 'container.startFailed'; sessionId: string; error: unknown }
  | { type: 'container.stopFailed'; sessionId: string; error: unknown }
  | { type: 'session.passivate'; sessionId: string };

/** The status the outside sees: a start is still `stopped`, a stop keeps the status it had. */
function outwardStatus(phase: ContainerPhase, current: ContainerStatus): ContainerStatus {
  if (phase === 'starting' || phase === 'stopping') return current;
  return phase;
}

/** The clock time an event carries: its own `at`, or the `at` in an invoked actor's output. */
function stampOf(event: { type: string }): number | null {
  const e = event as { at?: unknown; output?: { at?: unknown } };
  if (typeof e.at === 'number') return e.at;
  if (typeof e.output === 'object' && e.output !== null && typeof e.output.at === 'number') return e.output.at;
  return null;
}

function describeExit(event: { code: number | null; signal: string | null }): string {
  return event.signal !== null ? `exited on ${event.signal}` : `exited with code ${String(event.code)}`;
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
    emitted: {} as SessionEmitted,
  },
  actors: {
    /** Starts the container; resolves with the clock time at which it was up. */
    startContainer: fromPromise<StartOutput, { sessionId: string }>(async () => {}),
    stopContainer: fromPromise<void, { sessionId: string; reason: string }>(async () => {}),
  },
  delays: {
    pollMs: ({ context }) => context.pollMs,
    idleStopMs: ({ context }) => context.idleStopMs,
    passivateMs: ({ context }) => context.passivateMs,
  },
  guards: {
    hasQueued: ({ context }) => context.queue.length > 0,
    carriesTurn: ({ event }) => event.type === 'mailbox.enqueue' && event.turn === true,
    canStart: ({ context }) =>
      context.wakeRequested &&
      !context.closed &&
      !context.inFlight.some((op) => op.writesOutbound === true) &&
      !context.queue.some((op) => op.writesOutbound === true),
    isStoppedPhase: ({ context }) => context.phase === 'stopped' || context.phase === 'stopping',
    stopRequested: ({ context }) => context.stopRequested,
    notClosed: ({ context }) => !context.closed,
    containerStopped: ({ context }) => context.phase === 'stopped',
    containerLive: ({ context }) => context.phase === 'running' || context.phase === 'idle',
    observedBusy: ({ event }) => event.type === 'container.observed' && event.busy,
    observedIdle: ({ event }) => event.type === 'container.observed' && !event.busy,
  },
  actions: {
    /**
     * Asks for the session's commit turn (at most one commit per event-loop turn across sessions);
     * the grant is sent back as `mailbox.turn`, at once when the turn is free. Operations arriving
     * while the session waits join its batch.
     */
    awaitTurn: enqueueActions(() => {}),
    /**
     * Commits `params.ops` in one open → transaction → close cycle, synchronously, and sends back
     * `mailbox.committed` with one result per operation. Never throws: failures are results.
     */
    commitBatch: enqueueActions((_, _params: CommitInput) => {}),
    // Appends in place: copying the queue on every event made a burst of n operations O(n²).
    // The queue is private to the mailbox; `takeBatch` hands out fresh arrays.
    enqueue: assign({
      queue: ({ context, event }) => {
        if (event.type !== 'mailbox.enqueue') return context.queue;
        if (event.op !== undefined) context.queue.push(event.op);
        if (event.ops !== undefined) for (const op of event.ops) context.queue.push(op);
        return context.queue;
      },
    }),
    takeBatch: assign(({ context }) => ({
      inFlight: context.queue.slice(0, context.maxBatch),
      queue: context.queue.slice(context.maxBatch),
    })),
    settleBatch: emit(({ event }) => {
      const { results, at } = event as unknown as CommitOutput;
      return { type: 'mailbox.settled' as const, results, at };
    }),
    clearInFlight: assign({ inFlight: [] }),
    enqueuePoll: assign(({ context }) => {
      const op = { requestId: `poll:${context.sessionId}:${context.polls + 1}`, kind: 'pollOutbound' };
      return { polls: context.polls + 1, queue: [...context.queue, { ...op, payload: { kind: 'pollOutbound' } }] };
    }),
    /** Moves to `phase`; reports a change of the outward status (stopped | running | idle). */
    changePhase: enqueueActions(({ context, event, enqueue }, params: { phase: ContainerPhase }) => {
      const to = outwardStatus(params.phase, context.status);
      enqueue.assign({ phase: params.phase, status: to });
      if (to !== context.status) {
        enqueue.emit({
          type: 'container.status',
          sessionId: context.sessionId,
          from: context.status,
          to,
          reason: context.reason,
          at: stampOf(event),
        });
      }
    }),
    noteReason: assign({
      reason: ({ event }) => {
        switch (event.type) {
          case 'container.wake':
            return event.reason ?? 'wake';
          case 'container.stop':
            return event.reason;
          case 'container.exited':
            return describeExit(event);
          case 'container.observed':
            return event.busy ? 'work arrived' : 'no claimed or due work';
          default:
            return event.type;
        }
      },
    }),
    requestWake: assign({
      wakeRequested: true,
      wakeReason: ({ context, event }) =>
        event.type === 'container.wake' ? (event.reason ?? 'wake') : context.wakeReason,
    }),
    /** A start begins: the status change it leads to is explained by the wake that asked for it. */
    adoptWakeReason: assign({ reason: ({ context }) => context.wakeReason }),
    cancelStopRequest: assign({ stopRequested: false }),
    reportStopFailed: emit(({ context, event }) => ({
      type: 'container.stopFailed' as const,
      sessionId: context.sessionId,
      error: (event as unknown as { error: unknown }).error,
    })),
    requestStop: assign({ stopRequested: true }),
    clearRequests: assign({ wakeRequested: false, stopRequested: false }),
    markClosed: assign({ closed: true, wakeRequested: false }),
    reportStartFailed: emit(({ context, event }) => ({
      type: 'container.startFailed' as const,
      sessionId: context.sessionId,
      error: (event as unknown as { error: unknown }).error,
    })),
    requestPassivation: emit(({ context }) => ({ type: 'session.passivate' as const, sessionId: context.sessionId })),
    raiseQuietCheck: raise({ type: 'session.quietCheck' }),
  },
}).createMachine({
  id: 'session',
  type: 'parallel',
  context: ({ input }) => ({
    ...input,
    phase: 'stopped',
    status: 'stopped',
    queue: [],
    inFlight: [],
    wakeRequested: false,
    stopRequested: false,
    closed: false,
    reason: 'activated',
    wakeReason: 'wake',
    polls: 0,
  }),
  on: {
    'mailbox.enqueue': { actions: 'enqueue' },
    // Only a stopped (or stopping) container can be woken; the wake is remembered until it can start.
    'container.wake': { guard: 'isStoppedPhase', actions: 'requestWake' },
    'session.close': { actions: 'markClosed' },
  },
  states: {
    container: {
      initial: 'stopped',
      states: {
        stopped: {
          entry: [{ type: 'changePhase', params: { phase: 'stopped' } }, 'raiseQuietCheck'],
          always: { guard: 'canStart', target: 'starting' },
        },
        starting: {
          entry: ['adoptWakeReason', { type: 'changePhase', params: { phase: 'starting' } }],
          exit: 'clearRequests',
          invoke: {
            src: 'startContainer',
            input: ({ context }) => ({ sessionId: context.sessionId }),
            onDone: [{ guard: 'stopRequested', target: 'stopping' }, { target: 'running' }],
            onError: { target: 'stopped', actions: 'reportStartFailed' },
          },
          on: {
            'container.stop': { actions: ['requestStop', 'noteReason'] },
            // A wake after a stop request during the start wins: the container stays up.
            'container.wake': { guard: 'notClosed', actions: 'cancelStopRequest' },
            'container.exited': { target: 'stopped', actions: 'noteReason' },
          },
        },
        running: {
          entry: { type: 'changePhase', params: { phase: 'running' } },
          on: {
            'container.observed': { guard: 'observedIdle', target: 'idle', actions: 'noteReason' },
            'container.stop': { target: 'stopping', actions: 'noteReason' },
            'container.exited': { target: 'stopped', actions: 'noteReason' },
          },
        },
        idle: {
          entry: { type: 'changePhase', params: { phase: 'idle' } },
          after: { idleStopMs: { target: 'stopping', actions: assign({ reason: 'idle timeout' }) } },
          on: {
            'container.observed': { guard: 'observedBusy', target: 'running', actions: 'noteReason' },
            'container.stop': { target: 'stopping', actions: 'noteReason' },
            'container.exited': { target: 'stopped', actions: 'noteReason' },
          },
        },
        stopping: {
          entry: { type: 'changePhase', params: { phase: 'stopping' } },
          invoke: {
            src: 'stopContainer',
            input: ({ context }) => ({ sessionId: context.sessionId, reason: context.reason }),
            // The container may still be alive: report, and keep waiting for its exit.
            onError: { actions: 'reportStopFailed' },
          },
          on: {
            'container.exited': {
              target: 'stopped',
              actions: assign({ reason: ({ context, event }) => `${context.reason} (${describeExit(event)})` }),
            },
          },
        },
      },
    },
    poller: {
      initial: 'off',
      states: {
        off: { always: { guard: 'containerLive', target: 'polling' } },
        polling: {
          entry: 'enqueuePoll',
          after: { pollMs: [{ guard: 'containerLive', target: 'polling', reenter: true }, { target: 'off' }] },
        },
      },
    },
    mailbox: {
      initial: 'idle',
      states: {
        idle: {
          always: { guard: 'hasQueued', target: 'gathering' },
          after: {
            passivateMs: { guard: 'containerStopped', actions: 'requestPassivation' },
          },
          on: {
            // Holding this turn's commit, the operations need not wait for one: commit at once.
            'mailbox.enqueue': { guard: 'carriesTurn', target: 'committing', actions: 'enqueue' },
            'session.quietCheck': { target: 'idle', reenter: true },
          },
        },
        gathering: {
          entry: 'awaitTurn',
          on: { 'mailbox.turn': 'committing' },
        },
        committing: {
          entry: [
            'takeBatch',
            {
              type: 'commitBatch',
              params: ({ context }): CommitInput => ({
                sessionId: context.sessionId,
                ops: context.inFlight,
                containerStatus: context.phase === 'stopped' ? 'stopped' : 'running',
              }),
            },
          ],
          on: { 'mailbox.committed': { target: 'idle', actions: ['settleBatch', 'clearInFlight'] } },
        },
      },
    },
  },
});

export type SessionMachine = typeof sessionMachine;
