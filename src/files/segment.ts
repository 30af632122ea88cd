/**
 * Path segment safety: the single gate every id passes before it becomes part of a path.
 *
 * Invariants (guarded by test/files/segment.test.ts, including a fast-check property):
 * 1. An accepted segment is non-empty, not `.` or `..`, has no `/`, `\` or NUL, equals its own
 *    basename and is at most 128 characters, so `join(parent, segment)` stays directly inside
 *    `parent`.
 * 2. A refused value throws `RuntimeError('INVALID_ID')` before any disk access: callers validate
 *    first and touch the file system second.
 */
import { basename } from 'node:path';
import { RuntimeError } from '../errors.js';

export const MAX_SEGMENT_LENGTH = 128;

export type SegmentRole = 'agentGroupId' | 'sessionId' | 'messageId' | 'filename' | 'id';

/** Why `value` is not a safe single path segment, or `undefined` when it is. */
export function segmentProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_SEGMENT_LENGTH) return `must be at most ${MAX_SEGMENT_LENGTH} characters`;
  if (value === '.' || value === '..') return 'must not be "." or ".."';
  if (value.includes('/') || value.includes('\\')) return 'must not contain "/" or "\\"';
  if (value.includes('\0')) return 'must not contain NUL';
  if (basename(value) !== value) return 'must be its own basename';
  return undefined;
}

export function isSafeSegment(value: unknown): value is string {
  return segmentProblem(value) === undefined;
}

/** Returns `value` typed as a string, or throws `INVALID_ID` naming the role it was meant for. */
export function assertSafeSegment(value: unknown, role: SegmentRole): string {
  const problem = segmentProblem(value);
  if (problem !== undefined) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
    throw new RuntimeError('INVALID_ID', `${role} ${shown} ${problem}`);
  }
  return value as string;
}
