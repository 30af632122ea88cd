/**
 * Removing whatever sits at a path inside a session folder, never following a link: a file, FIFO
 * or socket is unlinked, a symlink loses only the link, a directory is emptied and removed
 * recursively. The container may swap entries while this runs.
 *
 * Invariants (guarded by test/files/remove-entry.test.ts):
 * 1. Nothing outside the entry is ever removed or modified: links met anywhere in the tree are
 *    unlinked, not followed ("removes a tree full of links without touching their targets").
 * 2. On Linux every directory is walked through a descriptor opened with O_NOFOLLOW|O_DIRECTORY
 *    and its entries are reached as `/proc/self/fd/<fd>/<name>`, which the kernel resolves in that
 *    very directory (the `openat` Node lacks), so a directory swapped for a symlink mid-walk cannot
 *    redirect the removal ("a directory swapped for a symlink during the walk is not followed").
 * 3. Depth costs at most `MAX_HELD_DIRS` open descriptors: deeper directories are moved up to the
 *    top of the tree and removed from there ("removes a tree deeper than the descriptor budget").
 * 4. The walk never crosses into another file system, and gives up (throws) rather than loop for
 *    ever against a container that keeps refilling the tree.
 *
 * Elsewhere (no `/proc/self/fd`) the removal falls back to `rmSync({ recursive: true })`, which
 * does not follow links it finds but resolves each path again by name: a directory swapped for a
 * symlink in the middle of that walk could redirect it. That fallback is a residual risk.
 */
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { lstatOrUndefined, errnoCode } from './fs-errors.js';

/** Open directory descriptors one removal may hold; deeper levels are hoisted to the top. */
export const MAX_HELD_DIRS = 32;
/** Times one directory is re-listed (plus one per hoisted subtree at the top) before the removal gives up. */
const MAX_ROUNDS = 64;
/** Attempts at the top-level entry when it keeps changing type under us. */
const MAX_ATTEMPTS = 4;

const DIR_FLAGS = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0);

let anchoredWalk: boolean | undefined;

/** Whether `/proc/self/fd/<fd>/<name>` resolves inside an open directory (Linux). */
function canAnchor(): boolean {
  if (anchoredWalk !== undefined) return anchoredWalk;
  let fd: number | undefined;
  try {
    fd = openSync('/', DIR_FLAGS);
    const direct = fstatSync(fd);
    const anchored = statSync(`/proc/self/fd/${fd}/.`);
    anchoredWalk = direct.ino === anchored.ino && direct.dev === anchored.dev;
  } catch (error) {
    // No /proc (macOS, BSD, a container without it): the fallback described in the header.
    void error;
    anchoredWalk = false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return anchoredWalk;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch (error) {
    // EBADF: already closed; nothing to release.
    void error;
  }
}

/** Opens `path` as a directory without following a link; `undefined` if it is no longer one. */
function openDir(path: string): number | undefined {
  try {
    return openSync(path, DIR_FLAGS);
  } catch (error) {
    const code = errnoCode(error);
    // ENOTDIR/ELOOP: swapped for a link or a file; ENOENT: gone. The caller looks again.
    if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENOENT') return undefined;
    throw error;
  }
}

function ignoring(codes: readonly string[], fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code !== undefined && codes.includes(code)) return false;
    throw error;
  }
}

/** Test hook: runs with a directory's path (by name) right after it was opened, before it is emptied. */
export interface RemoveOptions {
  afterOpenDir?: (path: string) => void;
}

interface Walk {
  /** `/proc/self/fd/<fd>` of the top directory, where too-deep directories are hoisted. */
  top: string;
  dev: number;
  hoisted: number;
  options: RemoveOptions;
}

/** Empties the directory open as `fd` (reached as `/proc/self/fd/<fd>`; `named` for the hook). */
function emptyAnchored(fd: number, named: string, walk: Walk, depth: number): void {
  walk.options.afterOpenDir?.(named);
  const base = `/proc/self/fd/${fd}`;
  // Hoisting is progress: each subtree moved to the top earns the top one more round.
  for (let round = 0; round < MAX_ROUNDS + (depth === 1 ? walk.hoisted : 0); round++) {
    const names = readdirSync(base);
    if (names.length === 0) return;
    for (const name of names) removeChild(base, name, `${named}/${name}`, walk, depth);
  }
  throw new Error(`gave up emptying a directory that keeps being refilled (${MAX_ROUNDS} rounds)`);
}

function removeChild(base: string, name: string, named: string, walk: Walk, depth: number): void {
  const path = `${base}/${name}`;
  const stats = lstatOrUndefined(path);
  if (stats === undefined) return;
  // EISDIR/EPERM: it became a directory since the lstat; the next round of the caller handles it.
  if (!stats.isDirectory()) return void ignoring(['ENOENT', 'EISDIR', 'EPERM'], () => unlinkSync(path));
  if (stats.dev !== walk.dev) throw new Error(`refusing to cross into another file system at ${name}`);
  if (depth >= MAX_HELD_DIRS) {
    // Out of descriptor budget: move the subtree to the top, which the top level re-lists.
    const to = `${walk.top}/.removing-${process.pid}-${walk.hoisted++}`;
    return void ignoring(['ENOENT', 'ENOTEMPTY', 'EEXIST'], () => renameSync(path, to));
  }
  const child = openDir(path);
  if (child === undefined) return;
  try {
    if (fstatSync(child).dev !== walk.dev) throw new Error(`refusing to cross into another file system at ${name}`);
    emptyAnchored(child, named, walk, depth + 1);
  } finally {
    closeQuietly(child);
  }
  // ENOTEMPTY: refilled after we emptied it; ENOTDIR: swapped. The caller's next round retries.
  ignoring(['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'], () => rmdirSync(path));
}

function removeDirectory(path: string, stats: Stats, options: RemoveOptions): void {
  if (!canAnchor()) {
    rmSync(path, { recursive: true, force: true });
    return;
  }
  const fd = openDir(path);
  if (fd === undefined) return;
  try {
    const opened = fstatSync(fd);
    if (opened.dev !== stats.dev) throw new Error(`refusing to cross into another file system at ${path}`);
    emptyAnchored(fd, path, { top: `/proc/self/fd/${fd}`, dev: opened.dev, hoisted: 0, options }, 1);
  } finally {
    closeQuietly(fd);
  }
  ignoring(['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'], () => rmdirSync(path));
}

/**
 * Removes whatever is at `path` without following any link; a missing path is fine. Throws a
 * file-system error when it cannot (permissions, another file system inside, an entry that keeps
 * changing).
 */
export function removeEntry(path: string, options: RemoveOptions = {}): void {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stats = lstatOrUndefined(path);
    if (stats === undefined) return;
    if (stats.isDirectory()) removeDirectory(path, stats, options);
    // EISDIR/EPERM: a directory replaced the entry since the lstat; the next attempt empties it.
    else ignoring(['ENOENT', 'EISDIR', 'EPERM'], () => unlinkSync(path));
  }
  if (lstatOrUndefined(path) !== undefined) throw new Error(`could not remove ${path}: it keeps changing`);
}
