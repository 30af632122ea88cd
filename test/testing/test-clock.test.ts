import { describe, expect, it } from 'vitest';
import { TestClock } from '../../src/testing/index.js';

describe('TestClock', () => {
  it('starts at the given time, as a number or a Date', () => {
    expect(new TestClock(1_000).now()).toBe(1_000);
    expect(new TestClock(new Date(Date.UTC(2026, 0, 1))).now()).toBe(Date.UTC(2026, 0, 1));
  });

  it('fires timers in due order and ends exactly at now + ms', async () => {
    const clock = new TestClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 200);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 100);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 301);
    await clock.advance(300);
    expect(fired).toEqual(['a@100', 'b@200']);
    expect(clock.now()).toBe(300);
    expect(clock.nextDue()).toBe(301);
    expect(clock.pendingTimers).toBe(1);
  });

  it('fires timers created by reactions within the window, each at its own time', async () => {
    const clock = new TestClock(0);
    const fired: number[] = [];
    // A reaction that happens a turn after its timer (like a commit), then sets the next timer.
    const tick = () => {
      fired.push(clock.now());
      setImmediate(() => {
        if (fired.length < 5) clock.setTimeout(tick, 100);
      });
    };
    clock.setTimeout(tick, 100);
    await clock.advance(450);
    expect(fired).toEqual([100, 200, 300, 400]);
    expect(clock.nextDue()).toBe(500);
  });

  it('advance(0) fires only what is due now; cleared timers never fire; time never goes back', async () => {
    const clock = new TestClock(50);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('now'), 0);
    const later = clock.setTimeout(() => fired.push('later'), 10);
    clock.clearTimeout(later);
    await clock.advance(0);
    expect(fired).toEqual(['now']);
    expect(clock.now()).toBe(50);
    await clock.advance(100);
    expect(fired).toEqual(['now']);
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
    expect(() => clock.set(0)).toThrow(/back in time/);
  });

  it('settles with the hook it is given after every step', async () => {
    const clock = new TestClock(0);
    const seen: number[] = [];
    clock.setSettle(async () => {
      seen.push(clock.now());
    });
    clock.setTimeout(() => undefined, 10);
    await clock.advance(20);
    expect(seen).toEqual([0, 10, 20]);
  });
});
