import { describe, expect, it } from 'vitest';
import { CommitTurns } from '../../src/runtime/commit-turns.js';

/** One event-loop turn: everything `setImmediate` queued before this call has run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('CommitTurns', () => {
  it('grants the first request of a turn inside the call', () => {
    const turns = new CommitTurns();
    const granted: string[] = [];
    turns.request(() => {
      granted.push('a');
      return true;
    });
    expect(granted).toEqual(['a']);
  });

  it('grants one request per event-loop turn, first come first served', async () => {
    const turns = new CommitTurns();
    const granted: string[][] = [];
    let current: string[] = [];
    const ask = (name: string) =>
      turns.request(() => {
        current.push(name);
        return true;
      });
    ask('a');
    ask('b');
    ask('c');
    granted.push(current);
    for (let i = 0; i < 4; i++) {
      current = [];
      await nextTurn();
      granted.push(current);
    }
    // 'a' committed at once in the first iteration, so 'b' waits for the next one.
    expect(granted).toEqual([['a'], [], ['b'], ['c'], []]);
  });

  it('passes a turn whose grantee is gone on to the next one in the same check phase', async () => {
    const turns = new CommitTurns();
    const granted: string[] = [];
    turns.request(() => true);
    turns.request(() => {
      granted.push('gone');
      return false;
    });
    turns.request(() => {
      granted.push('b');
      return true;
    });
    turns.request(() => {
      granted.push('c');
      return true;
    });
    await nextTurn();
    // The first request committed at once in this iteration: nobody else is granted in it.
    expect(granted).toEqual([]);
    await nextTurn();
    expect(granted).toEqual(['gone', 'b']);
    await nextTurn();
    expect(granted).toEqual(['gone', 'b', 'c']);
  });

  it('tryTake takes a free turn once, and refuses while it is taken or awaited', async () => {
    const turns = new CommitTurns();
    expect(turns.tryTake()).toBe(true);
    expect(turns.tryTake()).toBe(false);
    let waited = false;
    turns.request(() => (waited = true));
    await nextTurn();
    // The direct commit had this iteration: the waiter is granted in the next one.
    expect(waited).toBe(false);
    expect(turns.tryTake()).toBe(false);
    await nextTurn();
    expect(waited).toBe(true);
    // The waiter holds the turn until the next check phase.
    expect(turns.tryTake()).toBe(false);
    await nextTurn();
    expect(turns.tryTake()).toBe(true);
  });

  it('frees the turn again when the first grantee declines it', () => {
    const turns = new CommitTurns();
    turns.request(() => false);
    expect(turns.tryTake()).toBe(true);
  });
});
