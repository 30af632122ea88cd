import { describe, expect, it } from 'vitest';
import { changeCoalescer, type CoalescerClock } from '../../src/dashboard/coalesce.js';

/** A clock whose timers fire only when the test advances it. */
function manualClock(): CoalescerClock & { advance(ms: number): void; pending(): number } {
  let now = 1_000;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 0;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++next;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout(handle) {
      timers = timers.filter((t) => t.id !== handle);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
    pending: () => timers.length,
  };
}

describe('changeCoalescer', () => {
  it('turns 1,000 busy sessions changing 20 times each into one batch per interval, each id once', () => {
    const clock = manualClock();
    const batches: string[][] = [];
    const c = changeCoalescer((ids) => batches.push(ids), { intervalMs: 250, clock });
    // Ten bursts of 2,000 notifications, 25 ms apart: 250 ms in all.
    for (let burst = 0; burst < 10; burst++) {
      for (let i = 0; i < 2_000; i++) c.add([`s${i % 1_000}`]);
      clock.advance(25);
    }
    clock.advance(1_000);
    // The first burst goes out at once; everything later waits for the next slot.
    expect(batches.length).toBe(2);
    for (const batch of batches) expect(new Set(batch).size).toBe(batch.length);
    expect(new Set(batches.flat())).toEqual(new Set(Array.from({ length: 1_000 }, (_, i) => `s${i}`)));
  });

  it('never flushes twice within the interval, and flushes a lone change without waiting', () => {
    const clock = manualClock();
    const times: number[] = [];
    const c = changeCoalescer(() => times.push(clock.now()), { intervalMs: 250, clock });
    c.add(['a']);
    clock.advance(0);
    expect(times).toEqual([1_000]);
    for (let t = 0; t < 1_000; t += 10) {
      c.add([`x${t}`]);
      clock.advance(10);
    }
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(250);
    expect(times.length).toBe(5);
    // After a quiet period the next change is not held back.
    clock.advance(5_000);
    const before = times.length;
    c.add(['late']);
    clock.advance(0);
    expect(times.length).toBe(before + 1);
  });

  it('keeps ids added during a flush for the next batch', () => {
    const clock = manualClock();
    const batches: string[][] = [];
    const c = changeCoalescer(
      (ids) => {
        batches.push(ids);
        if (ids.includes('a')) c.add(['b']);
      },
      { intervalMs: 100, clock },
    );
    c.add(['a']);
    clock.advance(0);
    clock.advance(100);
    expect(batches).toEqual([['a'], ['b']]);
  });

  it('drops what is pending on close and ignores later adds', () => {
    const clock = manualClock();
    const batches: string[][] = [];
    const c = changeCoalescer((ids) => batches.push(ids), { intervalMs: 100, clock });
    c.add(['a']);
    c.close();
    c.add(['b']);
    clock.advance(1_000);
    expect(batches).toEqual([]);
    expect(clock.pending()).toBe(0);
  });
});
