/**
 * Opening a session DB that lives in a folder the container controls: check the entry, open it,
 * then prove that the file SQLite holds is the one that was checked.
 *
 * Invariants (guarded by test/store/hostile-container.test.ts):
 * 1. Before the open, `lstat` must show a regular file with one link: a symlink, a hard link, a
 *    directory, a FIFO or a socket is refused with `STORAGE` and the violation `symlink`,
 *    `hardlink` or `not-regular`, and a missing file with `missing` (unless `create`), before
 *    SQLite touches it ("withInbound refuses a symlink to another session's inbound.db ...",
 *    "... refuses a FIFO at inbound.db without blocking on it").
 * 2. After the open and before any statement, SQLite's own name for the file (`PRAGMA
 *    database_list`, which resolves links) must be the checked path, and the inode open on that
 *    path must be the checked one, or the handle is closed and the open refused with `swapped`
 *    ("refuses when inbound.db is swapped for a symlink between the check and the open",
 *    "... replaced by another regular file ..."). On Linux the descriptor is read from
 *    `/proc/self/fd`: first the one SQLite most likely took (the lowest free number, taken just
 *    before the open), and when that one is on another path (another thread opened a file in
 *    between), every descriptor open on the path, each of which must be the checked inode
 *    ("is not confused by a descriptor another thread opens during the open"). So the check costs
 *    the same however many descriptors the process holds. Elsewhere the path is `lstat`ed again.
 * 3. Side files (`-journal`, `-wal`, `-shm`) that are links or not regular files are removed (the
 *    entry only, never a target) and reported when the host owns the open (`sideFiles: 'remove'`),
 *    and refuse the open with `journal` otherwise ("withInbound removes a symlinked journal (the
 *    link only) ...", "readOutbound refuses to read next to a symlinked -journal ...").
 * 4. A file created here is created exclusively (O_CREAT|O_EXCL), never through a planted link.
 *
 * Residual windows (the kernel cannot close them without `openat` for SQLite's own opens):
 * - SQLite opens the side files by name when a transaction starts; one planted after the check is
 *   opened O_NOFOLLOW by SQLite (a symlink fails the transaction), but a hard link planted in that
 *   window would receive the journal.
 * - A FIFO renamed onto the path between the `lstat` and SQLite's `open(2)` makes a read-only open
 *   wait for a writer (open(2) of a FIFO for reading blocks); the window is the few microseconds
 *   between the two calls. A read-write open is not affected (it fails with an I/O error and is refused).
 * - A file swapped in for the open and swapped back right after it, while another thread of this
 *   process holds the original open, is not told apart from that thread's descriptor. Outside
 *   Linux, a swap and swap back within the open is not detected at all.
 */
import Database from 'better-sqlite3';
import { closeSync, fstatSync, openSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { entryViolation, refuse, violation, type ViolationSink } from '../files/container-violation.js';
import { describeError, errnoCode, lstatOrUndefined } from '../files/fs-errors.js';
import { removeEntry } from '../files/remove-entry.js';

type Db = Database.Database;

/** Files SQLite keeps next to a DB while a transaction or WAL is live. */
export const SIDE_FILE_SUFFIXES = ['-journal', '-wal', '-shm'] as const;

/** What the caller passes through the session-db helpers to watch or test the guards. */
export interface GuardOptions {
  /** Receives violations the host repaired on its own and went on (a removed side file). */
  onViolation?: ViolationSink;
  /** Test hook: runs after the checks, right before SQLite opens the file (where a swap would land). */
  betweenCheckAndOpen?: (path: string) => void;
}

export interface VerifiedOpenOptions extends GuardOptions {
  readonly: boolean;
  /** Create the file (exclusively) when it is missing; otherwise a missing file is refused. */
  create?: boolean;
  /** What to do with a side file that is a link or not a regular file. */
  sideFiles: 'remove' | 'refuse';
  /** SQLite busy timeout in ms. */
  timeout: number;
}

/** Whether SQLite's own errors say the file is not a sound SQLite database. */
export function isCorruptionError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

function inspect(path: string, what: string): Stats | undefined {
  try {
    return lstatOrUndefined(path);
  } catch (error) {
    return refuse(violation('not-regular', path, `${what} cannot be inspected: ${describeError(error)}`), error);
  }
}

function createEmpty(path: string): void {
  try {
    // 'wx' is O_CREAT|O_EXCL: fails on any existing entry, a dangling symlink included.
    closeSync(openSync(path, 'wx', 0o644));
  } catch (error) {
    // EEXIST: something appeared since the lstat; the checks that follow judge it.
    if (errnoCode(error) !== 'EEXIST')
      throw new RuntimeError('STORAGE', `cannot create ${path}: ${describeError(error)}`, { cause: error });
  }
}

function guardSideFiles(path: string, options: VerifiedOpenOptions): void {
  for (const suffix of SIDE_FILE_SUFFIXES) {
    const side = `${path}${suffix}`;
    const what = `${basename(path)}${suffix}`;
    const stats = inspect(side, what);
    if (stats === undefined) continue;
    const problem = entryViolation(stats, side, 'file', what);
    if (problem === undefined) continue;
    const found = violation('journal', side, `${problem.detail} (was ${problem.kind})`);
    if (options.sideFiles === 'refuse') refuse(found);
    try {
      removeEntry(side);
    } catch (error) {
      refuse(violation('journal', side, `${found.detail}, and could not be removed: ${describeError(error)}`), error);
    }
    options.onViolation?.({ ...found, detail: `${found.detail}; removed` });
  }
}

let procFd: boolean | undefined;

function hasProcFd(): boolean {
  if (procFd === undefined) {
    try {
      procFd = readdirSync('/proc/self/fd').length > 0;
    } catch (error) {
      // No /proc: the re-lstat fallback of invariant 2.
      void error;
      procFd = false;
    }
  }
  return procFd;
}

interface Descriptor {
  target: string;
  dev: number;
  ino: number;
}

/** What descriptor `fd` of this process is open on, or `undefined` when it is not open. */
function descriptor(fd: number): Descriptor | undefined {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    const stats = fstatSync(fd);
    return { target, dev: stats.dev, ino: stats.ino };
  } catch (error) {
    // EBADF/ENOENT: not open (or closed by another thread in between).
    void error;
    return undefined;
  }
}

/** Every descriptor of this process whose path is `expected`. Costs one readlink per open descriptor. */
function descriptorsOn(expected: string): Descriptor[] {
  const found: Descriptor[] = [];
  for (const entry of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${entry}`);
    } catch (error) {
      // Closed since the listing (the listing's own descriptor among them).
      void error;
      continue;
    }
    if (target !== expected) continue;
    const found1 = descriptor(Number(entry));
    if (found1?.target === expected) found.push(found1);
  }
  return found;
}

/**
 * The descriptor number the next `open(2)` of this thread will get: POSIX hands out the lowest free
 * one, so unless another thread opens a file in between, it is the one SQLite's open will take.
 */
function predictNextFd(): number | undefined {
  if (!hasProcFd()) return undefined;
  try {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    return fd;
  } catch (error) {
    // No /dev/null: the full scan decides alone.
    void error;
    return undefined;
  }
}

/**
 * Why the open handle is not the checked file, or `undefined` when it is. On Linux, the descriptor
 * SQLite most likely took (`predicted`) settles it at once when it is open on the checked path;
 * otherwise every descriptor open on that path is examined. Either way the inode found at the
 * path must be the checked one.
 */
function identityProblem(
  db: Db,
  path: string,
  expected: string,
  checked: Stats,
  predicted: number | undefined,
): string | undefined {
  const main = (db.pragma('database_list') as { name: string; file: string }[]).find((d) => d.name === 'main');
  if (main?.file !== expected)
    return `SQLite opened ${JSON.stringify(main?.file ?? '')}, not ${JSON.stringify(expected)}`;
  const same = (s: { dev: number; ino: number }) => s.dev === checked.dev && s.ino === checked.ino;
  if (hasProcFd()) {
    const likely = predicted === undefined ? undefined : descriptor(predicted);
    const open = likely?.target === expected ? [likely] : descriptorsOn(expected);
    if (open.length === 0) return 'no descriptor of this process is open on the checked path';
    if (!open.every(same)) return 'the descriptor open on the path is not the inode that was checked';
    return undefined;
  }
  const now = lstatOrUndefined(path);
  if (now === undefined || !now.isFile() || now.nlink > 1 || !same(now)) return 'the path changed during the open';
  return undefined;
}

/**
 * Opens `path` with better-sqlite3 after the checks of invariant 1 and returns the handle once
 * invariant 2 holds. Every refusal throws `RuntimeError('STORAGE')` with a violation
 * (`violationOf(error)`); the handle is closed on every failure.
 */
export function openVerified(path: string, options: VerifiedOpenOptions): Db {
  const name = basename(path);
  // The session folder itself is not the container's to change, so its real path is stable.
  let expected: string;
  try {
    expected = join(realpathSync.native(dirname(path)), name);
  } catch (error) {
    throw new RuntimeError('STORAGE', `cannot open ${path}: its folder is unusable: ${describeError(error)}`, {
      cause: error,
    });
  }
  let checked = inspect(path, name);
  if (checked === undefined && options.create === true) {
    createEmpty(path);
    checked = inspect(path, name);
  }
  if (checked === undefined) refuse(violation('missing', path, `${name} is missing (${path})`));
  const problem = entryViolation(checked, path, 'file', name);
  if (problem !== undefined) refuse(problem);
  guardSideFiles(path, options);
  const predicted = predictNextFd();
  options.betweenCheckAndOpen?.(path);

  let db: Db;
  try {
    db = new Database(path, { readonly: options.readonly, fileMustExist: true, timeout: options.timeout });
  } catch (error) {
    const now = lstatOrUndefined(path);
    if (now === undefined || now.dev !== checked.dev || now.ino !== checked.ino || !now.isFile()) {
      refuse(
        violation('swapped', path, `${name} changed between the check and the open: ${describeError(error)}`),
        error,
      );
    }
    throw new RuntimeError('STORAGE', `cannot open ${path}: ${describeError(error)}`, { cause: error });
  }
  let mismatch: string | undefined;
  try {
    mismatch = identityProblem(db, path, expected, checked, predicted);
  } catch (error) {
    db.close();
    throw new RuntimeError('STORAGE', `cannot verify ${path}: ${describeError(error)}`, { cause: error });
  }
  if (mismatch !== undefined) {
    db.close();
    refuse(violation('swapped', path, `${name} was swapped between the check and the open: ${mismatch}`));
  }
  return db;
}
