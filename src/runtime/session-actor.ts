/**
 * A live session: one actor of the session machine in the runtime's actor system, plus the promise
 * side of its mailbox (request ids → resolvers).
 *
 * Invariants (guarded by test/runtime/mailbox.test.ts):
 * 1. Every request settles exactly once: by its result in `mailbox.settled`, or by `stop()`,
 *    which rejects what is still pending with RUNTIME_CLOSED.
 * 2. Operations requested in one synchronous run reach the actor as one `mailbox.enqueue`, in call
 *    order, before any other event sent after them.
 * 3. Actor errors never escape: the actor has an error observer that reports them.
 */
import { waitFor, type Actor } from 'xstate';
import type {
  ContainerPhase,
  ContainerStatus,
  MailboxOp,
  OpResult,
  SessionEmitted,
  SessionEvent,
  SessionMachine,
} from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import type { ActorSystem } from './actor-system.js';
import type { FairShare } from './commit-scheduler.js';
import type { SessionOp } from './session-ops.js';

/**
 * What every session actor of a runtime shares (one object, not one set of closures per actor:
 * a live actor must stay small — the scale benchmark holds 100,000 of them).
 */
export interface SessionActorHost {
  /** The session machine with its implementations, provided once per runtime. */
  readonly machine: SessionMachine;
  readonly system: ActorSystem;
  readonly timing: { pollMs: number; idleStopMs: number; passivateMs: number; maxBatch: number };
  /** May the mailbox commit `cost` operations right now, in this very step? (a free slot, nobody waiting) */
  tryTakeTurn(actor: SessionActor, cost: number): boolean;
  /** Sees every settled result before its caller does (events, delivery, last_active). */
  onResults(actor: SessionActor, results: OpResult[], at: number): void;
  onEmitted(actor: SessionActor, event: SessionEmitted): void;
  onError(actor: SessionActor, error: unknown): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  op: SessionOp;
}

/** Operations that write the session's files: refused once the session is closed. */
const WRITING: ReadonlySet<string> = new Set(['writeMessage', 'writeRouting', 'recordDelivery', 'writeOutboundDirect']);

/** The inspection id of a session's actor. */
export function sessionActorId(sessionId: string): string {
  return `session:${sessionId}`;
}

export class SessionActor implements FairShare {
  readonly id: string;
  /** The commit scheduler's memory of this session (virtual start and end of its last batch). */
  vstart = 0;
  vfinish = 0;
  readonly agentGroupId: string;
  readonly actor: Actor<SessionMachine>;
  /** Whether this process already ran the lazy column migration of the session's inbound.db. */
  migrated = false;
  /** Requests not yet settled, by request id (allocated on the first request). */
  private pending: Map<string, Pending> | undefined;
  private readonly host: SessionActorHost;
  private requests = 0;
  /** Operations requested in this synchronous run, sent as one event at the next microtask. */
  private unsent: MailboxOp[] | undefined;
  private sealed = false;
  /** The session is closed: this actor only reads and clears files (requests that write reject). */
  sessionClosed = false;

  constructor(sessionId: string, agentGroupId: string, host: SessionActorHost) {
    this.id = sessionId;
    this.agentGroupId = agentGroupId;
    this.host = host;
    this.actor = host.system.create(host.machine, sessionActorId(sessionId), {
      input: { sessionId, agentGroupId, ...host.timing },
    });
    this.actor.on('*', (e) => {
      if (e.type !== 'mailbox.settled') {
        this.host.onEmitted(this, e);
        return;
      }
      this.host.onResults(this, e.results, e.at);
      for (const r of e.results) this.settle(r);
    });
    this.actor.subscribe({ error: (error) => this.host.onError(this, error) });
  }

  /** The operation behind a request not yet settled. */
  opOf(requestId: string): SessionOp | undefined {
    return this.pending?.get(requestId)?.op;
  }

  /** Starts the actor; call once its owner can find it (its first events may need that). */
  start(): void {
    this.actor.start();
  }

  /**
   * Queues `op` and resolves with its result once it is committed and the DB closed. Operations
   * requested in the same synchronous run reach the actor as one `mailbox.enqueue` event (sent
   * at the next microtask, or before any other event), so a burst of n calls costs one actor
   * step, not n.
   */
  request<T>(op: SessionOp, writesOutbound = false): Promise<T> {
    if (this.sealed) return Promise.reject(new RuntimeError('RUNTIME_CLOSED', 'the runtime is closing'));
    if (this.sessionClosed && WRITING.has(op.kind)) {
      return Promise.reject(new RuntimeError('SESSION_CLOSED', `session ${this.id} is closed`));
    }
    const requestId = `${this.id}:${++this.requests}`;
    return new Promise<T>((resolve, reject) => {
      (this.pending ??= new Map()).set(requestId, { resolve: resolve as (v: unknown) => void, reject, op });
      const entry = { requestId, kind: op.kind, writesOutbound, payload: op };
      if (this.unsent === undefined) {
        this.unsent = [entry];
        queueMicrotask(() => this.sendQueued(true));
      } else this.unsent.push(entry);
    });
  }

  /** Operations requested but not yet settled (queued, unsent or committing). */
  get outstanding(): number {
    return this.pending?.size ?? 0;
  }

  send(event: SessionEvent): void {
    // Operations requested before this event reach the actor before it: call order is kept.
    this.sendQueued(false);
    this.actor.send(event);
  }

  /**
   * Sends the operations requested so far as one `mailbox.enqueue`. From a microtask no actor is
   * mid-step, so an idle mailbox seen in the snapshot really is idle: then the event may carry
   * the commit turn (`turn: true`) and the batch commits inside this very send.
   */
  private sendQueued(fromMicrotask: boolean): void {
    const ops = this.unsent;
    if (ops === undefined) return;
    this.unsent = undefined;
    const event: SessionEvent =
      ops.length === 1 ? { type: 'mailbox.enqueue', op: ops[0] } : { type: 'mailbox.enqueue', ops };
    if (fromMicrotask && this.mailboxIdle() && this.host.tryTakeTurn(this, ops.length)) event.turn = true;
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
    try {
      await waitFor(this.actor, (snapshot) => done(snapshot.context.phase));
    } catch (error) {
      // The actor was stopped (the runtime closed) before the phase came.
      if (this.actor.getSnapshot().status === 'stopped') {
        throw new RuntimeError('RUNTIME_CLOSED', `session ${this.id} was stopped`, { cause: error });
      }
      throw error;
    }
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
      this.outstanding === 0 &&
      this.unsent === undefined
    );
  }

  /**
   * The session is closed: operations that write reject `SESSION_CLOSED` from now on, and the
   * machine refuses wakes (`session.close`). Reads and outbox clean-up stay allowed.
   */
  markClosed(): void {
    this.sessionClosed = true;
    this.send({ type: 'session.close' });
  }

  /** Refuses new operations from now on; what is queued still commits. */
  seal(): void {
    this.sendQueued(false);
    this.sealed = true;
  }

  /** Resolves once nothing is queued or committing (operations sent so far are all settled). */
  async untilDrained(): Promise<void> {
    this.sendQueued(false);
    await waitFor(
      this.actor,
      (s) => s.context.queue.length === 0 && s.context.inFlight.length === 0 && s.matches({ mailbox: 'idle' }),
    ).catch(() => undefined);
  }

  /** Nothing queued, committing or awaited, and no container start or stop under way. */
  isSettled(): boolean {
    const { context } = this.actor.getSnapshot();
    return (
      context.phase !== 'starting' &&
      context.phase !== 'stopping' &&
      context.queue.length === 0 &&
      context.inFlight.length === 0 &&
      this.outstanding === 0 &&
      this.unsent === undefined
    );
  }

  stop(): void {
    this.sendQueued(false);
    this.host.system.stopMember(this.actor);
    const pending = this.pending;
    this.pending = undefined;
    for (const p of pending?.values() ?? []) {
      p.reject(new RuntimeError('RUNTIME_CLOSED', `session ${this.id} was stopped before the operation ran`));
    }
  }

  private settle(result: OpResult): void {
    const p = this.pending?.get(result.requestId);
    if (p === undefined) return;
    this.pending!.delete(result.requestId);
    if (result.ok) p.resolve(result.value);
    else p.reject(result.error);
  }
}
