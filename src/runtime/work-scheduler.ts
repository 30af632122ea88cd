/**
 * Work that must happen to a session without anyone asking (issue: "scheduled and stranded work
 * runs on its own"): a scheduled message falling due wakes its session; outbound rows left
 * unsettled are delivered; a periodic sweep (`sweepMs`) catches whatever slipped through.
 *
 * Invariants (guarded by test/runtime/schedule.test.ts and test/runtime/stranded.test.ts):
 * 1. One timer per session, on the injected clock, for its earliest known due time; an earlier
 *    time re-arms it, a later one never delays it. A time further ahead than `MAX_TIMER_MS` is
 *    reached in steps, never early (Node runs a longer delay after 1 ms).
 * 2. What must survive a restart lives in the central DB (`session_work`: the next due time and
 *    whether outbound rows may be unsettled), so start-up finds pending work without opening any
 *    session's files. Clearing is written coalesced (one transaction per event-loop turn); a
 *    session becoming open, and a wake the session loop flushes, are written before the operation
 *    that caused them is acknowledged.
 * 3. The periodic sweep reads only `session_work` rows with work (indexed), never every session.
 */
import { getSessionWork, pendingWork, setSessionWork } from '../store/central-work.js';
import type { Db } from '../store/session-db.js';
import type { Clock } from './clock.js';

/** The longest delay Node's `setTimeout` honours (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface WorkSchedulerDeps {
  central: Db;
  clock: Clock;
  sweepMs: number;
  /** A session's scheduled work is due: wake it. */
  onDue(sessionId: string): void;
  /** A session may hold unsettled outbound rows: poll it (delivers them, clears the mark). */
  onOpen(sessionId: string): void;
  onError(error: unknown): void;
}

interface Work {
  nextWakeAt: number | null;
  open: boolean;
}

export class WorkScheduler {
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly dirty = new Map<string, Work>();
  /** What is known of each session's work (read from the central DB once, then kept here). */
  private readonly known = new Map<string, Work>();
  private flushScheduled = false;
  private sweepTimer: unknown;
  private stopped = false;

  constructor(private readonly deps: WorkSchedulerDeps) {}

  /** Arms the periodic sweep. */
  start(): void {
    this.armSweep();
  }

  /** Start-up: re-arms every session's timer and polls the sessions with open outbound rows. */
  recover(): void {
    for (const w of pendingWork(this.deps.central)) {
      if (w.next_wake_at !== null) this.arm(w.session_id, w.next_wake_at);
      if (w.outbound_open === 1) this.deps.onOpen(w.session_id);
    }
  }

  /** `sessionId` has work due at `atMs` (epoch ms): wake it then, unless it is due earlier. */
  dueAt(sessionId: string, atMs: number): void {
    const current = this.work(sessionId);
    if (current.nextWakeAt !== null && current.nextWakeAt <= atMs && this.timers.has(sessionId)) return;
    this.note(sessionId, {
      ...current,
      nextWakeAt: current.nextWakeAt === null ? atMs : Math.min(current.nextWakeAt, atMs),
    });
    this.arm(sessionId, atMs);
  }

  /** A sweep computed the session's true next due time (or none): replaces what was known. */
  nextDue(sessionId: string, atMs: number | null): void {
    const current = this.work(sessionId);
    this.note(sessionId, { ...current, nextWakeAt: atMs });
    const timer = this.timers.get(sessionId);
    if (timer !== undefined && (atMs === null || timer.at !== atMs)) {
      this.deps.clock.clearTimeout(timer.handle);
      this.timers.delete(sessionId);
    }
    if (atMs !== null) this.arm(sessionId, atMs);
  }

  /**
   * Whether outbound rows of the session may be unsettled (a container ran, a poll left some).
   * Becoming open is written at once, so what the caller acknowledges next is found after a crash.
   */
  setOpen(sessionId: string, open: boolean): void {
    const current = this.work(sessionId);
    if (current.open === open) return;
    this.note(sessionId, { ...current, open });
    if (open) this.flush();
  }

  /** The session closed: no work is left for it. */
  forget(sessionId: string): void {
    const timer = this.timers.get(sessionId);
    if (timer !== undefined) this.deps.clock.clearTimeout(timer.handle);
    this.timers.delete(sessionId);
    this.note(sessionId, { nextWakeAt: null, open: false });
  }

  get armed(): number {
    return this.timers.size;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) this.deps.clock.clearTimeout(t.handle);
    this.timers.clear();
    if (this.sweepTimer !== undefined) this.deps.clock.clearTimeout(this.sweepTimer);
    this.flush();
  }

  /** Writes the pending bookkeeping now (also done once per event-loop turn). */
  flush(): void {
    this.flushScheduled = false;
    if (this.dirty.size === 0 || !this.deps.central.open) return;
    const entries = [...this.dirty];
    this.dirty.clear();
    try {
      this.deps.central.transaction(() => {
        for (const [id, w] of entries) setSessionWork(this.deps.central, id, w.nextWakeAt, w.open);
      })();
    } catch (error) {
      this.deps.onError(error);
    }
  }

  private work(sessionId: string): Work {
    const known = this.known.get(sessionId);
    if (known !== undefined) return known;
    const row = getSessionWork(this.deps.central, sessionId);
    const work = { nextWakeAt: row?.next_wake_at ?? null, open: row?.outbound_open === 1 };
    this.known.set(sessionId, work);
    return work;
  }

  private note(sessionId: string, work: Work): void {
    this.known.set(sessionId, work);
    this.dirty.set(sessionId, work);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private arm(sessionId: string, atMs: number): void {
    if (this.stopped) return;
    if (atMs <= this.deps.clock.now()) {
      // Due already (a restart found it, or the wake was just sent): no timer (a simulated clock
      // would hold it until the next step), the wake goes out at the next microtask.
      const existing = this.timers.get(sessionId);
      if (existing !== undefined) this.deps.clock.clearTimeout(existing.handle);
      this.timers.delete(sessionId);
      queueMicrotask(() => {
        if (!this.stopped) this.deps.onDue(sessionId);
      });
      return;
    }
    const existing = this.timers.get(sessionId);
    if (existing !== undefined) {
      if (existing.at <= atMs) return;
      this.deps.clock.clearTimeout(existing.handle);
    }
    // Node runs a delay over MAX_TIMER_MS after 1 ms: a far time is reached in steps.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, atMs - this.deps.clock.now()));
    const handle = this.deps.clock.setTimeout(() => {
      this.timers.delete(sessionId);
      if (this.stopped) return;
      if (this.deps.clock.now() < atMs) this.arm(sessionId, atMs);
      else this.deps.onDue(sessionId);
    }, delay);
    this.timers.set(sessionId, { at: atMs, handle });
  }

  private armSweep(): void {
    if (this.stopped) return;
    this.sweepTimer = this.deps.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep();
      this.armSweep();
    }, this.deps.sweepMs);
  }

  /** The periodic sweep: due sessions are woken, open ones polled. */
  sweep(): void {
    if (this.stopped) return;
    try {
      this.flush();
      const now = this.deps.clock.now();
      for (const w of pendingWork(this.deps.central)) {
        if (w.next_wake_at !== null && w.next_wake_at <= now) this.deps.onDue(w.session_id);
        else if (w.next_wake_at !== null) this.arm(w.session_id, w.next_wake_at);
        if (w.outbound_open === 1) this.deps.onOpen(w.session_id);
      }
    } catch (error) {
      this.deps.onError(error);
    }
  }
}
