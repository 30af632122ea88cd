/**
 * Inbound attachments: base64 `data` in a message's content is decoded into
 * `inbox/<messageId>/<filename>` and the entry rewritten (FORMAT.md "Message content and attachments").
 * The session folder is writable by the untrusted container, which may plant symlinks ahead of time.
 *
 * Invariants (guarded by test/files/inbox.test.ts unless noted):
 * 1. The message id and every filename are safe single segments: an unsafe id throws `INVALID_ID`
 *    before any disk access, an unsafe name is replaced by a generated one ("refuses the message id
 *    ...", test/files/attachment-name.test.ts "replaces the unsafe name ...").
 * 2. `inbox/` and `inbox/<messageId>` must each be a real directory, not a symlink, whose real path is
 *    exactly its parent's real path plus its name (`inspectDir`); otherwise the attachments are
 *    refused ("refuses a symlink planted at inbox/<id>", "refuses a symlinked inbox/ dir").
 * 3. Files are created with `wx` (O_CREAT|O_EXCL): a planted symlink is never followed and an
 *    existing file never overwritten ("does not follow a symlink planted at the target file",
 *    "never overwrites an existing file").
 * 4. Nothing half-written: `planAttachments` (pure) validates and decodes every attachment before
 *    the first file is created, so `TOO_LARGE` leaves no files ("leaves no files when one
 *    attachment is too large").
 * 5. The message is never lost: invalid base64 and refused writes skip that attachment with a
 *    warning and keep its entry without `data`, marked `error` ("keeps the message when base64 is
 *    invalid"). Only an unsafe message id (`INVALID_ID`) and an oversized attachment (`TOO_LARGE`) throw.
 * 6. Rewritten content is compact `JSON.stringify`; content that is not JSON, has no `attachments`
 *    array, or has no entry with `data` is returned byte for byte ("returns ... byte for byte and creates no inbox").
 *
 * Residual risk: Node has no `openat`, so a container swapping `inbox/<id>` for a symlink between
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
  realpathSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { deriveAttachmentName, disambiguate } from './attachment-name.js';
import { assertSafeSegment, isSafeSegment } from './segment.js';

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

export interface ExtractInput extends PlanInput {
  /** The session folder (`<dataDir>/v2-sessions/<ag>/<session>`); it must exist. */
  sessionDir: string;
  warn: WarnFn;
}

export interface ExtractResult {
  /** The content to store: rewritten when an attachment carried `data`, else the input as is. */
  content: string;
  /** Filenames created in `inbox/<messageId>/`, for `removeInboxFiles` on rollback. */
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
 * Throws `INVALID_ID` for an unsafe message id and `TOO_LARGE` for an oversized attachment.
 */
export function planAttachments(input: PlanInput): AttachmentPlan {
  const messageId = assertSafeSegment(input.messageId, 'messageId');
  const root = parseJson(input.content);
  if (!isJsonObject(root) || !Array.isArray(root.attachments)) return { kind: 'unchanged', content: input.content };
  const taken = new Set<string>();
  const entries = root.attachments.map((value: unknown, index) => planEntry(value, index, input, taken));
  if (entries.every((entry) => entry.kind === 'keep')) return { kind: 'unchanged', content: input.content };
  return { kind: 'rewrite', messageId, root, attachments: root.attachments, entries };
}

/** The relative path stored in `localPath`. */
export function inboxLocalPath(messageId: string, filename: string): string {
  return `${INBOX_DIR}/${messageId}/${filename}`;
}

function rewriteEntry(
  planned: PlannedEntry,
  original: unknown,
  messageId: string,
  saved: ReadonlySet<string>,
): unknown {
  if (planned.kind === 'keep') return original;
  // `data` goes; so does any sender-supplied `localPath`: only a file we wrote may be pointed at.
  const { data: _data, localPath: _localPath, ...rest } = planned.entry;
  if (planned.kind === 'invalid') return { ...rest, error: planned.error };
  if (!saved.has(planned.filename)) return { ...rest, error: 'not_saved' satisfies AttachmentErrorCode };
  return { ...rest, name: planned.filename, localPath: inboxLocalPath(messageId, planned.filename) };
}

/** The content to store once the files in `saved` (filenames) exist; compact JSON. */
export function renderContent(plan: AttachmentPlan, saved: ReadonlySet<string>): string {
  if (plan.kind === 'unchanged') return plan.content;
  const attachments = plan.entries.map((planned, i) =>
    rewriteEntry(planned, plan.attachments[i], plan.messageId, saved),
  );
  return JSON.stringify({ ...plan.root, attachments });
}

// ---------------------------------------------------------------------------------------------
// Directory guards (also used by outbox.ts).

/** The errno code of a file-system error (`ENOENT`, `EEXIST`, ...), if any. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `lstat`, with `undefined` for a path that does not exist; other errors are thrown. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

export type DirState =
  | { kind: 'missing'; path: string }
  | { kind: 'refused'; path: string; reason: string }
  | { kind: 'dir'; path: string; real: string };

function checkDir(parent: string, name: string): DirState {
  const path = join(parent, name);
  const stats = lstatOrUndefined(path);
  if (stats === undefined) return { kind: 'missing', path };
  if (stats.isSymbolicLink()) return { kind: 'refused', path, reason: 'is a symlink' };
  if (!stats.isDirectory()) return { kind: 'refused', path, reason: 'is not a directory' };
  const real = realpathSync(path);
  if (real !== join(realpathSync(parent), name)) {
    return { kind: 'refused', path, reason: 'resolves outside its parent' };
  }
  return { kind: 'dir', path, real };
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

/** The guarded `inbox/<messageId>` directory, created when missing. */
function prepareMessageDir(sessionDir: string, messageId: string): DirState {
  const inbox = ensureDir(sessionDir, INBOX_DIR);
  if (inbox.kind !== 'dir') return inbox;
  return ensureDir(inbox.path, messageId);
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
 * Writes the decoded files of a plan into `inbox/<messageId>/`. A refused directory or file is
 * skipped with a warning; returns the filenames actually created. Never throws.
 */
export function writePlannedFiles(sessionDir: string, plan: AttachmentPlan, warn: WarnFn): string[] {
  const files = fileEntries(plan);
  if (plan.kind === 'unchanged' || files.length === 0) return [];
  const { messageId } = plan;
  const dir = prepareMessageDir(sessionDir, messageId);
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
 * Decodes a message's attachments into `inbox/<messageId>/` and returns the content to store.
 * All attachments are validated and decoded first, so a `TOO_LARGE` throw leaves no files.
 * Call `removeInboxFiles(sessionDir, messageId, result.files)` if storing the message then fails.
 *
 * @example
 * const { content, files } = extractAttachments({ sessionDir, messageId: 'm1', content: raw,
 *   nowMs: clock.now(), maxAttachmentBytes: 25 * 1024 * 1024, warn: (o, m) => logger.warn(o, m) });
 */
export function extractAttachments(input: ExtractInput): ExtractResult {
  const plan = planAttachments(input);
  warnInvalid(plan, input.warn);
  const files = writePlannedFiles(input.sessionDir, plan, input.warn);
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
 * Rollback for `extractAttachments`: removes the given files from `inbox/<messageId>/` and the
 * directory itself when it is then empty. Applies the same directory guards; never throws.
 */
export function removeInboxFiles(
  sessionDir: string,
  messageId: string,
  filenames: readonly string[],
  warn: WarnFn = () => {},
): void {
  if (!isSafeSegment(messageId)) {
    warn({ messageId: String(messageId).slice(0, 40) }, 'inbox rollback skipped: unsafe message id');
    return;
  }
  const inbox = inspectDir(sessionDir, INBOX_DIR);
  const dir = inbox.kind === 'dir' ? inspectDir(inbox.path, messageId) : inbox;
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
