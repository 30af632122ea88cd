/**
 * Event-loop turns for mailbox commits: across all sessions of a runtime, at most one batch is
 * committed per turn, first come first served.
 *
 * Invariant (ingest benchmark, "event-loop delay p99"): a commit is synchronous SQLite work, so
 * letting every session commit in the same turn would block the loop for the sum of all batches;
 * one batch per turn bounds a block by one batch (`maxBatch`), and a session that waits for its
 * turn keeps gathering operations, so batches grow under load rather than shrink.
 */
export class CommitTurns {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;
  /** Whether a commit was handed the current turn (cleared at the next turn). */
  private turnTaken = false;

  /**
   * Resolves at the caller's turn; the commit should run right then, synchronously. The first
   * commit of a turn goes at once (no added latency at idle); later ones wait for later turns.
   */
  next(): Promise<void> {
    if (!this.turnTaken && this.waiting.length === 0) {
      this.takeTurn();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private takeTurn(): void {
    this.turnTaken = true;
    setImmediate(() => {
      this.turnTaken = false;
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const next = this.waiting.shift();
      if (next !== undefined) {
        this.takeTurn();
        next();
      }
      if (this.waiting.length > 0) this.schedule();
    });
  }
}
