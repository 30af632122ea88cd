/**
 * `TestClock`: XState's `SimulatedClock` that also knows when its timers are due, so a test can
 * move time forward the way real time passes, letting the system react between timers.
 *
 * Invariants (test/testing/test-clock.test.ts):
 * 1. `advance(ms)` fires every timer due up to `now + ms` in due order, stopping at each due time
 *    to `settle()` (let the code under test finish what the timer started) before the next, so a
 *    timer created by that reaction also fires when it falls within the window ("fires timers
 *    created by reactions within the window").
 * 2. `advance` ends with the clock at exactly `now + ms`, settled.
 * 3. It never moves time backwards; `advance(0)` fires only what is already due.
 */
import { SimulatedClock } from 'xstate';

/** Waits for one turn of the event loop (I/O and immediates included). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class TestClock extends SimulatedClock {
  private readonly dueAt = new Map<number, number>();
  private settleFn: () => Promise<void> = nextTurn;
  private readonly dueListeners = new Set<() => void>();

  /** A clock reading `start` (ms since the epoch, or a Date). */
  constructor(start: number | Date = 0) {
    super();
    this.set(typeof start === 'number' ? start : start.getTime());
  }

  override setTimeout(fn: (...args: unknown[]) => void, timeout: number): number {
    const delay = Math.max(0, Number.isFinite(timeout) ? timeout : 0);
    const id: number = super.setTimeout((...args: unknown[]) => {
      this.dueAt.delete(id);
      fn(...args);
    }, delay);
    this.dueAt.set(id, this.now() + delay);
    if (delay === 0) for (const listener of this.dueListeners) listener();
    return id;
  }

  override clearTimeout(id: number): void {
    this.dueAt.delete(id);
    super.clearTimeout(id);
  }

  /** How many timers are waiting. */
  get pendingTimers(): number {
    return this.dueAt.size;
  }

  /** When the earliest waiting timer is due, or undefined when none is. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const at of this.dueAt.values()) if (next === undefined || at < next) next = at;
    return next;
  }

  /**
   * What `advance` waits for after each step; by default one event-loop turn. `createTestRuntime`
   * sets it to wait until its runtime is idle.
   */
  setSettle(settle: () => Promise<void>): void {
    this.settleFn = settle;
  }

  /** Calls `listener` whenever a timer is created that is due at once (0 ms). */
  onDueNow(listener: () => void): () => void {
    this.dueListeners.add(listener);
    return () => this.dueListeners.delete(listener);
  }

  /** Fires the timers due at the current time (none of them moves the clock). */
  fireDue(): void {
    this.set(this.now());
  }

  /** Fires what is due now, then waits until the code under test has settled. */
  async settle(): Promise<void> {
    this.fireDue();
    await this.settleFn();
  }

  /** Moves time forward by `ms`, firing and settling every timer due on the way (invariant 1). */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite ms >= 0, got ${ms}`);
    const target = this.now() + ms;
    await this.settle();
    for (;;) {
      const next = this.nextDue();
      if (next === undefined || next > target) break;
      this.set(Math.max(next, this.now()));
      await this.settle();
    }
    if (this.now() < target) this.set(target);
    await this.settle();
  }
}
