/**
 * Outbound files: what the agent declared in `files: [...]`, read from `outbox/<messageId>/`, and
 * the removal of that directory after delivery (FORMAT.md "Message content and attachments").
 * The container writes this folder, so everything in it is untrusted. Synchronous on purpose: the
 * callers run inside a synchronous batch.
 *
 * Invariants (guarded by test/files/outbox.test.ts):
 * 1. An unsafe message id throws `INVALID_ID` before any disk access; an unsafe filename is skipped
 *    with a warning ("throws INVALID_ID for the message id ...", "skips the unsafe filename ...").
 * 2. `outbox/` and `outbox/<messageId>` must each be a real directory, not a symlink, whose real
 *    path is exactly its parent's real path plus its name (`inspectDir`); otherwise nothing is read
 *    ("refuses a symlinked outbox/<id> dir", "refuses a symlinked outbox/ dir").
 * 3. Each file is read only when `lstat` says regular file (not a symlink, FIFO or directory), its
 *    real path is exactly realpath(outbox/<id>)/<name>, and it opens with O_NOFOLLOW as a regular
 *    file ("skips a symlinked outbox file", "skips a FIFO ...", "skips a directory ...").
 * 4. `clearOutbox` never throws and never deletes outside `outbox/`: a symlinked `outbox/<id>` loses
 *    only the link, symlinks inside are unlinked, not followed ("removes only the link ...",
 *    "does not follow symlinks inside the outbox dir").
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync, rmSync, unlinkSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { describeError, errnoCode, inspectDir, lstatOrUndefined } from './inbox.js';
import type { DirState, WarnFn } from './inbox.js';
import { assertSafeSegment, isSafeSegment } from './segment.js';

export const OUTBOX_DIR = 'outbox';

export interface OutboxFile {
  filename: string;
  data: Buffer;
}

type GuardedDir = Extract<DirState, { kind: 'dir' }>;

const silent: WarnFn = () => {};

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

/** The guarded `outbox/<messageId>`, or `undefined` when it is missing or refused (with a warning). */
function messageOutboxDir(sessionDir: string, messageId: string, warn: WarnFn): GuardedDir | undefined {
  const outbox = inspectDir(sessionDir, OUTBOX_DIR);
  const dir = outbox.kind === 'dir' ? inspectDir(outbox.path, messageId) : outbox;
  if (dir.kind === 'missing') return undefined;
  if (dir.kind === 'refused') {
    warn({ messageId, path: dir.path, reason: dir.reason }, 'outbox refused: directory is unsafe');
    return undefined;
  }
  return dir;
}

function fileProblem(stats: Stats, path: string, dir: GuardedDir, filename: string): string | undefined {
  if (stats.isSymbolicLink()) return 'is a symlink';
  if (!stats.isFile()) return 'is not a regular file';
  if (realpathSync(path) !== join(dir.real, filename)) return 'resolves outside the message outbox directory';
  return undefined;
}

/**
 * Reads a file without following a symlink at its last component, insisting on a regular file.
 * O_NONBLOCK keeps a FIFO swapped in after the `lstat` from blocking the host forever.
 */
function readNoFollow(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  try {
    if (!fstatSync(fd).isFile()) throw new Error('is not a regular file');
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readGuardedFile(dir: GuardedDir, filename: string, messageId: string, warn: WarnFn): Buffer | undefined {
  const path = join(dir.path, filename);
  try {
    const stats = lstatOrUndefined(path);
    if (stats === undefined) return undefined; // missing files are skipped (FORMAT.md)
    const problem = fileProblem(stats, path, dir, filename);
    if (problem === undefined) return readNoFollow(path);
    warn({ messageId, filename, reason: problem }, 'outbox file refused');
  } catch (error) {
    // ENOENT: removed between lstat and open, which counts as missing; anything else is a refusal.
    if (errnoCode(error) !== 'ENOENT') {
      warn({ messageId, filename, reason: describeError(error) }, 'outbox file refused');
    }
  }
  return undefined;
}

/**
 * Reads the files an outbound message declared from `outbox/<messageId>/`, in the order given
 * (duplicates once). Missing, unsafe or refused files are skipped; refusals are warned about.
 * Returns `undefined` when the message has no (acceptable) outbox directory.
 * Throws `INVALID_ID` for an unsafe message id.
 *
 * @example readOutboxFiles(sessionDir, 'out-1', ['chart.png']) // [{ filename: 'chart.png', data: <Buffer> }]
 */
export function readOutboxFiles(
  sessionDir: string,
  messageId: string,
  filenames: readonly unknown[],
  warn: WarnFn = silent,
): OutboxFile[] | undefined {
  const id = assertSafeSegment(messageId, 'messageId');
  const dir = messageOutboxDir(sessionDir, id, warn);
  if (dir === undefined) return undefined;
  const files: OutboxFile[] = [];
  for (const filename of new Set(filenames)) {
    if (!isSafeSegment(filename)) {
      warn({ messageId: id, filename: shown(filename) }, 'outbox file skipped: unsafe filename');
      continue;
    }
    const data = readGuardedFile(dir, filename, id, warn);
    if (data !== undefined) files.push({ filename, data });
  }
  return files;
}

function removeOutboxEntry(outboxPath: string, messageId: string, warn: WarnFn): void {
  const target = join(outboxPath, messageId);
  const stats = lstatOrUndefined(target);
  if (stats === undefined) return;
  if (stats.isSymbolicLink() || !stats.isDirectory()) {
    // A link or stray file planted at outbox/<id>: remove that entry itself, never what it points to.
    warn({ messageId, path: target }, 'outbox entry is not a directory; removing only the entry');
    unlinkSync(target);
    return;
  }
  const dir = inspectDir(outboxPath, messageId);
  if (dir.kind !== 'dir') {
    warn({ messageId, path: target, reason: dir.kind === 'refused' ? dir.reason : 'missing' }, 'outbox not cleared');
    return;
  }
  // rmSync unlinks symlinks it meets (the top path included) rather than descending into them.
  rmSync(dir.path, { recursive: true, force: true });
}

/**
 * Removes `outbox/<messageId>` after delivery. Never throws: a failure is reported through `warn`
 * and must not turn a delivered message into a failed one. Never follows a symlink.
 */
export function clearOutbox(sessionDir: string, messageId: string, warn: WarnFn = silent): void {
  try {
    if (!isSafeSegment(messageId)) {
      warn({ messageId: shown(messageId) }, 'outbox not cleared: unsafe message id');
      return;
    }
    const outbox = inspectDir(sessionDir, OUTBOX_DIR);
    if (outbox.kind === 'refused') warn({ messageId, path: outbox.path, reason: outbox.reason }, 'outbox not cleared');
    if (outbox.kind !== 'dir') return;
    removeOutboxEntry(outbox.path, messageId, warn);
  } catch (error) {
    warn({ messageId: shown(messageId), error: describeError(error) }, 'outbox not cleared');
  }
}
