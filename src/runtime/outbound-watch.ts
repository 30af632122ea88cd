/**
 * How the host learns of a running container's output at once: a file-system watch on the session
 * folder turns a change of `outbound.db` into a poll, instead of waiting up to `pollMs`. The timed
 * poll stays — it is the fallback where no watch can run, and the poll's reads remain the source
 * of truth (an event only says "look now").
 *
 * Invariants (guarded by test/runtime/outbound-watch.test.ts):
 * 1. At most one watch-triggered poll per session is queued at a time; events meanwhile ask for
 *    one more after it, so a burst of writes costs two polls, not one per event.
 * 2. Only `outbound.db` and its journal count (the container's heartbeat and inbox do not), and
 *    not while the journal exists: the container is mid-transaction, a read now would wait on its
 *    lock, and the journal's removal at its commit is the event that asks (a journal left behind
 *    by a crash leaves the timed poll in charge).
 * 3. A watch never keeps the process alive, ends with the container, and a watch that cannot run
 *    leaves the timed poll in charge.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

interface Watch {
  watcher: FSWatcher;
  inFlight: boolean;
  again: boolean;
}

const FILES: ReadonlySet<string> = new Set(['outbound.db', 'outbound.db-journal', 'outbound.db-wal']);

export class OutboundWatches {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly onError: (error: unknown, sessionId: string) => void) {}

  /** Watches `sessionDir` while the container of `sessionId` runs; `poll` asks for one poll. */
  start(sessionId: string, sessionDir: string, poll: () => Promise<unknown>): void {
    this.stop(sessionId);
    let watcher: FSWatcher;
    try {
      watcher = watch(sessionDir, { persistent: false });
    } catch {
      // No watch here (unsupported file system, no watches left): the timed poll is in charge.
      return;
    }
    const w: Watch = { watcher, inFlight: false, again: false };
    const fire = (): void => {
      if (w.inFlight) {
        w.again = true;
        return;
      }
      w.inFlight = true;
      w.again = false;
      poll()
        .catch((error: unknown) => this.onError(error, sessionId))
        .finally(() => {
          w.inFlight = false;
          if (w.again && this.watches.get(sessionId) === w) fire();
        });
    };
    const journal = join(sessionDir, 'outbound.db-journal');
    watcher.on('change', (_event, name) => {
      if (typeof name === 'string' && FILES.has(name) && !existsSync(journal)) fire();
    });
    // A watch that fails later leaves the timed poll in charge.
    watcher.on('error', () => this.stop(sessionId));
    this.watches.set(sessionId, w);
  }

  stop(sessionId: string): void {
    const w = this.watches.get(sessionId);
    if (w === undefined) return;
    this.watches.delete(sessionId);
    w.watcher.close();
  }

  stopAll(): void {
    for (const id of [...this.watches.keys()]) this.stop(id);
  }
}
