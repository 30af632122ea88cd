/** Small helpers for file-system errors and `lstat`, shared by every guard in `src/files/`. */
import { lstatSync } from 'node:fs';
import type { Stats } from 'node:fs';

/** The errno code of a file-system error (`ENOENT`, `EEXIST`, ...), if any. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `lstat`, with `undefined` for a path that does not exist; other errors are thrown. Asks Node not
 * to build an exception for a missing entry, which costs more than the system call itself.
 */
export function lstatOrUndefined(path: string): Stats | undefined {
  return lstatSync(path, { throwIfNoEntry: false });
}
