/**
 * The injected clock, wrapped so the runtime knows which of its timers are pending and when each
 * is due — what `whenIdle()` needs to tell "nothing left to do now" from "a timer is due".
 *
 * Invariant (guarded by test/runtime/when-idle.test.ts): every timer the runtime or its actors
 * set goes through this clock, and leaves the pending set when it fires or is cleared.
 */
import type { Clock } from './clock.js';

interface Pending {
  handle: unknown;
  dueAt: number;
}

const MAX_DELAY_MS = 2 ** 31 - 1;

export class TrackedClock implements Clock {
  private readonly pending = new Map<object, Pending>();

  constructor(private readonly inner: Clock) {}

  now(): number {
    return this.inner.now();
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    const token = {};
    const dueAt = this.inner.now() + ms;
    this.pending.set(token, { handle: this.arm(token, fn, dueAt), dueAt });
    return token;
  }

  /**
   * Node runs a delay over 2^31-1 ms (about 24.8 days) after 1 ms: a far timer is reached in
   * steps of at most that, re-armed until it is due.
   */
  private arm(token: object, fn: (...args: unknown[]) => void, dueAt: number): unknown {
    const delay = Math.max(0, dueAt - this.inner.now());
    return this.inner.setTimeout(
      (...args: unknown[]) => {
        const p = this.pending.get(token);
        if (p === undefined) return;
        if (this.inner.now() < dueAt) {
          p.handle = this.arm(token, fn, dueAt);
          return;
        }
        this.pending.delete(token);
        fn(...args);
      },
      Math.min(delay, MAX_DELAY_MS),
    );
  }

  clearTimeout(token: unknown): void {
    const p = this.pending.get(token as object);
    if (p === undefined) return;
    this.pending.delete(token as object);
    this.inner.clearTimeout(p.handle);
  }

  /** Whether a pending timer is due at the clock's current time (it has not fired yet). */
  anyDue(): boolean {
    const now = this.inner.now();
    for (const p of this.pending.values()) if (p.dueAt <= now) return true;
    return false;
  }

  get size(): number {
    return this.pending.size;
  }
}
