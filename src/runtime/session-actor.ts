/**
 * A live session: the session machine provided with its implementations, plus the promise side
 * of its mailbox (request ids → resolvers).
 *
 * Invariants (guarded by test/runtime/mailbox.test.ts):
 * 1. Every request settles exactly once: by its result in `mailbox.settled`, or by `stop()`,
 *    which rejects what is still pending with RUNTIME_CLOSED.
 * 2. Actor errors never escape: the actor has an error observer that reports, and the
 *    `commitBatch` action never throws, because `executeBatch` turns every failure into results
 *    (test/runtime/session-ops.test.ts).
 */
import { createActor, fromPromise, waitFor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import {
  sessionMachine,
  type CommitInput,
  type MailboxOp,
  type StartOutput,
  type ContainerPhase,
  type ContainerStatus,
  type OpResult,
  type SessionEmitted,
  type SessionEvent,
} from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import type { Clock } from './clock.js';
import type { CommitTurns } from './commit-turns.js';
import { executeBatch, type BatchEnv, type SessionOp } from './session-ops.js';

export interface SessionActorDeps {
  sessionId: string;
  agentGroupId: string;
  clock: Clock;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  pollMs: number;
  idleStopMs: number;
  passivateMs: number;
  maxBatch: number;
  env: BatchEnv;
  /** Shared by all sessions: one commit per event-loop turn; a same-tick burst lands in one batch. */
  turns: CommitTurns;
  /** Starts the container; resolves with the clock time it was up. */
  startContainer(sessionId: string): Promise<{ at: number }>;
  stopContainer(sessionId: string, reason: string): Promise<void>;
  /** Sees every settled result before its caller does (events, delivery, last_active). */
  onResults(sessionId: string, results: OpResult[], at: number): void;
  /** Sees every event the actor itself receives, in processing order (the event log's feed). */
  onActorEvent?(sessionId: string, event: { type: string }): void;
  onEmitted(event: SessionEmitted): void;
  onError(sessionId: string, error: unknown): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class SessionActor {
  readonly id: string;
  private readonly actor: Actor<typeof sessionMachine>;
  private readonly pending = new Map<string, Pending>();
  private readonly turns: CommitTurns;
  private requests = 0;
  private unsent: MailboxOp[] = [];

  constructor(deps: SessionActorDeps) {
    this.id = deps.sessionId;
    this.turns = deps.turns;
    const machine = sessionMachine.provide({
      actions: {
        awaitTurn: ({ self }) =>
          deps.turns.request(() => {
            if (self.getSnapshot().status !== 'active') return false;
            self.send({ type: 'mailbox.turn' });
            return true;
          }),
        // executeBatch never throws (test/runtime/session-ops.test.ts): failures are results.
        commitBatch: ({ self }, input: CommitInput) => {
          const at = deps.clock.now();
          self.send({ type: 'mailbox.committed', at, results: executeBatch(deps.env, input, at) });
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
    const record = deps.onActorEvent;
    const userInspect = deps.inspect;
    const inspect =
      record === undefined
        ? userInspect
        : (event: InspectionEvent) => {
            if (event.type === '@xstate.event' && event.actorRef === this.actor && event.event.type !== 'xstate.init') {
              record(this.id, event.event);
            }
            if (typeof userInspect === 'function') userInspect(event);
            else userInspect?.next?.(event);
          };
    this.actor = createActor(machine, {
      id: `session:${deps.sessionId}`,
      clock: deps.clock,
      inspect,
      input: {
        sessionId: deps.sessionId,
        agentGroupId: deps.agentGroupId,
        pollMs: deps.pollMs,
        idleStopMs: deps.idleStopMs,
        passivateMs: deps.passivateMs,
        maxBatch: deps.maxBatch,
      },
    });
    this.actor.on('mailbox.settled', (e) => {
      deps.onResults(this.id, e.results, e.at);
      for (const r of e.results) this.settle(r);
    });
    this.actor.on('*', (e) => {
      if (e.type !== 'mailbox.settled') deps.onEmitted(e);
    });
    this.actor.subscribe({ error: (error) => deps.onError(this.id, error) });
    this.actor.start();
  }

  /**
   * Queues `op` and resolves with its result once it is committed and the DB closed. Operations
   * requested in the same synchronous run reach the actor as one `mailbox.enqueue` event (sent
   * at the next microtask, or before any other event), so a burst of n calls costs one actor
   * step, not n.
   */
  request<T>(op: SessionOp, writesOutbound = false): Promise<T> {
    const requestId = `${this.id}:${++this.requests}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(requestId, { resolve: resolve as (v: unknown) => void, reject });
      this.unsent.push({ requestId, kind: op.kind, writesOutbound, payload: op });
      if (this.unsent.length === 1) queueMicrotask(() => this.sendQueued(true));
    });
  }

  send(event: SessionEvent): void {
    // Operations requested before this event reach the actor before it: call order is kept.
    this.sendQueued(false);
    this.actor.send(event);
  }

  /**
   * Sends the operations requested so far as one `mailbox.enqueue`. From a microtask no actor is
   * mid-step, so an idle mailbox seen in the snapshot really is idle: then the event may carry
   * this turn's commit (`turn: true`) and the batch commits inside this very send.
   */
  private sendQueued(fromMicrotask: boolean): void {
    if (this.unsent.length === 0) return;
    const ops = this.unsent;
    this.unsent = [];
    const event: SessionEvent =
      ops.length === 1 ? { type: 'mailbox.enqueue', op: ops[0] } : { type: 'mailbox.enqueue', ops };
    if (fromMicrotask && this.mailboxIdle() && this.turns.tryTake()) event.turn = true;
    this.actor.send(event);
  }

  private mailboxIdle(): boolean {
    const snapshot = this.actor.getSnapshot();
    return snapshot.status === 'active' && snapshot.matches({ mailbox: 'idle' });
  }

  get phase(): ContainerPhase {
    return this.actor.getSnapshot().context.phase;
  }

  /** Resolves once the container phase satisfies `done` (checked now and on every change). */
  async untilPhase(done: (phase: ContainerPhase) => boolean): Promise<void> {
    await waitFor(this.actor, (snapshot) => done(snapshot.context.phase));
  }

  get status(): ContainerStatus {
    return this.actor.getSnapshot().context.status;
  }

  /** Stopped, nothing queued or committing, nobody waiting: safe to drop from memory. */
  isQuiet(): boolean {
    const { context } = this.actor.getSnapshot();
    return (
      context.phase === 'stopped' &&
      context.queue.length === 0 &&
      context.inFlight.length === 0 &&
      this.pending.size === 0
    );
  }

  stop(): void {
    this.sendQueued(false);
    this.actor.stop();
    for (const [requestId, p] of this.pending) {
      this.pending.delete(requestId);
      p.reject(new RuntimeError('RUNTIME_CLOSED', `session ${this.id} was stopped before the operation ran`));
    }
  }

  private settle(result: OpResult): void {
    const p = this.pending.get(result.requestId);
    if (p === undefined) return;
    this.pending.delete(result.requestId);
    if (result.ok) p.resolve(result.value);
    else p.reject(result.error);
  }
}
