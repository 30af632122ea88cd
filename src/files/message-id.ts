/**
 * Inbound message ids and the inbox folder named after them. A channel's message id is stored as
 * it is (Google Chat's look like `spaces/AAA/messages/BBB.CCC`); only the folder holding its
 * attachments must be a safe path segment.
 *
 * Invariants (guarded by test/files/message-id.test.ts):
 * 1. A message id is any string of 1 to 1,024 characters without NUL; anything else throws
 *    `INVALID_ID` before any disk access.
 * 2. `inboxDirName` is the id itself when the id is a safe segment not of the derived form, so
 *    folders of NanoClaw-compatible ids do not move; any other id maps to `m-` plus the first
 *    32 hex digits of the SHA-256 of its UTF-16 code units. Two different ids never share a
 *    folder: an id of the derived form (`m-` + 32 hex digits, in any letter case) or with a lone
 *    surrogate is itself derived, so a kept id can never name the folder of a derived one
 *    (property "never maps two ids to one folder"). File systems that fold case or Unicode
 *    normalization can still make two kept ids meet; src/files/inbox.ts guards that case.
 */
import { createHash } from 'node:crypto';
import { RuntimeError } from '../errors.js';
import { isSafeSegment } from './segment.js';

export const MAX_MESSAGE_ID_LENGTH = 1024;

/** `m-` followed by 32 hex digits: the shape `inboxDirName` derives, compared case-insensitively. */
const DERIVED = /^m-[0-9a-f]{32}$/i;
/** A lone surrogate: such strings share their UTF-8 file name with others (each becomes U+FFFD). */
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `value` is not a valid inbound message id, or `undefined` when it is. */
export function messageIdProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_MESSAGE_ID_LENGTH) return `must be at most ${MAX_MESSAGE_ID_LENGTH} characters`;
  if (value.includes('\0')) return 'must not contain NUL';
  return undefined;
}

export function isMessageId(value: unknown): value is string {
  return messageIdProblem(value) === undefined;
}

/** Returns `value` typed as a string, or throws `INVALID_ID`. */
export function assertMessageId(value: unknown): string {
  const problem = messageIdProblem(value);
  if (problem !== undefined) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
    throw new RuntimeError('INVALID_ID', `messageId ${shown} ${problem}`);
  }
  return value as string;
}

/**
 * The folder under `inbox/` that holds a message's attachments: the id itself when it is a safe
 * segment, else `m-` + the first 32 hex digits of SHA-256(id). Throws `INVALID_ID` for an invalid id.
 *
 * @example inboxDirName('msg-1') // 'msg-1'
 * @example inboxDirName('spaces/AAA/messages/BBB.CCC') // 'm-' followed by 32 hex digits
 */
export function inboxDirName(messageId: string): string {
  const id = assertMessageId(messageId);
  if (isSafeSegment(id) && !DERIVED.test(id) && !LONE_SURROGATE.test(id)) return id;
  // Hashed as UTF-16 code units, which (unlike UTF-8) keep lone surrogates apart.
  return `m-${createHash('sha256').update(Buffer.from(id, 'utf16le')).digest('hex').slice(0, 32)}`;
}
