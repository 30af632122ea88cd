/**
 * Start-up of an owning runtime: what a previous process left behind is put right before any call
 * is served, reading only central rows that announce work — never every session's files.
 *
 * Invariants (guarded by test/runtime/recovery.test.ts, test/runtime/lifecycle.test.ts and
 * test/crash/create-crash.test.ts):
 * 1. A folder whose creation never committed (a `session_creations` row left by a crash) is
 *    removed when it holds no rows, and moved to `v2-sessions/.orphaned/<ag>/<session>` and
 *    reported when it does, before `createRuntime` resolves.
 * 2. Any other folder without its row is settled the same way right after start-up, off the
 *    event loop's critical path and never racing a creation ("settles 3,000 stray folders after
 *    createRuntime resolved, beside new sessions"); `whenIdle` waits for it, `close` stops it.
 * 3. Sessions the central DB says are running or idle have no container of ours: they are set
 *    `stopped` (with an event saying why) and followed up like any exited container — a last poll
 *    delivers what it wrote, a sweep settles its claims.
 * 4. Scheduled wakes and unsettled outbound rows recorded in `session_work` are re-armed / polled.
 */
import { mkdirSync, renameSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { lstatOrUndefined } from '../files/fs-errors.js';
import { SESSIONS_DIR, type SessionPaths } from '../files/paths.js';
import { removeEntry } from '../files/remove-entry.js';
import { isSafeSegment } from '../files/segment.js';
import { getSession, setContainerStatus, type SessionRow } from '../store/central.js';
import { endCreation, unfinishedCreations } from '../store/central-work.js';
import { readInbound, readOutbound, type Db } from '../store/session-db.js';
import { stmt } from '../store/statements.js';
import type { ContainerStatus } from './types.js';

export const ORPHANED_DIR = '.orphaned';

export interface Reconciled {
  sessionId: string;
  from: ContainerStatus;
}

export interface Orphan {
  sessionId: string;
  agentGroupId: string;
  /** Where its folder went, or null when it held nothing and was removed. */
  movedTo: string | null;
}

/**
 * Whether a folder of an interrupted creation holds any row. A DB whose schema transaction never
 * committed (its journal is still there, or the file is empty) holds none; any other file that
 * cannot be read counts as holding rows (tampered: kept, not deleted).
 */
function holdsRows(paths: SessionPaths, agentGroupId: string, sessionId: string): boolean {
  const count = (read: typeof readInbound, path: string, table: string): number => {
    const stats = lstatOrUndefined(path);
    if (stats === undefined || (stats.isFile() && stats.size === 0)) return 0;
    try {
      return read(path, (db) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n);
    } catch {
      // Unreadable. With its creation's journal beside it, it is a schema that never committed.
      return lstatOrUndefined(`${path}-journal`) === undefined ? 1 : 0;
    }
  };
  return (
    count(readInbound, paths.inboundDbPath(agentGroupId, sessionId), 'messages_in') > 0 ||
    count(readOutbound, paths.outboundDbPath(agentGroupId, sessionId), 'messages_out') > 0
  );
}

/** Removes (no rows) or moves aside (rows) one folder that has no central row. */
function settleLeftover(dataDir: string, paths: SessionPaths, ag: string, sessionId: string): Orphan | undefined {
  const folder = paths.sessionDir(ag, sessionId);
  if (lstatOrUndefined(folder) === undefined) return undefined;
  if (holdsRows(paths, ag, sessionId)) {
    const target = join(dataDir, SESSIONS_DIR, ORPHANED_DIR, ag, sessionId);
    mkdirSync(dirname(target), { recursive: true });
    removeEntry(target);
    renameSync(folder, target);
    return { sessionId, agentGroupId: ag, movedTo: target };
  }
  removeEntry(folder);
  return { sessionId, agentGroupId: ag, movedTo: null };
}

/**
 * Cleans up the folders of creations a crash interrupted: those a `session_creations` row
 * announces. One indexed query; no session's files are opened unless it is such a leftover.
 */
export function cleanUnfinishedCreations(central: Db, dataDir: string, paths: SessionPaths): Orphan[] {
  const orphans: Orphan[] = [];
  for (const c of unfinishedCreations(central)) {
    const { session_id: sessionId, agent_group_id: ag } = c;
    if (getSession(central, sessionId) === undefined) {
      const orphan = settleLeftover(dataDir, paths, ag, sessionId);
      if (orphan !== undefined) orphans.push(orphan);
    }
    endCreation(central, sessionId);
  }
  return orphans;
}

/** Folder names compared with the central rows per step of `settleStrayFolders`. */
const STRAY_CHUNK = 2000;

/**
 * Any other session folder without its central row (a crash of an older version, a `v2.db`
 * restored from an older copy), found after start-up instead of before it: the listings are read
 * off the event loop, and names are checked a chunk per event-loop turn, so `createRuntime` over
 * 100,000 sessions does not wait for 100,000 names. Safe beside the runtime's own work: a folder
 * is settled in the same synchronous run in which its row was found missing, and a session's
 * folder and row are created in one synchronous transaction on this thread, so a creation is
 * never caught halfway. Stops between chunks once `stopped()` says so.
 */
export async function settleStrayFolders(
  central: Db,
  dataDir: string,
  paths: SessionPaths,
  onOrphan: (orphan: Orphan) => void,
  stopped: () => boolean,
): Promise<void> {
  const root = join(dataDir, SESSIONS_DIR);
  if (lstatOrUndefined(root)?.isDirectory() !== true) return;
  const known = central.prepare(
    'SELECT id FROM sessions WHERE agent_group_id = ? AND id IN (SELECT value FROM json_each(?))',
  );
  for (const ag of await readdir(root, { withFileTypes: true })) {
    if (!ag.isDirectory() || ag.name === ORPHANED_DIR || !isSafeSegment(ag.name)) continue;
    // Names only (no type per entry): with 100,000 sessions the listing is most of the work.
    const names = (await readdir(join(root, ag.name))).filter((name) => isSafeSegment(name));
    for (let i = 0; i < names.length; i += STRAY_CHUNK) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (stopped()) return;
      const chunk = names.slice(i, i + STRAY_CHUNK);
      const rows = new Set(known.pluck().all(ag.name, JSON.stringify(chunk)) as string[]);
      for (const name of chunk) {
        if (rows.has(name)) continue;
        if (lstatOrUndefined(join(root, ag.name, name))?.isDirectory() !== true) continue;
        const orphan = settleLeftover(dataDir, paths, ag.name, name);
        if (orphan !== undefined) onOrphan(orphan);
      }
    }
  }
}

/** Sessions left running or idle by a previous process, set `stopped` in the central DB. */
export function reconcileStatuses(central: Db): Reconciled[] {
  const rows = stmt(
    central,
    "SELECT * FROM sessions WHERE container_status IN ('running', 'idle') AND COALESCE(status, 'active') = 'active' ORDER BY created_at, id",
  ).all() as SessionRow[];
  const reconciled: Reconciled[] = [];
  for (const row of rows) {
    setContainerStatus(central, row.id, 'stopped', null);
    reconciled.push({ sessionId: row.id, from: row.container_status });
  }
  return reconciled;
}

export function orphanError(orphan: Orphan): RuntimeError {
  return new RuntimeError(
    'STORAGE',
    `session folder ${orphan.agentGroupId}/${orphan.sessionId} of an interrupted creation held rows; moved to ${orphan.movedTo}`,
  );
}
