/**
 * `changeCoalescer`: turns a stream of "session X changed" notifications into batches of distinct
 * ids, at most one batch per interval, so a thousand busy sessions cost the page a few small
 * messages a second instead of thousands.
 *
 * Invariants (guarded by test/dashboard/coalesce.test.ts):
 * 1. At most one flush per `intervalMs`: a flush happens no sooner than `intervalMs` after the
 *    previous one; the first change after a quiet period is flushed at once (on the next timer
 *    turn), so a lone change is not delayed.
 * 2. No id is lost and none repeats within a batch; ids added during a flush go to the next one.
 * 3. `close()` cancels the pending flush; later adds are ignored.
 */

export interface CoalescerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: CoalescerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface ChangeCoalescer {
  add(ids: Iterable<string>): void;
  close(): void;
}

export function changeCoalescer(
  flush: (ids: string[]) => void,
  options: { intervalMs?: number; clock?: CoalescerClock } = {},
): ChangeCoalescer {
  const intervalMs = options.intervalMs ?? 250;
  const clock = options.clock ?? realClock;
  let pending = new Set<string>();
  let timer: unknown;
  let lastFlush = Number.NEGATIVE_INFINITY;
  let closed = false;

  const run = () => {
    timer = undefined;
    if (closed || pending.size === 0) return;
    const batch = [...pending];
    pending = new Set();
    lastFlush = clock.now();
    flush(batch);
  };

  return {
    add(ids) {
      if (closed) return;
      for (const id of ids) pending.add(id);
      if (timer !== undefined || pending.size === 0) return;
      timer = clock.setTimeout(run, Math.max(0, lastFlush + intervalMs - clock.now()));
    },
    close() {
      closed = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      pending.clear();
    },
  };
}
