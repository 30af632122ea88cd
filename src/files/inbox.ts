/**
 * Inbound attachments: base64 `data` in a message's content is decoded into
 * `inbox/<dir>/<filename>` and the entry rewritten (FORMAT.md "Message content and attachments"),
 * where `<dir>` is `inboxDirName(messageId)`: the id itself when it is a safe segment, else a
 * hash-derived name (src/files/message-id.ts). The session folder is writable by the untrusted
 * container, which may plant symlinks ahead of time.
 *
 * Invariants (guarded by test/files/inbox.test.ts unless noted):
 * 1. A message id is any string of 1 to 1,024 characters without NUL (`INVALID_ID` otherwise,
 *    before any disk access); its folder name and every filename are safe single segments, an
 *    unsafe name being replaced by a generated one ("stores attachments of the id ... under a
 *    derived folder", test/files/attachment-name.test.ts "replaces the unsafe name ...").
 * 2. `inbox/` must be a real directory, not a symlink, whose real path is exactly the session
 *    folder's plus `inbox` (`inspectDir`); otherwise the attachments are refused ("refuses a
 *    symlinked inbox/ dir").
 * 3. `inbox/<dir>`: the caller vouches that no committed row holds the message, so an existing
 *    entry there is a crash leftover (or a plant) and is replaced (`replaceStale`, the default):
 *    removed without following links (a symlink loses only the link) and created afresh
 *    (test/files/hostile-container.test.ts, "replaces a stale inbox folder of ...: the re-sent
 *    attachment is saved with its new bytes"). An entry that only answers to the name on a file
 *    system folding case or Unicode normalization belongs to another message and refuses the
 *    attachments instead ("never replaces the folder of an id that differs only in case", which
 *    runs only where the temp file system folds case). With `replaceStale: false` an existing
 *    `inbox/<dir>` must pass the same checks as `inbox/` or the attachments are refused
 *    ("refuses a symlink planted at inbox/<id> pointing outside").
 * 4. Files are created with `wx` (O_CREAT|O_EXCL): a planted symlink is never followed and an
 *    existing file never overwritten ("does not follow a symlink planted at the target file",
 *    "never overwrites an existing file").
 * 5. Nothing half-written: `planAttachments` (pure) validates and decodes every attachment before
 *    the first file is created, so `TOO_LARGE` leaves no files ("leaves no files when one
 *    attachment is too large").
 * 6. The message is never lost: invalid base64 and refused writes skip that attachment with a
 *    warning and keep its entry without `data`, marked `error` ("keeps the message when base64 is
 *    invalid"). Only an invalid message id (`INVALID_ID`) and an oversized attachment (`TOO_LARGE`) throw.
 * 7. Rewritten content is compact `JSON.stringify`; content that is not JSON, has no `attachments`
 *    array, or has no entry with `data` is returned byte for byte ("returns ... byte for byte and creates no inbox").
 *
 * Residual risk: Node has no `openat`, so a container swapping `inbox/<dir>` for a symlink between
 * the directory check and `open` could make us create (never overwrite) a file elsewhere. The real
 * path checks in `inspectDir` and `createExclusive` exist for that race only (without one, the
 * `lstat` checks already imply them): the file's real path is re-checked right after `open` and a
 * stray file is removed before any byte is written ("createExclusive removes the file it just
 * created when the directory no longer resolves where it was checked").
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { deriveAttachmentName, disambiguate } from './attachment-name.js';
import {
  entryViolation,
  type ContainerViolation,
  type ViolationKind,
  type ViolationSink,
} from './container-violation.js';
import { describeError, errnoCode, lstatOrUndefined } from './fs-errors.js';
import { assertMessageId, inboxDirName, isMessageId } from './message-id.js';
import { removeEntry } from './remove-entry.js';
import { isSafeSegment } from './segment.js';

export { describeError, errnoCode, lstatOrUndefined } from './fs-errors.js';

export const INBOX_DIR = 'inbox';

/** pino-style warning sink: `(details, message)`, e.g. `(o, m) => logger.warn(o, m)`. */
export type WarnFn = (details: Record<string, unknown>, message: string) => void;

/** Value of `error` on an attachment entry whose data was dropped. */
export type AttachmentErrorCode = 'invalid_base64' | 'not_saved';

type JsonObject = Record<string, unknown>;

export type PlannedEntry =
  | { kind: 'keep' }
  | { kind: 'invalid'; entry: JsonObject; error: 'invalid_base64' }
  | { kind: 'file'; entry: JsonObject; filename: string; bytes: Buffer };

export type AttachmentPlan =
  | { kind: 'unchanged'; content: string }
  | {
      kind: 'rewrite';
      messageId: string;
      /** `inboxDirName(messageId)`: the folder under `inbox/` the files go to. */
      dirName: string;
      root: JsonObject;
      /** `root.attachments` as parsed; `entries[i]` is the plan for `attachments[i]`. */
      attachments: readonly unknown[];
      entries: readonly PlannedEntry[];
    };

export interface PlanInput {
  messageId: string;
  /** The message's `content` (JSON text, or anything else, which is left alone). */
  content: string;
  /** Epoch milliseconds used for generated names (`attachment-<nowMs>.ext`). */
  nowMs: number;
  /** Largest decoded attachment accepted, in bytes; larger throws `TOO_LARGE`. */
  maxAttachmentBytes: number;
}

export interface WriteOptions {
  /**
   * The caller vouches that no committed row holds this message id, so an existing `inbox/<dir>`
   * is stale and is replaced (invariant 3). Default true; false keeps an existing directory that
   * passes the checks, and refuses one that does not.
   */
  replaceStale?: boolean;
  /** Receives what the container planted in `inbox/` (symlinks, files where a folder belongs). */
  onViolation?: ViolationSink;
}

export interface ExtractInput extends PlanInput, WriteOptions {
  /** The session folder (`<dataDir>/v2-sessions/<ag>/<session>`); it must exist. */
  sessionDir: string;
  warn: WarnFn;
}

export interface ExtractResult {
  /** The content to store: rewritten when an attachment carried `data`, else the input as is. */
  content: string;
  /** Filenames created in `inbox/<dir>/`, for `removeInboxFiles` on rollback. */
  files: string[];
}

// ---------------------------------------------------------------------------------------------
// Pure planning: parse, validate, decode. No disk access.

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    // Not JSON: FORMAT.md stores such content unchanged, so "no attachments" is the answer.
    return undefined;
  }
}

const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 with padding, nothing else (Buffer.from would silently skip bad characters). */
export function isStrictBase64(data: string): boolean {
  return data.length % 4 === 0 && BASE64_CHARS.test(data);
}

/** Decoded size of strict base64, computed without decoding. */
export function decodedLength(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}

function planEntry(value: unknown, index: number, input: PlanInput, taken: Set<string>): PlannedEntry {
  if (!isJsonObject(value) || !Object.hasOwn(value, 'data')) return { kind: 'keep' };
  const data = value.data;
  if (typeof data !== 'string' || !isStrictBase64(data)) {
    return { kind: 'invalid', entry: value, error: 'invalid_base64' };
  }
  const size = decodedLength(data);
  if (size > input.maxAttachmentBytes) {
    throw new RuntimeError(
      'TOO_LARGE',
      `attachment ${index} of message ${JSON.stringify(input.messageId)} decodes to ${size} bytes, over the limit of ${input.maxAttachmentBytes}`,
    );
  }
  const filename = disambiguate(deriveAttachmentName(value, input.nowMs), taken);
  taken.add(filename.toLowerCase());
  return { kind: 'file', entry: value, filename, bytes: Buffer.from(data, 'base64') };
}

/**
 * Validates and decodes every attachment of `content` without touching the disk.
 * Throws `INVALID_ID` for an invalid message id and `TOO_LARGE` for an oversized attachment.
 */
export function planAttachments(input: PlanInput): AttachmentPlan {
  const messageId = assertMessageId(input.messageId);
  const root = parseJson(input.content);
  if (!isJsonObject(root) || !Array.isArray(root.attachments)) return { kind: 'unchanged', content: input.content };
  const taken = new Set<string>();
  const entries = root.attachments.map((value: unknown, index) => planEntry(value, index, input, taken));
  if (entries.every((entry) => entry.kind === 'keep')) return { kind: 'unchanged', content: input.content };
  return { kind: 'rewrite', messageId, dirName: inboxDirName(messageId), root, attachments: root.attachments, entries };
}

/** The relative path stored in `localPath`: `inbox/<inboxDirName(messageId)>/<filename>`. */
export function inboxLocalPath(messageId: string, filename: string): string {
  return `${INBOX_DIR}/${inboxDirName(messageId)}/${filename}`;
}

function rewriteEntry(planned: PlannedEntry, original: unknown, dirName: string, saved: ReadonlySet<string>): unknown {
  if (planned.kind === 'keep') return original;
  // `data` goes; so does any sender-supplied `localPath`: only a file we wrote may be pointed at.
  const { data: _data, localPath: _localPath, ...rest } = planned.entry;
  if (planned.kind === 'invalid') return { ...rest, error: planned.error };
  if (!saved.has(planned.filename)) return { ...rest, error: 'not_saved' satisfies AttachmentErrorCode };
  return { ...rest, name: planned.filename, localPath: `${INBOX_DIR}/${dirName}/${planned.filename}` };
}

/** The content to store once the files in `saved` (filenames) exist; compact JSON. */
export function renderContent(plan: AttachmentPlan, saved: ReadonlySet<string>): string {
  if (plan.kind === 'unchanged') return plan.content;
  const attachments = plan.entries.map((planned, i) => rewriteEntry(planned, plan.attachments[i], plan.dirName, saved));
  return JSON.stringify({ ...plan.root, attachments });
}

// ---------------------------------------------------------------------------------------------
// Directory guards (also used by outbox.ts).

export type DirState =
  | { kind: 'missing'; path: string }
  | { kind: 'refused'; path: string; reason: string; violation?: ViolationKind }
  | { kind: 'dir'; path: string; real: string };

function checkDir(parent: string, name: string): DirState {
  const path = join(parent, name);
  const stats = lstatOrUndefined(path);
  if (stats === undefined) return { kind: 'missing', path };
  if (stats.isSymbolicLink()) return { kind: 'refused', path, reason: 'is a symlink', violation: 'symlink' };
  if (!stats.isDirectory()) return { kind: 'refused', path, reason: 'is not a directory', violation: 'not-regular' };
  const real = realpathSync(path);
  if (real !== join(realpathSync(parent), name)) {
    return { kind: 'refused', path, reason: 'resolves outside its parent', violation: 'swapped' };
  }
  return { kind: 'dir', path, real };
}

/** The violation a refused directory stands for, if the refusal was the container's doing. */
export function dirViolation(state: DirState, what: string): ContainerViolation | undefined {
  if (state.kind !== 'refused' || state.violation === undefined) return undefined;
  return { kind: state.violation, detail: `${what} ${state.reason}`, path: state.path };
}

/**
 * `parent/name` as a guarded directory: a real directory (not a symlink) whose real path is exactly
 * realpath(parent)/name. Never throws; an unexpected error is reported as `refused`.
 */
export function inspectDir(parent: string, name: string): DirState {
  try {
    return checkDir(parent, name);
  } catch (error) {
    return { kind: 'refused', path: join(parent, name), reason: describeError(error) };
  }
}

/** `inspectDir`, creating the directory (not its parents) when it is missing. */
function ensureDir(parent: string, name: string): DirState {
  const state = inspectDir(parent, name);
  if (state.kind !== 'missing') return state;
  try {
    mkdirSync(state.path);
  } catch (error) {
    // EEXIST: created concurrently; the second inspection below decides whether it is acceptable.
    if (errnoCode(error) !== 'EEXIST') return { kind: 'refused', path: state.path, reason: describeError(error) };
  }
  const again = inspectDir(parent, name);
  return again.kind === 'missing' ? { kind: 'refused', path: again.path, reason: 'vanished after mkdir' } : again;
}

/**
 * Replaces a stale `inbox/<dirName>` by a fresh directory (invariant 3). An entry that is not
 * listed under its exact name belongs to another message on a folding file system: refused.
 */
function freshDir(inbox: { path: string }, dirName: string, report: Report): DirState {
  const path = join(inbox.path, dirName);
  const stats = lstatOrUndefined(path);
  if (stats !== undefined) {
    if (!readdirSync(inbox.path).includes(dirName)) {
      return {
        kind: 'refused',
        path,
        reason: 'another entry of inbox/ answers to this name (case or Unicode folding)',
      };
    }
    const planted = entryViolation(stats, path, 'directory', `inbox/${dirName}`);
    if (planted !== undefined) report.violation({ ...planted, detail: `${planted.detail}; replaced` });
    report.warn(
      { path, planted: planted?.kind ?? null },
      'replacing a stale inbox directory (no committed message owns it)',
    );
    removeEntry(path);
  }
  return ensureDir(inbox.path, dirName);
}

interface Report {
  warn: (details: Record<string, unknown>, message: string) => void;
  violation: (v: ContainerViolation) => void;
}

/** The guarded `inbox/<dirName>` directory, created when missing (replaced when stale). */
function prepareMessageDir(sessionDir: string, dirName: string, options: WriteOptions, report: Report): DirState {
  const inbox = ensureDir(sessionDir, INBOX_DIR);
  const planted = dirViolation(inbox, INBOX_DIR);
  if (planted !== undefined) report.violation(planted);
  if (inbox.kind !== 'dir') return inbox;
  if (options.replaceStale === false) {
    const dir = ensureDir(inbox.path, dirName);
    const bad = dirViolation(dir, `inbox/${dirName}`);
    if (bad !== undefined) report.violation(bad);
    return dir;
  }
  try {
    return freshDir(inbox, dirName, report);
  } catch (error) {
    return {
      kind: 'refused',
      path: join(inbox.path, dirName),
      reason: `stale directory not replaced: ${describeError(error)}`,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Writing.

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch (error) {
    // Already closed (EBADF after a failed close): nothing left to release; the caller reports the failure.
    void error;
  }
}

/** Unlinks `path` only if it is still the file open as `fd` (one we created exclusively), then closes `fd`. */
function discardCreated(fd: number, path: string): void {
  try {
    const mine = fstatSync(fd);
    const there = lstatSync(path);
    if (mine.ino === there.ino && mine.dev === there.dev) unlinkSync(path);
  } catch (error) {
    // Best effort: the file is already gone or was replaced; the caller reports the failure.
    void error;
  } finally {
    closeQuietly(fd);
  }
}

type WriteOutcome = { ok: true } | { ok: false; reason: string };

/** Creates `dir/filename` with `wx` and writes `bytes`; leaves nothing behind on failure. */
export function createExclusive(dir: { path: string; real: string }, filename: string, bytes: Buffer): WriteOutcome {
  const target = join(dir.path, filename);
  let fd: number;
  try {
    fd = openSync(target, 'wx', 0o644);
  } catch (error) {
    const code = errnoCode(error);
    return { ok: false, reason: code === 'EEXIST' ? 'file exists (never overwritten)' : describeError(error) };
  }
  try {
    if (realpathSync(target) !== join(dir.real, filename)) {
      discardCreated(fd, target);
      return { ok: false, reason: 'resolved outside the message inbox directory' };
    }
    writeFileSync(fd, bytes);
    closeSync(fd);
    return { ok: true };
  } catch (error) {
    discardCreated(fd, target);
    return { ok: false, reason: describeError(error) };
  }
}

function fileEntries(plan: AttachmentPlan): Extract<PlannedEntry, { kind: 'file' }>[] {
  if (plan.kind === 'unchanged') return [];
  return plan.entries.filter((entry): entry is Extract<PlannedEntry, { kind: 'file' }> => entry.kind === 'file');
}

/**
 * Writes the decoded files of a plan into `inbox/<dir>/`. A refused directory or file is
 * skipped with a warning; returns the filenames actually created. Never throws.
 */
export function writePlannedFiles(
  sessionDir: string,
  plan: AttachmentPlan,
  warn: WarnFn,
  options: WriteOptions = {},
): string[] {
  const files = fileEntries(plan);
  if (plan.kind === 'unchanged' || files.length === 0) return [];
  const { messageId } = plan;
  const report: Report = {
    warn: (details, message) => warn({ messageId, ...details }, message),
    violation: (v) => options.onViolation?.(v),
  };
  const dir = prepareMessageDir(sessionDir, plan.dirName, options, report);
  if (dir.kind !== 'dir') {
    const reason = dir.kind === 'refused' ? dir.reason : 'missing';
    for (const file of files) {
      const details = { messageId, filename: file.filename, path: dir.path, reason };
      warn(details, 'attachment refused: inbox directory is unsafe');
    }
    return [];
  }
  const written: string[] = [];
  for (const file of files) {
    const outcome = createExclusive(dir, file.filename, file.bytes);
    if (outcome.ok) written.push(file.filename);
    else warn({ messageId, filename: file.filename, reason: outcome.reason }, 'attachment refused: file not written');
  }
  return written;
}

function warnInvalid(plan: AttachmentPlan, warn: WarnFn): void {
  if (plan.kind === 'unchanged') return;
  plan.entries.forEach((entry, index) => {
    if (entry.kind !== 'invalid') return;
    warn({ messageId: plan.messageId, index, name: entry.entry.name }, 'attachment skipped: data is not valid base64');
  });
}

/**
 * Decodes a message's attachments into `inbox/<inboxDirName(messageId)>/` and returns the content
 * to store. All attachments are validated and decoded first, so a `TOO_LARGE` throw leaves no
 * files. The caller must hold no committed row for `messageId` (an existing folder is then stale
 * and replaced, see `replaceStale`). Call `removeInboxFiles(sessionDir, messageId, result.files)`
 * if storing the message then fails.
 *
 * @example
 * const { content, files } = extractAttachments({ sessionDir, messageId: 'm1', content: raw,
 *   nowMs: clock.now(), maxAttachmentBytes: 25 * 1024 * 1024, warn: (o, m) => logger.warn(o, m) });
 */
export function extractAttachments(input: ExtractInput): ExtractResult {
  const plan = planAttachments(input);
  warnInvalid(plan, input.warn);
  const files = writePlannedFiles(input.sessionDir, plan, input.warn, input);
  return { content: renderContent(plan, new Set(files)), files };
}

function unlinkQuietly(path: string, warn: WarnFn): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') warn({ path, error: describeError(error) }, 'could not remove inbox file');
  }
}

/**
 * Rollback for `extractAttachments`: removes the given files from `inbox/<inboxDirName(messageId)>/`
 * and the directory itself when it is then empty. Applies the same directory guards; never throws.
 */
export function removeInboxFiles(
  sessionDir: string,
  messageId: string,
  filenames: readonly string[],
  warn: WarnFn = () => {},
): void {
  if (!isMessageId(messageId)) {
    warn({ messageId: String(messageId).slice(0, 40) }, 'inbox rollback skipped: invalid message id');
    return;
  }
  const inbox = inspectDir(sessionDir, INBOX_DIR);
  const dir = inbox.kind === 'dir' ? inspectDir(inbox.path, inboxDirName(messageId)) : inbox;
  if (dir.kind === 'missing') return;
  if (dir.kind === 'refused') {
    warn({ messageId, path: dir.path, reason: dir.reason }, 'inbox rollback skipped: directory is unsafe');
    return;
  }
  for (const filename of filenames) {
    if (isSafeSegment(filename)) unlinkQuietly(join(dir.path, filename), warn);
    else warn({ messageId, filename: String(filename).slice(0, 40) }, 'inbox rollback skipped an unsafe filename');
  }
  try {
    rmdirSync(dir.path);
  } catch (error) {
    // ENOTEMPTY: other files remain (not ours to remove); ENOENT: already gone. Both are fine.
    const code = errnoCode(error);
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') {
      warn({ messageId, path: dir.path, error: describeError(error) }, 'could not remove inbox directory');
    }
  }
}
