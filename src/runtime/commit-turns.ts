/**
 * Event-loop turns for mailbox commits: across all sessions of a runtime, at most one batch is
 * committed per event-loop iteration, first come first served.
 *
 * Invariant (ingest benchmark, "event-loop delay p99"; test/runtime/commit-turns.test.ts): a
 * commit is synchronous SQLite work, so letting every session commit in the same iteration would
 * block the loop for the sum of all batches; one batch per iteration bounds a block by one batch
 * (`maxBatch`), and a session that waits for its turn keeps gathering operations, so batches grow
 * under load rather than shrink.
 *
 * A turn is taken either at once, by a commit that finds nobody holding or awaiting one
 * (`tryTake`, or `request` when free), or by a grant in the check phase (`setImmediate`). The
 * check phase ends the iteration: if a commit already ran in it, the next waiter is granted in
 * the following one, never in the same.
 */

/** Called when the turn is the caller's; returns false if nobody was left to use it. */
export type TurnGrant = () => boolean;

export class CommitTurns {
  private readonly waiting: TurnGrant[] = [];
  /** Who holds the turn: nobody, a grant of the last check phase, or a commit taken in between. */
  private holder: 'none' | 'grant' | 'direct' = 'none';
  private ticking = false;

  /**
   * Takes the turn if nobody holds or awaits it, for a commit the caller runs right now,
   * synchronously. Returns false otherwise (then `request` one).
   */
  tryTake(): boolean {
    if (this.holder !== 'none' || this.waiting.length > 0) return false;
    this.holder = 'direct';
    this.ensureTick();
    return true;
  }

  /**
   * Calls `grant` at the caller's turn; the commit should run right then, synchronously. A free
   * turn is granted at once, inside this call (no added latency at idle); otherwise requests are
   * granted one per iteration, in order.
   */
  request(grant: TurnGrant): void {
    if (this.tryTake()) {
      if (!grant()) this.holder = 'none';
      return;
    }
    this.waiting.push(grant);
    this.ensureTick();
  }

  private ensureTick(): void {
    if (this.ticking) return;
    this.ticking = true;
    setImmediate(() => this.tick());
  }

  private tick(): void {
    this.ticking = false;
    const committedThisIteration = this.holder === 'direct';
    this.holder = 'none';
    if (!committedThisIteration) {
      // A grant whose session is gone does not use up the turn.
      for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
        this.holder = 'grant';
        if (next()) break;
        this.holder = 'none';
      }
    }
    if (this.holder !== 'none' || this.waiting.length > 0) this.ensureTick();
  }
}
