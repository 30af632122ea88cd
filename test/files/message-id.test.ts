import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { assertMessageId, inboxDirName, isMessageId, MAX_MESSAGE_ID_LENGTH } from '../../src/files/message-id.js';
import { isSafeSegment } from '../../src/files/segment.js';

const DERIVED = /^m-[0-9a-f]{32}$/;

describe('message ids', () => {
  it.each([
    ['a Google Chat id', 'spaces/AAA/messages/BBB.CCC'],
    ['a dot-dot id', '..'],
    ['an id with a backslash', 'a\\b'],
    ['an id of the maximum length', 'x'.repeat(MAX_MESSAGE_ID_LENGTH)],
    ['an id with spaces and emoji', 'hello world 👋'],
  ])('accepts %s', (_label, id) => {
    expect(isMessageId(id)).toBe(true);
    expect(assertMessageId(id)).toBe(id);
  });

  it.each([
    ['the empty string', ''],
    ['an id with NUL', 'a\0b'],
    ['an id one character too long', 'x'.repeat(MAX_MESSAGE_ID_LENGTH + 1)],
    ['a number', 42],
    ['null', null],
    ['an object', {}],
  ])('refuses %s with INVALID_ID', (_label, id) => {
    expect(isMessageId(id)).toBe(false);
    let error: unknown;
    try {
      assertMessageId(id);
    } catch (e) {
      error = e;
    }
    expect(isRuntimeError(error, 'INVALID_ID')).toBe(true);
  });
});

describe('inboxDirName', () => {
  it('keeps an id that is a safe segment, so NanoClaw-compatible folders do not move', () => {
    expect(inboxDirName('msg-1')).toBe('msg-1');
    expect(inboxDirName('1700000000.123456')).toBe('1700000000.123456');
  });

  it.each(['spaces/AAA/messages/BBB.CCC', '..', '.', 'a\\b', 'x'.repeat(129), '\ud800'])(
    'derives a folder for %j',
    (id) => {
      const dir = inboxDirName(id);
      expect(dir).toMatch(DERIVED);
      expect(isSafeSegment(dir)).toBe(true);
      expect(inboxDirName(id)).toBe(dir);
    },
  );

  it('derives a folder for an id that looks derived, so no id can take another one’s folder', () => {
    const derived = inboxDirName('spaces/AAA/messages/BBB.CCC');
    expect(inboxDirName(derived)).not.toBe(derived);
    expect(inboxDirName(derived.toUpperCase().replace('M-', 'm-'))).toMatch(DERIVED);
  });

  it('keeps lone surrogates apart', () => {
    expect(inboxDirName('\ud800')).not.toBe(inboxDirName('\ud801'));
  });

  it('never maps two ids to one folder (property)', () => {
    const id = fc.oneof(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.constantFrom('..', '.', 'a/b', 'm-00000000000000000000000000000000'),
    );
    fc.assert(
      fc.property(id, id, (a, b) => {
        fc.pre(isMessageId(a) && isMessageId(b) && a !== b);
        expect(inboxDirName(a)).not.toBe(inboxDirName(b));
        expect(isSafeSegment(inboxDirName(a))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
