/**
 * What a container did to its session folder that the host refuses, in a machine-readable form.
 * The container owns the folder and may replace any entry in it between two host operations, so
 * every host access of a session file checks the entry first (`entryViolation`) and reports what
 * it refused as a `ContainerViolation`, either attached to the `STORAGE` error it throws or through
 * a callback when the host repaired the entry and went on.
 *
 * Invariants (guarded by test/store/hostile-container.test.ts and test/files/hostile-container.test.ts):
 * 1. A refused session file always throws `RuntimeError('STORAGE')` carrying its violation, which
 *    `violationOf` finds on the error or anywhere in its `cause` chain.
 * 2. `entryViolation` judges the entry itself (`lstat`), never what a link points to: a symlink,
 *    a file with more than one hard link and anything that is not of the expected type are refused.
 */
import type { Stats } from 'node:fs';
import { RuntimeError } from '../errors.js';

/**
 * Stable kinds raised by the file-system and SQLite guards. Other layers may raise kinds of their
 * own through the same `ContainerViolation` shape.
 */
export type ViolationKind =
  | 'symlink'
  | 'hardlink'
  | 'not-regular'
  | 'swapped'
  | 'journal'
  | 'corrupt-db'
  | 'missing'
  | 'unsafe-name'
  | 'oversized';

/** A refused session file: `kind` for programs, `detail` for people, `path` when there is one. */
export interface ContainerViolation {
  kind: string;
  detail: string;
  path?: string;
}

/** Receives the violations the host repaired on its own (e.g. a removed journal) and went on. */
export type ViolationSink = (violation: ContainerViolation) => void;

/** The `STORAGE` error a refusal throws; `violation` says what was refused. */
export class ContainerViolationError extends RuntimeError {
  readonly violation: ContainerViolation;

  constructor(violation: ContainerViolation, options?: { cause?: unknown }) {
    super('STORAGE', violation.detail, options);
    this.violation = violation;
  }
}

export function violation(kind: ViolationKind, path: string, detail: string): ContainerViolation {
  return { kind, detail, path };
}

/** The `STORAGE` error for a violation. */
export function violationError(v: ContainerViolation, cause?: unknown): ContainerViolationError {
  return new ContainerViolationError(v, cause === undefined ? undefined : { cause });
}

/** Throws the `STORAGE` error for a violation. */
export function refuse(v: ContainerViolation, cause?: unknown): never {
  throw violationError(v, cause);
}

/** The violation carried by `error` or by an error in its `cause` chain, if any. */
export function violationOf(error: unknown): ContainerViolation | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof ContainerViolationError) return current.violation;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Why the entry described by `stats` (from `lstat`) must not be used as a `want`, or `undefined`
 * when it may. `what` names the entry in the detail (e.g. `inbound.db`).
 */
export function entryViolation(
  stats: Stats,
  path: string,
  want: 'file' | 'directory',
  what: string,
): ContainerViolation | undefined {
  if (stats.isSymbolicLink()) return violation('symlink', path, `${what} is a symlink`);
  if (want === 'file' && !stats.isFile()) {
    return violation('not-regular', path, `${what} is not a regular file (${typeName(stats)})`);
  }
  if (want === 'directory' && !stats.isDirectory()) {
    return violation('not-regular', path, `${what} is not a directory (${typeName(stats)})`);
  }
  if (want === 'file' && stats.nlink > 1) {
    return violation('hardlink', path, `${what} has ${stats.nlink} hard links`);
  }
  return undefined;
}

/** A word for the type of an entry, for messages. */
export function typeName(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isFIFO()) return 'FIFO';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'device';
  return 'unknown';
}
