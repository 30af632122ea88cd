/**
 * `sessions.last_active`, coalesced: marked in memory when a batch commits, written to the central
 * DB at most once per `FLUSH_MS` (and at close), in one transaction, whatever the number of
 * messages; readers of this runtime see the in-memory value at once.
 *
 * Invariants (guarded by test/runtime/mailbox.test.ts and the ingest benchmark):
 * 1. Only ever moves forward, in memory and in the DB, so the order in which coalesced and
 *    status-driven updates land cannot change the result.
 * 2. At most one central transaction per `FLUSH_MS`, never one per commit.
 */
import { setLastActive } from '../store/central.js';
import type { Db } from '../store/session-db.js';

/** How long marked times wait to be written together (real time; the write is bookkeeping). */
export const FLUSH_MS = 100;

export class LastActive {
  private readonly known = new Map<string, string>();
  private readonly dirty = new Map<string, string>();
  private scheduled = false;
  flushes = 0;

  constructor(
    private readonly central: Db,
    private readonly onError: (error: unknown) => void,
  ) {}

  get(sessionId: string): string | undefined {
    return this.known.get(sessionId);
  }

  /** Remembers `at` (ISO) without writing it; a status change writes it with the status. */
  note(sessionId: string, at: string): void {
    if ((this.known.get(sessionId) ?? '') < at) this.known.set(sessionId, at);
  }

  /** Marks `at` (ISO) and schedules the coalesced write. */
  touch(sessionId: string, at: string): void {
    const known = this.known.get(sessionId);
    if (known !== undefined && known >= at) return;
    this.known.set(sessionId, at);
    this.dirty.set(sessionId, at);
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  forget(sessionId: string): void {
    this.known.delete(sessionId);
  }

  flush(): void {
    this.scheduled = false;
    if (this.dirty.size === 0 || !this.central.open) return;
    const entries = [...this.dirty];
    this.dirty.clear();
    try {
      setLastActive(this.central, entries);
      this.flushes++;
    } catch (error) {
      this.onError(error);
    }
  }
}
