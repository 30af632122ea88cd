import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { createPaths, sessionDir } from '../../src/files/paths.js';
import { MAX_SEGMENT_LENGTH, assertSafeSegment, isSafeSegment, segmentProblem } from '../../src/files/segment.js';
import type { SegmentRole } from '../../src/files/segment.js';
import { ADVERSARIAL_SEGMENTS, useTempDirs } from '../fixtures/files/temp-dirs.js';

const tempDir = useTempDirs();
const ROLES: readonly SegmentRole[] = ['agentGroupId', 'sessionId', 'messageId', 'filename'];
const NOT_STRINGS: readonly unknown[] = [undefined, null, 42, {}, ['a'], Symbol('x')];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isRuntimeError(error) ? error.code : `not a RuntimeError: ${String(error)}`;
  }
  return undefined;
}

/** Strings built from the characters that matter for path traversal. */
const trickyStrings = fc
  .array(fc.constantFrom('.', '/', '\\', '\0', 'a', '..', ' '), { maxLength: 12 })
  .map((parts) => parts.join(''));

const anyString = fc.oneof(
  fc.string({ maxLength: 160 }),
  fc.string({ unit: 'binary', maxLength: 160 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  trickyStrings,
);

describe('assertSafeSegment', () => {
  it.each(ROLES.flatMap((role) => ADVERSARIAL_SEGMENTS.map((value) => [role, value] as const)))(
    'raises INVALID_ID for the %s %j',
    (role, value) => {
      expect(codeOf(() => assertSafeSegment(value, role))).toBe('INVALID_ID');
    },
  );

  it('names the role in the error message', () => {
    expect(() => assertSafeSegment('..', 'messageId')).toThrow(/messageId/);
  });

  it.each(NOT_STRINGS.map((value) => [value]))('raises INVALID_ID for the non-string %s', (value) => {
    expect(codeOf(() => assertSafeSegment(value, 'id'))).toBe('INVALID_ID');
  });

  it('accepts ordinary ids, dotfiles, unicode and exactly 128 characters', () => {
    for (const value of [
      'sess-1700000000000-abc123',
      'a',
      '.heartbeat',
      '...',
      'photo.jpg',
      'ünï-📎',
      'x'.repeat(128),
    ]) {
      expect(assertSafeSegment(value, 'id')).toBe(value);
    }
  });

  it('refuses 129 characters and accepts 128', () => {
    expect(isSafeSegment('x'.repeat(MAX_SEGMENT_LENGTH))).toBe(true);
    expect(segmentProblem('x'.repeat(MAX_SEGMENT_LENGTH + 1))).toMatch(/at most 128/);
  });
});

describe('isSafeSegment as a property', () => {
  const parent = resolve('/data/v2-sessions/ag');

  it('keeps resolve(parent, s) directly inside parent for every accepted string', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        if (!isSafeSegment(s)) return;
        const full = resolve(parent, s);
        expect(dirname(full)).toBe(parent);
        expect(full).not.toBe(parent);
        expect(join(parent, s)).toBe(full);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with assertSafeSegment on every string', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const code = codeOf(() => assertSafeSegment(s, 'id'));
        expect(code).toBe(isSafeSegment(s) ? undefined : 'INVALID_ID');
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses every string containing a separator or NUL', () => {
    fc.assert(
      fc.property(anyString, fc.constantFrom('/', '\\', '\0'), anyString, (a, sep, b) => {
        expect(isSafeSegment(a + sep + b)).toBe(false);
      }),
    );
  });
});

describe('createPaths', () => {
  it.each(ADVERSARIAL_SEGMENTS.map((value) => [value]))(
    'throws INVALID_ID for the agentGroupId or sessionId %j before touching disk',
    (value) => {
      const dataDir = join(tempDir(), 'does-not-exist');
      const paths = createPaths(dataDir);
      const helpers = [
        paths.sessionDir,
        paths.inboundDbPath,
        paths.outboundDbPath,
        paths.heartbeatPath,
        paths.inboxDir,
        paths.outboxDir,
      ];
      for (const helper of helpers) {
        expect(codeOf(() => helper(value, 'sess-1'))).toBe('INVALID_ID');
        expect(codeOf(() => helper('ag-main', value))).toBe('INVALID_ID');
      }
      expect(codeOf(() => sessionDir(dataDir, value, value))).toBe('INVALID_ID');
      expect(existsSync(dataDir)).toBe(false);
    },
  );

  it('builds the FORMAT.md layout for safe ids', () => {
    const paths = createPaths('/data');
    expect(paths.sessionDir('ag', 's')).toBe(join('/data', 'v2-sessions', 'ag', 's'));
    expect(paths.inboxDir('ag', 's')).toBe(join('/data', 'v2-sessions', 'ag', 's', 'inbox'));
    expect(paths.outboxDir('ag', 's')).toBe(join('/data', 'v2-sessions', 'ag', 's', 'outbox'));
    expect(paths.heartbeatPath('ag', 's')).toBe(join('/data', 'v2-sessions', 'ag', 's', '.heartbeat'));
  });

  it('never lets an arbitrary string pair build a path outside v2-sessions', () => {
    const dataDir = join(tempDir(), 'missing');
    const root = join(dataDir, 'v2-sessions');
    fc.assert(
      fc.property(anyString, anyString, (ag, s) => {
        const code = codeOf(() => createPaths(dataDir).sessionDir(ag, s));
        if (code === undefined) expect(dirname(dirname(createPaths(dataDir).sessionDir(ag, s)))).toBe(root);
        else expect(code).toBe('INVALID_ID');
      }),
      { numRuns: 500 },
    );
    expect(existsSync(dataDir)).toBe(false);
  });
});
