/**
 * Event-loop turns for mailbox commits: across all sessions of a runtime, at most one batch is
 * committed per turn, first come first served.
 *
 * Invariant (ingest benchmark, "event-loop delay p99"; test/runtime/commit-turns.test.ts): a
 * commit is synchronous SQLite work, so letting every session commit in the same turn would block
 * the loop for the sum of all batches; one batch per turn bounds a block by one batch
 * (`maxBatch`), and a session that waits for its turn keeps gathering operations, so batches grow
 * under load rather than shrink.
 */

/** Called when the turn is the caller's; returns false if nobody was left to use it. */
export type TurnGrant = () => boolean;

export class CommitTurns {
  private readonly waiting: TurnGrant[] = [];
  private scheduled = false;
  /** Whether a commit was handed the current turn (cleared at the next turn). */
  private turnTaken = false;

  /**
   * Calls `grant` at the caller's turn; the commit should run right then, synchronously. The
   * first request of a turn is granted at once, inside this call (no added latency at idle);
   * later ones wait for later turns.
   */
  request(grant: TurnGrant): void {
    if (this.tryTake()) {
      if (!grant()) this.turnTaken = false;
      return;
    }
    this.waiting.push(grant);
    this.schedule();
  }

  /**
   * Takes the current turn if nobody holds or awaits it, for a commit the caller runs right now,
   * synchronously. Returns false otherwise (then `request` a turn).
   */
  tryTake(): boolean {
    if (this.turnTaken || this.waiting.length > 0) return false;
    this.takeTurn();
    return true;
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
      // A grant whose session is gone does not use up the turn.
      for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
        this.takeTurn();
        if (next()) break;
        this.turnTaken = false;
      }
      if (this.waiting.length > 0) this.schedule();
    });
  }
}
