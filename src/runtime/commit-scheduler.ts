/**
 * Commit slots for the sessions of one runtime: at most `slots` batches are committed at once
 * (on the worker threads), and sessions waiting for a slot take turns by start-time fair queueing.
 *
 * Invariants (guarded by test/runtime/commit-scheduler.test.ts):
 * 1. Never more than `slots` grants outstanding; a grant whose session is gone (it returns false)
 *    does not use a slot ("a declined grant is passed on").
 * 2. Fairness: each request is tagged with a virtual start time — the later of the scheduler's
 *    virtual clock and the end of the session's previous batch — and waiting requests are
 *    granted in tag order (arrival order among equals). A session that has been quiet starts at
 *    the virtual clock, ahead of every session still working off a long backlog, so one write to
 *    a quiet session waits for the batches in flight, not for the burst ("a quiet session is
 *    granted before sessions with a backlog").
 * 3. A free slot with nobody waiting is taken at once (`tryTake`), so a write at idle never waits
 *    for a turn of the event loop.
 */

/** What the scheduler remembers of a session between its batches. */
export interface FairShare {
  /** Virtual time at which the session's last granted batch starts and ends. */
  vstart: number;
  vfinish: number;
}

/** Called when the slot is the caller's; returns false if nobody was left to use it. */
export type SlotGrant = () => boolean;

interface Waiter {
  start: number;
  seq: number;
  cost: number;
  share: FairShare;
  grant: SlotGrant;
}

export class CommitScheduler {
  private busy = 0;
  private vtime = 0;
  private arrivals = 0;
  private readonly heap: Waiter[] = [];

  constructor(readonly slots: number) {}

  /** Grants outstanding (batches committing). */
  get inFlight(): number {
    return this.busy;
  }

  get waiting(): number {
    return this.heap.length;
  }

  /** Takes a slot if one is free and nobody waits for one; the caller commits `cost` operations. */
  tryTake(share: FairShare, cost: number): boolean {
    if (this.busy >= this.slots || this.heap.length > 0) return false;
    this.busy++;
    this.charge(share, Math.max(this.vtime, share.vfinish), cost);
    return true;
  }

  /** Asks for a slot for about `cost` operations; `grant` runs when it is the caller's. */
  request(share: FairShare, cost: number, grant: SlotGrant): void {
    const start = Math.max(this.vtime, share.vfinish);
    this.push({ start, seq: this.arrivals++, cost, share, grant });
    this.dispatch();
  }

  /** The batch granted to `share` holds `cost` operations after all (it grew while waiting). */
  account(share: FairShare, cost: number): void {
    share.vfinish = share.vstart + Math.max(1, cost);
  }

  /** A granted batch is done: its slot goes to the next waiter. */
  release(): void {
    if (this.busy > 0) this.busy--;
    this.dispatch();
  }

  private dispatch(): void {
    while (this.busy < this.slots && this.heap.length > 0) {
      const next = this.pop();
      this.busy++;
      this.charge(next.share, next.start, next.cost);
      if (!next.grant()) this.busy--;
    }
  }

  private charge(share: FairShare, start: number, cost: number): void {
    this.vtime = Math.max(this.vtime, start);
    share.vstart = start;
    share.vfinish = start + Math.max(1, cost);
  }

  // A binary min-heap on (start, seq).
  private less(a: Waiter, b: Waiter): boolean {
    return a.start < b.start || (a.start === b.start && a.seq < b.seq);
  }

  private push(w: Waiter): void {
    const h = this.heap;
    h.push(w);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Waiter {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
