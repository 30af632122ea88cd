/**
 * `.heartbeat`: the container touches it, the host reads its modification time as the liveness
 * signal and removes it before a wake (FORMAT.md "Data directory"). The container owns the session
 * folder, so what sits at that path may be anything.
 *
 * Invariants (guarded by test/files/hostile-container.test.ts, ".heartbeat"):
 * 1. `readHeartbeatMtime` reads the entry itself (`lstat`), never a link's target: a missing file
 *    is `null`; a symlink, a file with several hard links, a directory, a FIFO or anything else
 *    that is not a regular file throws the `STORAGE` violation ("refuses a symlink ...").
 * 2. `clearHeartbeat` removes whatever is there (a file, only the link of a symlink, a directory
 *    recursively without following links), so a wake never fails on what a container planted
 *    ("clears a directory planted at .heartbeat, leaving a linked directory outside intact").
 */
import { basename } from 'node:path';
import { entryViolation, refuse, violation } from './container-violation.js';
import { describeError, lstatOrUndefined } from './fs-errors.js';
import { removeEntry } from './remove-entry.js';

/**
 * Modification time of `.heartbeat` in epoch ms, or `null` when there is none. Throws
 * `RuntimeError('STORAGE')` with a violation (`symlink`, `hardlink`, `not-regular`) when the entry
 * is not a plain regular file.
 */
export function readHeartbeatMtime(path: string): number | null {
  let stats;
  try {
    stats = lstatOrUndefined(path);
  } catch (error) {
    refuse(violation('not-regular', path, `${basename(path)} cannot be inspected: ${describeError(error)}`), error);
  }
  if (stats === undefined) return null;
  const problem = entryViolation(stats, path, 'file', basename(path));
  if (problem !== undefined) refuse(problem);
  return stats.mtimeMs;
}

/**
 * Removes whatever is at `path` (a missing path is fine) without following any link. Throws
 * `RuntimeError('STORAGE')` only when the entry cannot be removed (e.g. permissions).
 */
export function clearHeartbeat(path: string): void {
  try {
    removeEntry(path);
  } catch (error) {
    refuse(violation('not-regular', path, `${basename(path)} could not be removed: ${describeError(error)}`), error);
  }
}
