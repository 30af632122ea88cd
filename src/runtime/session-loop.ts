/**
 * The container-facing loop of every session: what the runtime does with the results of a commit
 * — a poll's rows go to delivery, its news of the container to the supervisor, refusals become
 * `container.violation`, due times go to the work scheduler — and what it does when scheduled or
 * stranded work comes due.
 *
 * Invariants (guarded by test/runtime/delivery-rules.test.ts, test/runtime/schedule.test.ts,
 * test/runtime/stranded.test.ts and test/runtime/hostile-container.test.ts):
 * 1. Every result of a commit is seen here before its caller is settled (the event log is flushed
 *    first, so an acknowledged operation is always in the log).
 * 2. A refusal of the container's doing is reported as a violation, never silently dropped, and a
 *    failing internal operation (a poll, a sweep) never wedges the session: the next one runs.
 * 3. A scheduled message wakes its session when it falls due, not when it is written.
 * 4. A stopped session whose outbound rows were all found by one poll and all recorded is no
 *    longer marked open in `session_work`, so a restart does not open it again (stranded.test.ts).
 */
import type { OpResult } from '../../machines/session.machine.js';
import { Deliverer } from '../delivery/deliverer.js';
import { DeliveryTargets } from '../delivery/targets.js';
import type { ChannelAdapter, Logger, RuntimeEvents } from './types.js';
import { toStorageError } from '../errors.js';
import { violationOf } from '../files/container-violation.js';
import type { Recorder } from '../eventlog/recorder.js';
import { getSession } from '../store/central.js';
import type { Db } from '../store/session-db.js';
import type { Clock } from './clock.js';
import type { LastActive } from './last-active.js';
import type { PollResult, SessionOp, SweepResult } from './ops/types.js';
import type { SessionActor } from './session-actor.js';
import type { SessionHost } from './session-host.js';
import type { SessionJournal } from './session-journal.js';
import type { Settings } from './settings.js';
import { parseSqliteTime, sqliteDatetime } from './sqlite-time.js';
import type { Supervisor } from './supervisor.js';
import type { Violations } from './violations.js';
import type { WorkScheduler } from './work-scheduler.js';

type ScheduledMessage = { id: string; trigger?: 0 | 1; processAfter?: string | null };

type Emit = <E extends keyof RuntimeEvents>(event: E, payload: Parameters<RuntimeEvents[E]>[0]) => void;

export interface SessionLoopDeps {
  central: Db;
  clock: Clock;
  settings: Settings;
  logger: Logger;
  recorder: Recorder | undefined;
  host: SessionHost;
  supervisor: Supervisor;
  scheduler: WorkScheduler;
  journal: SessionJournal;
  violations: Violations;
  lastActive: LastActive;
  adapterFor(channelType: string | null): ChannelAdapter | undefined;
  /** The live actor of a session, activated if needed (undefined once it is closed or gone). */
  actorFor(sessionId: string): SessionActor | undefined;
  emit: Emit;
  report(error: unknown, sessionId?: string): void;
}

export class SessionLoop {
  readonly deliverer: Deliverer;
  private readonly targets: DeliveryTargets;
  readonly counters = { commits: 0, operations: 0 };
  /** The last failure of an internal operation per session, to report a repeat once. */
  private readonly lastFailure = new Map<string, string>();
  /** Polls whose deliveries may settle their session, counted; the latest one per session. */
  private polls = 0;
  private readonly lastPoll = new Map<string, number>();

  constructor(private readonly deps: SessionLoopDeps) {
    this.targets = new DeliveryTargets({
      central: deps.central,
      adapterFor: deps.adapterFor,
      request: <T>(sessionId: string, op: Parameters<SessionActor['request']>[0]) => {
        const actor = deps.actorFor(sessionId);
        return actor === undefined
          ? Promise.reject(toStorageError(new Error(`session ${sessionId} is gone`), 'delivery'))
          : actor.request<T>(op);
      },
    });
    const journalDelivery = (
      sessionId: string,
      messageId: string,
      status: 'delivered' | 'failed',
      error: string | null,
      row: { channel_type: string | null; platform_id: string | null; thread_id: string | null },
    ) =>
      deps.journal.delivery(sessionId, {
        messageId,
        status,
        at: new Date(deps.clock.now()).toISOString(),
        channelType: row.channel_type,
        platformId: row.platform_id,
        threadId: row.thread_id,
        error,
      });
    this.deliverer = new Deliverer({
      clock: deps.clock,
      logger: deps.logger,
      recordedAt: () => sqliteDatetime(deps.clock.now()),
      maxAttempts: deps.settings.deliveryAttempts,
      backoffMs: deps.settings.deliveryBackoffMs,
      onDelivered: (e, row) => {
        journalDelivery(e.sessionId, e.messageId, 'delivered', null, row);
        deps.emit('outbound.delivered', e);
      },
      onFailed: (e, row) => {
        journalDelivery(e.sessionId, e.messageId, 'failed', e.error.message, row);
        deps.emit('outbound.failed', e);
      },
      onSystem: (e) => deps.emit('system.message', e),
      onViolation: (sessionId, v) => deps.violations.report(sessionId, v, true),
    });
  }

  /** Sees every settled batch before its callers do. */
  onResults(
    sessionId: string,
    results: OpResult[],
    at: number,
    opOf: (requestId: string) => SessionOp | undefined,
  ): void {
    // Before any caller is settled: an acknowledged operation is always in the log.
    this.deps.recorder?.flush();
    this.counters.commits++;
    this.counters.operations += results.length;
    let wrote = false;
    let scheduled = false;
    const actor = this.deps.host.get(sessionId);
    for (const r of results) {
      if (!r.ok) {
        this.onFailure(sessionId, r);
        continue;
      }
      if (r.kind === 'writeMessage') {
        wrote = true;
        const op = opOf(r.requestId);
        if (op?.kind !== 'writeMessage') continue;
        const { seq, duplicate } = r.value as { seq: number; duplicate: boolean };
        this.deps.emit('message.written', { sessionId, id: op.message.id, seq, duplicate });
        if (actor === undefined) continue;
        if (!duplicate) scheduled = this.afterWrite(actor, op.message) || scheduled;
        // A re-sent scheduled message re-arms its wake: the first write's may have been lost
        // to a crash between its commit and the central bookkeeping.
        else scheduled = this.scheduleIfFuture(actor.id, op.message) || scheduled;
      } else if (r.kind === 'pollOutbound') this.onPoll(sessionId, r.value as PollResult);
      else if (r.kind === 'sweep') this.onSweep(sessionId, r.value as SweepResult);
    }
    if (wrote) this.deps.lastActive.touch(sessionId, new Date(at).toISOString());
    // Durable before the writes are acknowledged: a restart finds the wake in session_work.
    if (scheduled) this.deps.scheduler.flush();
  }

  /**
   * A write committed: a `trigger: 1` message wakes the session now, or — scheduled for later —
   * when it falls due.
   */
  afterWrite(actor: SessionActor, message: ScheduledMessage): boolean {
    if (this.scheduleIfFuture(actor.id, message)) return true;
    if (message.trigger === 0 || !this.deps.settings.autoWake || actor.status !== 'stopped') return false;
    actor.send({ type: 'container.wake', reason: `message ${message.id}` });
    // Due now, and known centrally before the write is acknowledged: a crash before the container
    // starts leaves the wake for the next start-up (the sweep after the container exits clears it).
    this.deps.scheduler.dueAt(actor.id, this.deps.clock.now());
    return true;
  }

  /** Arms the wake of a `trigger: 1` message due later; true when it did. */
  private scheduleIfFuture(sessionId: string, message: ScheduledMessage): boolean {
    if (message.trigger === 0 || !this.deps.settings.autoWake || message.processAfter == null) return false;
    const due = parseSqliteTime(message.processAfter);
    if (!Number.isFinite(due) || due <= this.deps.clock.now()) return false;
    this.deps.scheduler.dueAt(sessionId, due);
    return true;
  }

  /** Scheduled work of a session fell due: wake it (the container claims what is due). */
  onDue(sessionId: string): void {
    if (!this.deps.settings.autoWake) return;
    const actor = this.activeActor(sessionId);
    if (actor === undefined || actor.status !== 'stopped') return;
    actor.send({ type: 'container.wake', reason: 'scheduled message due' });
  }

  /** A session may hold unsettled outbound rows (after a restart, or caught by the sweep): poll it. */
  onOpen(sessionId: string): void {
    const actor = this.activeActor(sessionId);
    if (actor === undefined || actor.status !== 'stopped') return; // a live container is polled anyway
    actor.request({ kind: 'pollOutbound' }).catch((error: unknown) => this.deps.report(error, sessionId));
  }

  private activeActor(sessionId: string): SessionActor | undefined {
    const row = getSession(this.deps.central, sessionId);
    if (row === undefined || row.status === 'closed') return undefined;
    return this.deps.actorFor(sessionId);
  }

  private onFailure(sessionId: string, r: Extract<OpResult, { ok: false }>): void {
    const v = violationOf(r.error);
    if (v !== undefined) this.deps.violations.report(sessionId, v);
    // A vanished inbound.db is named in an `error` event (it is never silently recreated: see
    // repairSession); other failures of internal operations, which have no caller to tell, too.
    const missing = v?.kind === 'missing';
    if (!missing && (v !== undefined || (r.kind !== 'pollOutbound' && r.kind !== 'sweep'))) return;
    const text = r.error instanceof Error ? r.error.message : String(r.error);
    if (this.lastFailure.get(sessionId) === text) return;
    this.lastFailure.set(sessionId, text);
    this.deps.report(r.error, sessionId);
  }

  private onPoll(sessionId: string, poll: PollResult): void {
    this.lastFailure.delete(sessionId);
    // Whatever an earlier poll's deliveries conclude, this poll knows better (see below).
    this.lastPoll.delete(sessionId);
    for (const v of poll.snapshot.violations) this.deps.violations.report(sessionId, v);
    // A poll that read the container's side without trouble ends the trouble: the next is new.
    if (poll.snapshot.violations.length === 0 && poll.refused.length === 0) this.deps.violations.clear(sessionId);
    for (const refused of poll.refused) {
      this.deps.violations.report(sessionId, refused.violation, true);
      this.deps.emit('outbound.failed', {
        sessionId,
        messageId: refused.messageId,
        error: new Error(refused.violation.detail),
      });
    }
    for (const r of poll.recurred) {
      const due = parseSqliteTime(r.processAfter);
      if (Number.isFinite(due)) this.deps.scheduler.dueAt(sessionId, due);
    }
    const actor = this.deps.host.get(sessionId);
    if (actor !== undefined) this.deps.supervisor.observe(actor, poll);
    const live = actor !== undefined && actor.status !== 'stopped';
    this.deps.scheduler.setOpen(sessionId, poll.open || live);
    if (poll.undelivered.length === 0) return;
    const settled = this.deliverer.handlePoll(this.targets.for(sessionId), poll);
    if (poll.snapshot.more) return;
    // Once all it found is recorded, a stopped session has nothing unsettled left — unless a later
    // poll (a container started since) knows better.
    const gen = ++this.polls;
    this.lastPoll.set(sessionId, gen);
    void settled.then((all) => {
      if (!all || this.lastPoll.get(sessionId) !== gen) return;
      this.lastPoll.delete(sessionId);
      const current = this.deps.host.get(sessionId);
      if (current === undefined || current.status === 'stopped') this.deps.scheduler.setOpen(sessionId, false);
    });
  }

  private onSweep(sessionId: string, sweep: SweepResult): void {
    if (sweep.replaced !== null) this.deps.violations.report(sessionId, sweep.replaced, true);
    if (sweep.retried.length > 0 || sweep.failed.length > 0) {
      this.deps.logger.warn(
        { sessionId, retried: sweep.retried, failed: sweep.failed },
        'claimed messages of a stopped container swept',
      );
    }
    this.deps.scheduler.nextDue(sessionId, sweep.nextDueAtMs);
  }
}
