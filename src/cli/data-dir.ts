/**
 * Checks that a path is an existing session-actors data directory before anything opens it, so a
 * command that only reads never creates one (test/cli/status.test.ts "never creates").
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './command.js';

/** Throws a `UsageError` unless `dir` is a directory holding a `v2.db` file. */
export function assertExistingDataDir(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`no data directory at ${dir}`);
    throw new UsageError(`cannot read ${dir}: ${(error as Error).message}`);
  }
  if (!isDir) throw new UsageError(`${dir} is not a directory`);
  let isFile: boolean;
  try {
    isFile = statSync(join(dir, 'v2.db')).isFile();
  } catch {
    // Missing or unreadable: either way there is no central DB to open.
    isFile = false;
  }
  if (!isFile) throw new UsageError(`${dir} is not a session-actors data directory (no v2.db)`);
}
