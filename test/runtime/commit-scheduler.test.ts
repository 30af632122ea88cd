import { describe, expect, it } from 'vitest';
import { CommitScheduler, type FairShare } from '../../src/runtime/commit-scheduler.js';

const share = (): FairShare => ({ vstart: 0, vfinish: 0 });

describe('CommitScheduler', () => {
  it('never has more grants outstanding than slots, and passes a slot on at each release', () => {
    const s = new CommitScheduler(2);
    const granted: string[] = [];
    const ask = (name: string) => s.request(share(), 1, () => (granted.push(name), true));
    ['a', 'b', 'c', 'd'].forEach(ask);
    expect(granted).toEqual(['a', 'b']);
    expect(s.inFlight).toBe(2);
    s.release();
    expect(granted).toEqual(['a', 'b', 'c']);
    s.release();
    s.release();
    expect(granted).toEqual(['a', 'b', 'c', 'd']);
    expect(s.inFlight).toBe(1);
  });

  it('passes on a declined grant without using the slot', () => {
    const s = new CommitScheduler(1);
    const granted: string[] = [];
    expect(s.tryTake(share(), 1)).toBe(true);
    s.request(share(), 1, () => false);
    s.request(share(), 1, () => (granted.push('live'), true));
    s.release();
    expect(granted).toEqual(['live']);
    expect(s.inFlight).toBe(1);
  });

  it('takes a free slot at once only when nobody waits', () => {
    const s = new CommitScheduler(1);
    expect(s.tryTake(share(), 1)).toBe(true);
    expect(s.tryTake(share(), 1)).toBe(false);
    s.request(share(), 1, () => true);
    s.release(); // granted to the waiter
    expect(s.tryTake(share(), 1)).toBe(false);
  });

  it('grants a quiet session before sessions with a backlog', () => {
    const s = new CommitScheduler(1);
    const busy = [share(), share(), share()];
    const order: string[] = [];
    expect(s.tryTake(busy[0]!, 1000)).toBe(true);
    // Three busy sessions keep asking for big batches; each re-asks as soon as it is granted.
    const again = (i: number) => () => {
      order.push(`busy${i}`);
      return true;
    };
    s.request(busy[1]!, 1000, again(1));
    s.request(busy[2]!, 1000, again(2));
    s.release();
    s.request(busy[1]!, 1000, again(1));
    s.release();
    s.request(busy[2]!, 1000, again(2));
    // A session that wrote nothing for a while asks for one operation.
    const quiet = share();
    s.request(quiet, 1, () => (order.push('quiet'), true));
    s.request(busy[0]!, 1000, again(0));
    s.release();
    expect(order.at(-1)).toBe('quiet');
  });

  it('serves sessions with equal backlogs in turn (round robin), whatever their arrival', () => {
    const s = new CommitScheduler(1);
    const shares = [share(), share(), share()];
    const order: number[] = [];
    expect(s.tryTake(shares[0]!, 10)).toBe(true);
    const loop = (i: number) => (): boolean => {
      order.push(i);
      s.request(shares[i]!, 10, loop(i));
      return true;
    };
    s.request(shares[0]!, 10, loop(0));
    s.request(shares[1]!, 10, loop(1));
    s.request(shares[2]!, 10, loop(2));
    for (let n = 0; n < 9; n++) s.release();
    expect(order).toEqual([1, 2, 0, 1, 2, 0, 1, 2, 0]);
  });
});
