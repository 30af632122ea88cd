/**
 * Outbound files: what the agent declared in `files: [...]`, read from `outbox/<messageId>/`, and
 * the removal of that directory after delivery (FORMAT.md "Message content and attachments").
 * The container writes this folder, so everything in it is untrusted. Synchronous on purpose: the
 * callers run inside a synchronous batch.
 *
 * Invariants (guarded by test/files/outbox.test.ts unless noted):
 * 1. An unsafe message id throws `INVALID_ID` before any disk access (`readOutboxFiles`); an
 *    unsafe filename is skipped with a warning ("throws INVALID_ID for the message id ...",
 *    "skips the unsafe filename ...").
 * 2. `outbox/` and `outbox/<messageId>` must each be a real directory, not a symlink, whose real
 *    path is exactly its parent's real path plus its name (`inspectDir`); otherwise nothing is read
 *    ("refuses a symlinked outbox/<id> dir", "refuses a symlinked outbox/ dir").
 * 3. Each file is read only when `lstat` says regular file with a single link (not a symlink, hard
 *    link, FIFO or directory), its real path is exactly realpath(outbox/<id>)/<name>, and the
 *    descriptor opened with O_NOFOLLOW|O_NONBLOCK is that same inode, still a regular file with one
 *    link ("skips a symlinked outbox file", "skips a FIFO ...", test/files/hostile-container.test.ts
 *    "refuses an outbox file hard-linked to a file outside the session"). The files of one message
 *    are read `maxBytes` at most together: a file that would go over is refused `oversized`
 *    unread, and no file is read past the size its descriptor showed
 *    (test/runtime/hostile-container.test.ts "files past maxAttachmentBytes together are refused unread").
 * 4. Every refusal is reported to the caller with its violation kind, not only warned about
 *    (`readOutbox` returns them, `readOutboxFiles` hands them to `onRefused`): missing files are
 *    skipped silently, as FORMAT.md says ("reports every refused name with its kind").
 * 5. `clearOutbox` never throws and never deletes outside `outbox/`: a symlinked `outbox/<id>` loses
 *    only the link, the directory is removed without following links (src/files/remove-entry.ts)
 *    ("removes only the link ...", "does not follow symlinks inside the outbox dir").
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { entryViolation, violation, type ContainerViolation } from './container-violation.js';
import { describeError, errnoCode, lstatOrUndefined } from './fs-errors.js';
import { dirViolation, inspectDir } from './inbox.js';
import type { DirState, WarnFn } from './inbox.js';
import { removeEntry } from './remove-entry.js';
import { assertSafeSegment, isSafeSegment } from './segment.js';

export const OUTBOX_DIR = 'outbox';

/** Default of `maxBytes`: the declared files of one message together (the inbound attachment cap). */
export const DEFAULT_MAX_OUTBOX_BYTES = 25 * 1024 * 1024;

export interface OutboxFile {
  filename: string;
  data: Buffer;
}

/** A declared file the host refused; `filename` is `null` when the directory itself was refused. */
export interface OutboxRefusal {
  filename: string | null;
  violation: ContainerViolation;
}

/** Everything one read of `outbox/<messageId>/` found. */
export interface OutboxRead {
  /** `undefined` when the message has no acceptable outbox directory (missing or refused). */
  files: OutboxFile[] | undefined;
  /** Refused names (and a refused directory, as `filename: null`), in the order met. */
  refused: OutboxRefusal[];
}

type GuardedDir = Extract<DirState, { kind: 'dir' }>;

const silent: WarnFn = () => {};

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

/** The guarded `outbox/<messageId>`, or the state that stopped it. */
function messageOutboxDir(sessionDir: string, messageId: string): DirState {
  const outbox = inspectDir(sessionDir, OUTBOX_DIR);
  return outbox.kind === 'dir' ? inspectDir(outbox.path, messageId) : outbox;
}

function fileProblem(stats: Stats, path: string, dir: GuardedDir, filename: string): ContainerViolation | undefined {
  const problem = entryViolation(stats, path, 'file', filename);
  if (problem !== undefined) return problem;
  if (realpathSync(path) !== join(dir.real, filename)) {
    return violation('swapped', path, `${filename} resolves outside the message outbox directory`);
  }
  return undefined;
}

/** What is left of the byte budget of one message's files. */
interface Budget {
  max: number;
  left: number;
}

/**
 * Reads a file without following a symlink at its last component, insisting that the descriptor
 * is the inode `checked` described, still a regular file with one link. O_NONBLOCK keeps a FIFO
 * swapped in after the `lstat` from blocking the host forever. At most the size the descriptor
 * showed is read (a file the container keeps growing is cut there), and only within `budget`.
 */
function readNoFollow(path: string, filename: string, checked: Stats, budget: Budget): Buffer | ContainerViolation {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  try {
    const opened = fstatSync(fd);
    if (opened.dev !== checked.dev || opened.ino !== checked.ino) {
      return violation('swapped', path, `${filename} was swapped between the check and the open`);
    }
    const problem = entryViolation(opened, path, 'file', filename);
    if (problem !== undefined) return problem;
    if (opened.size > budget.left) {
      return violation(
        'oversized',
        path,
        `${filename} holds ${opened.size} bytes, over the ${budget.left} left of the ${budget.max} bytes the files of one message may hold`,
      );
    }
    const data = Buffer.allocUnsafe(opened.size);
    let read = 0;
    while (read < data.length) {
      const n = readSync(fd, data, read, data.length - read, read);
      if (n === 0) break; // cut short by the container meanwhile
      read += n;
    }
    budget.left -= read;
    return read === data.length ? data : data.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function readGuardedFile(dir: GuardedDir, filename: string, budget: Budget): Buffer | ContainerViolation | undefined {
  const path = join(dir.path, filename);
  try {
    const stats = lstatOrUndefined(path);
    if (stats === undefined) return undefined; // missing files are skipped (FORMAT.md)
    return fileProblem(stats, path, dir, filename) ?? readNoFollow(path, filename, stats, budget);
  } catch (error) {
    // ENOENT: removed between lstat and open, which counts as missing. ELOOP: swapped for a link.
    const code = errnoCode(error);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') return violation('symlink', path, `${filename} became a symlink during the read`);
    return violation('not-regular', path, `${filename} could not be read: ${describeError(error)}`);
  }
}

/**
 * Reads the files an outbound message declared from `outbox/<messageId>/`, in the order given
 * (duplicates once), and reports every refusal with its violation. Missing files are skipped; a
 * file that would take the files of the message over `maxBytes` together is refused `oversized`
 * without being read. Throws `INVALID_ID` for an unsafe message id; nothing else.
 *
 * @example readOutbox(sessionDir, 'out-1', ['chart.png', 'leak']) // { files: [chart.png], refused: [{ filename: 'leak', violation: { kind: 'hardlink', … } }] }
 */
export function readOutbox(
  sessionDir: string,
  messageId: string,
  filenames: readonly unknown[],
  warn: WarnFn = silent,
  maxBytes: number = DEFAULT_MAX_OUTBOX_BYTES,
): OutboxRead {
  const id = assertSafeSegment(messageId, 'messageId');
  const refused: OutboxRefusal[] = [];
  const dir = messageOutboxDir(sessionDir, id);
  if (dir.kind === 'missing') return { files: undefined, refused };
  if (dir.kind === 'refused') {
    warn({ messageId: id, path: dir.path, reason: dir.reason }, 'outbox refused: directory is unsafe');
    const v =
      dirViolation(dir, 'outbox directory') ?? violation('not-regular', dir.path, `outbox directory ${dir.reason}`);
    refused.push({ filename: null, violation: v });
    return { files: undefined, refused };
  }
  const files: OutboxFile[] = [];
  const budget: Budget = { max: maxBytes, left: maxBytes };
  for (const filename of new Set(filenames)) {
    if (!isSafeSegment(filename)) {
      warn({ messageId: id, filename: shown(filename) }, 'outbox file skipped: unsafe filename');
      const name = typeof filename === 'string' ? filename.slice(0, 200) : shown(filename);
      refused.push({
        filename: name,
        violation: violation('unsafe-name', join(dir.path, '?'), `unsafe filename ${shown(filename)}`),
      });
      continue;
    }
    const result = readGuardedFile(dir, filename, budget);
    if (result === undefined) continue;
    if (Buffer.isBuffer(result)) {
      files.push({ filename, data: result });
      continue;
    }
    warn(
      { messageId: id, filename, reason: reasonOf(result, filename), violation: result.kind },
      'outbox file refused',
    );
    refused.push({ filename, violation: result });
  }
  return { files, refused };
}

/** The short reason of a file violation ("is a symlink"), as the warnings have always said it. */
function reasonOf(v: ContainerViolation, filename: string): string {
  return v.detail.startsWith(`${filename} `) ? v.detail.slice(filename.length + 1) : v.detail;
}

/**
 * Reads the files an outbound message declared from `outbox/<messageId>/`, in the order given
 * (duplicates once), `maxBytes` at most together. Missing, unsafe, oversized or refused files are
 * skipped; refusals are warned about and handed to `onRefused` with their violation. Returns
 * `undefined` when the message has no (acceptable) outbox directory. Throws `INVALID_ID` for an
 * unsafe message id.
 *
 * @example readOutboxFiles(sessionDir, 'out-1', ['chart.png']) // [{ filename: 'chart.png', data: <Buffer> }]
 */
export function readOutboxFiles(
  sessionDir: string,
  messageId: string,
  filenames: readonly unknown[],
  warn: WarnFn = silent,
  onRefused?: (refusal: OutboxRefusal) => void,
  maxBytes: number = DEFAULT_MAX_OUTBOX_BYTES,
): OutboxFile[] | undefined {
  const { files, refused } = readOutbox(sessionDir, messageId, filenames, warn, maxBytes);
  if (onRefused !== undefined) for (const refusal of refused) onRefused(refusal);
  return files;
}

function removeOutboxEntry(outboxPath: string, messageId: string, warn: WarnFn): void {
  const target = join(outboxPath, messageId);
  const stats = lstatOrUndefined(target);
  if (stats === undefined) return;
  if (stats.isSymbolicLink() || !stats.isDirectory()) {
    // A link or stray file planted at outbox/<id>: remove that entry itself, never what it points to.
    warn({ messageId, path: target }, 'outbox entry is not a directory; removing only the entry');
  }
  removeEntry(target);
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
