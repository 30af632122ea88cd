/**
 * The filename an inbound attachment is saved under (FORMAT.md "Message content and attachments").
 *
 * Invariants (guarded by test/files/attachment-name.test.ts):
 * 1. The result is always a safe single segment (`isSafeSegment`): an attachment's own `name` is
 *    used only when it is a safe segment, otherwise a generated name replaces it, so no
 *    channel-supplied name can climb out of `inbox/<messageId>/` ("replaces the unsafe name ... by a generated one").
 * 2. Generated names are `attachment-<epoch-ms>` plus an extension from the mimeType table
 *    (parameters after `;` ignored, case-insensitive), else from the type table, else none
 *    ("derives the extension from ..." tests cover every table entry).
 * 3. Deterministic: time is an argument (`nowMs`), never `Date.now()`, so a replayed log
 *    names files identically ("is deterministic for a given nowMs").
 * 4. `disambiguate` keeps two attachments of one message from claiming the same filename while
 *    staying within the segment rule ("keeps a disambiguated name within 128 characters").
 */
import { extname } from 'node:path';
import { RuntimeError } from '../errors.js';
import { MAX_SEGMENT_LENGTH, isSafeSegment } from './segment.js';

/** mimeType (lower case, no parameters) → extension without the dot. */
export const MIME_EXTENSIONS: Readonly<Record<string, string>> = Object.freeze({
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/heic': 'heic',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'audio/mp4': 'm4a',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/quicktime': 'mov',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'application/json': 'json',
  'application/zip': 'zip',
});

/** Coarse attachment `type` (lower case) → extension without the dot; used when mimeType gives none. */
export const TYPE_EXTENSIONS: Readonly<Record<string, string>> = Object.freeze({
  image: 'jpg',
  photo: 'jpg',
  sticker: 'webp',
  voice: 'ogg',
  audio: 'mp3',
  video: 'mp4',
  animation: 'mp4',
});

export interface AttachmentNameInput {
  name?: unknown;
  mimeType?: unknown;
  type?: unknown;
}

function lookup(table: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Extension (no dot) for a MIME type such as `Image/JPEG; q=1`, or `undefined` when unknown. */
export function extensionForMime(mime: unknown): string | undefined {
  if (typeof mime !== 'string') return undefined;
  const essence = (mime.split(';')[0] ?? '').trim().toLowerCase();
  return lookup(MIME_EXTENSIONS, essence);
}

/** Extension (no dot) for a coarse attachment type such as `photo`, or `undefined` when unknown. */
export function extensionForType(type: unknown): string | undefined {
  if (typeof type !== 'string') return undefined;
  return lookup(TYPE_EXTENSIONS, type.trim().toLowerCase());
}

/** `attachment-<epoch-ms>[.ext]`, the extension from mimeType first, then from type. */
export function generatedAttachmentName(att: AttachmentNameInput, nowMs: number): string {
  if (!Number.isFinite(nowMs)) {
    throw new RuntimeError('INVALID_INPUT', `nowMs must be a finite number, got ${String(nowMs)}`);
  }
  const ext = extensionForMime(att.mimeType) ?? extensionForType(att.type);
  const stem = `attachment-${Math.floor(nowMs)}`;
  return ext === undefined ? stem : `${stem}.${ext}`;
}

/**
 * The filename for one attachment: its own `name` when that is a safe single segment,
 * otherwise a generated `attachment-<epoch-ms>[.ext]`.
 *
 * @example deriveAttachmentName({ mimeType: 'image/png' }, 1700000000000) // 'attachment-1700000000000.png'
 */
export function deriveAttachmentName(att: AttachmentNameInput, nowMs: number): string {
  if (isSafeSegment(att.name)) return att.name;
  return generatedAttachmentName(att, nowMs);
}

/** Cuts `text` to `max` UTF-16 units without leaving half a surrogate pair at the end. */
function cut(text: string, max: number): string {
  const head = text.slice(0, Math.max(0, max));
  const last = head.charCodeAt(head.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head;
}

/**
 * `name` itself when not taken, else `<stem>-<n><ext>` for the smallest n ≥ 2 that is free,
 * shortening the stem (or dropping the extension) so the result stays a safe segment.
 * `taken` holds lower-cased names and is compared case-insensitively, so two names differing only
 * in case do not collide on a case-insensitive file system either.
 */
export function disambiguate(name: string, taken: ReadonlySet<string>): string {
  const isTaken = (candidate: string) => taken.has(candidate.toLowerCase());
  if (!isTaken(name)) return name;
  const fullExt = extname(name);
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const ext = suffix.length + fullExt.length < MAX_SEGMENT_LENGTH ? fullExt : '';
    const stem = cut(name.slice(0, name.length - fullExt.length), MAX_SEGMENT_LENGTH - suffix.length - ext.length);
    const candidate = `${stem}${suffix}${ext}`;
    if (!isTaken(candidate) && isSafeSegment(candidate)) return candidate;
  }
}
