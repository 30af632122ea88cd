/**
 * The activation table: which sessions have a live actor, and the one session machine they all
 * run, provided with its implementations once per runtime.
 *
 * Invariants (guarded by test/runtime/lifecycle.test.ts and test/runtime/mailbox.test.ts):
 * 1. At most one live actor per session; a stopped, quiet actor is dropped after `passivateMs`
 *    and re-activated on demand from its central row.
 * 2. Every live actor belongs to an active session, or is kept only to read and clear files.
 * 3. The machine is provided once: actors share its definition, and each action finds its
 *    session through the actor that runs it.
 */
import { fromPromise } from 'xstate';
import {
  sessionMachine,
  type CommitInput,
  type OpResult,
  type SessionEmitted,
  type StartOutput,
} from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import type { ActorSystem } from './actor-system.js';
import type { Clock } from './clock.js';
import type { CommitScheduler } from './commit-scheduler.js';
import type { Recorder } from '../eventlog/recorder.js';
import { SessionActor, type SessionActorHost } from './session-actor.js';
import type { SessionOp } from './ops/types.js';
import type { Settings } from './settings.js';

export interface SessionHostDeps {
  system: ActorSystem;
  clock: Clock;
  settings: Settings;
  /** Commit slots: who commits next, and how many at once. */
  scheduler: CommitScheduler;
  recorder: Recorder | undefined;
  /**
   * Commits `input` for `actor` off the event loop and calls `done` with one result per operation
   * (never an exception: failures are results).
   */
  commit(actor: SessionActor, input: CommitInput, at: number, done: (results: OpResult[]) => void): void;
  startContainer(sessionId: string): Promise<{ at: number }>;
  stopContainer(sessionId: string, reason: string): Promise<void>;
  onResults(
    sessionId: string,
    results: OpResult[],
    at: number,
    opOf: (requestId: string) => SessionOp | undefined,
  ): void;
  onEmitted(event: SessionEmitted): void;
  onError(sessionId: string, error: unknown): void;
  /** A session's actor was dropped from memory (passivated or closed). */
  onPassivated?(sessionId: string): void;
}

export class SessionHost {
  /** What every actor shares: one object for the runtime (src/runtime/session-actor.ts). */
  private readonly actorHost: SessionActorHost;
  private readonly live = new Map<string, SessionActor>();
  private readonly byRef = new WeakMap<object, SessionActor>();
  private readonly machine;
  private stopped = false;
  private sealed = false;

  constructor(private readonly deps: SessionHostDeps) {
    const { clock, scheduler } = deps;
    this.machine = sessionMachine.provide({
      actions: {
        awaitTurn: ({ context, self }) => {
          const actor = this.byRef.get(self);
          if (actor === undefined) return;
          scheduler.request(actor, context.queue.length, () => {
            if (self.getSnapshot().status !== 'active') return false;
            self.send({ type: 'mailbox.turn' });
            return true;
          });
        },
        // The slot granted by awaitTurn (or taken with the enqueue) is released when the batch is done.
        commitBatch: ({ self }, input: CommitInput) => {
          const actor = this.byRef.get(self);
          if (actor === undefined) {
            scheduler.release();
            return;
          }
          const at = clock.now();
          scheduler.account(actor, input.ops.length);
          deps.commit(actor, input, at, (results) => {
            scheduler.release();
            if (self.getSnapshot().status === 'active') self.send({ type: 'mailbox.committed', at, results });
          });
        },
      },
      actors: {
        startContainer: fromPromise<StartOutput, { sessionId: string }>(({ input }) =>
          deps.startContainer(input.sessionId),
        ),
        stopContainer: fromPromise<void, { sessionId: string; reason: string }>(({ input }) =>
          deps.stopContainer(input.sessionId, input.reason),
        ),
      },
    });
    const { settings } = deps;
    this.actorHost = {
      machine: this.machine,
      system: deps.system,
      timing: {
        pollMs: settings.pollMs,
        idleStopMs: settings.idleStopMs,
        passivateMs: settings.passivateMs,
        maxBatch: settings.maxBatch,
      },
      tryTakeTurn: (actor, cost) => deps.scheduler.tryTake(actor, cost),
      onResults: (actor, results, at) => deps.onResults(actor.id, results, at, (id) => actor.opOf(id)),
      onEmitted: (_actor, event) => {
        if (event.type === 'session.passivate') this.passivateSoon(event.sessionId);
        else deps.onEmitted(event);
      },
      onError: (actor, error) => deps.onError(actor.id, error),
    };
    const recorder = deps.recorder;
    if (recorder !== undefined) {
      // The event log's feed: every event each session actor processes, in processing order.
      deps.system.inspect((event) => {
        if (event.type !== '@xstate.event' || event.event.type === 'xstate.init') return;
        const actor = this.byRef.get(event.actorRef);
        if (actor === undefined) return;
        recorder.record({ k: 'ev', s: actor.id, e: event.event as { type: string; [key: string]: unknown } });
      });
    }
  }

  get(sessionId: string): SessionActor | undefined {
    return this.live.get(sessionId);
  }

  get size(): number {
    return this.live.size;
  }

  all(): SessionActor[] {
    return [...this.live.values()];
  }

  /** The live actor of `sessionId`, created if there is none. */
  activate(sessionId: string, agentGroupId: string): SessionActor {
    const existing = this.live.get(sessionId);
    if (existing !== undefined) return existing;
    if (this.stopped || this.sealed) throw new RuntimeError('RUNTIME_CLOSED', 'the runtime is closed');
    this.deps.recorder?.record({ k: 'activate', s: sessionId, ag: agentGroupId });
    const actor = new SessionActor(sessionId, agentGroupId, this.actorHost);
    this.byRef.set(actor.actor, actor);
    this.live.set(sessionId, actor);
    actor.start();
    return actor;
  }

  deactivate(sessionId: string): void {
    const actor = this.live.get(sessionId);
    if (actor === undefined) return;
    this.live.delete(sessionId);
    actor.stop();
    this.deps.recorder?.record({ k: 'passivate', s: sessionId });
    this.deps.onPassivated?.(sessionId);
  }

  /** No operation is queued from now on: requests reject RUNTIME_CLOSED (close() is under way). */
  seal(): void {
    for (const actor of this.live.values()) actor.seal();
    this.sealed = true;
  }

  /** Stops every live actor (their pending operations reject RUNTIME_CLOSED); none is created after. */
  stopAll(): void {
    this.stopped = true;
    for (const actor of this.live.values()) actor.stop();
    this.live.clear();
  }

  private passivateSoon(sessionId: string): void {
    queueMicrotask(() => {
      const actor = this.live.get(sessionId);
      if (actor !== undefined && actor.isQuiet()) this.deactivate(sessionId);
    });
  }
}
