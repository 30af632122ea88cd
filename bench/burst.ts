/**
 * Firing many `writeMessage` calls without waiting, and collecting every acknowledgement.
 *
 * Invariants:
 * 1. `fireBurst` makes each session's calls in one synchronous run, session after session, with
 *    one `setImmediate` turn between two sessions when `separate` is set (so the caller's own
 *    loop is never one block of every call); no call waits for an acknowledgement.
 * 2. Every promise gets its handlers right after its session's run, before the caller yields,
 *    so no rejection is ever unhandled; a rejection is collected, never thrown mid-burst.
 * 3. Call k (session-major: session s, message i → k = s × perSession + i) records the seq it
 *    was acknowledged with in `seqs[k]`.
 */
import type { InboundMessage, Runtime } from '../src/index.js';
import { turn } from './util.js';

type WriteResult = { seq: number; duplicate: boolean };

/** Collects acknowledgements: seqs by call index, duplicates, errors; `done` when all settled. */
export class Acks {
  readonly seqs: Float64Array;
  duplicates = 0;
  readonly errors: unknown[] = [];
  private pending: number;
  private resolveDone!: () => void;
  readonly done: Promise<void>;

  constructor(total: number) {
    this.seqs = new Float64Array(total);
    this.pending = total;
    this.done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    if (total === 0) this.resolveDone();
  }

  track(k: number, promise: Promise<WriteResult>): void {
    promise.then(
      (r) => {
        this.seqs[k] = r.seq;
        if (r.duplicate) this.duplicates++;
        if (--this.pending === 0) this.resolveDone();
      },
      (error: unknown) => {
        this.errors.push(error);
        if (--this.pending === 0) this.resolveDone();
      },
    );
  }
}

/**
 * Fires `messages[s][i]` to `ids[s]` for every s and i (invariant 1); resolves when the last call
 * was made (not acknowledged).
 */
export async function fireBurst(
  rt: Runtime,
  ids: readonly string[],
  messages: readonly (readonly InboundMessage[])[],
  acks: Acks,
  separate: boolean,
): Promise<void> {
  let k = 0;
  const batch: Promise<WriteResult>[] = [];
  for (let s = 0; s < ids.length; s++) {
    const id = ids[s]!;
    const list = messages[s]!;
    batch.length = list.length;
    for (let i = 0; i < list.length; i++) batch[i] = rt.writeMessage(id, list[i]!);
    for (let i = 0; i < list.length; i++) acks.track(k++, batch[i]!);
    if (separate && s < ids.length - 1) await turn();
  }
}
