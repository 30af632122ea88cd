import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MIME_EXTENSIONS,
  TYPE_EXTENSIONS,
  deriveAttachmentName,
  disambiguate,
  extensionForMime,
  extensionForType,
} from '../../src/files/attachment-name.js';
import { isRuntimeError } from '../../src/errors.js';
import { isSafeSegment } from '../../src/files/segment.js';
import { ADVERSARIAL_SEGMENTS } from '../fixtures/files/temp-dirs.js';

const NOW = 1_700_000_000_123;

// The tables as FORMAT.md spells them, written out independently of the source.
const MIME_TABLE: readonly (readonly [string, string])[] = [
  ['image/jpeg', 'jpg'],
  ['image/png', 'png'],
  ['image/webp', 'webp'],
  ['image/gif', 'gif'],
  ['image/heic', 'heic'],
  ['audio/ogg', 'ogg'],
  ['audio/mpeg', 'mp3'],
  ['audio/wav', 'wav'],
  ['audio/mp4', 'm4a'],
  ['video/mp4', 'mp4'],
  ['video/webm', 'webm'],
  ['video/quicktime', 'mov'],
  ['application/pdf', 'pdf'],
  ['text/plain', 'txt'],
  ['application/json', 'json'],
  ['application/zip', 'zip'],
];

const TYPE_TABLE: readonly (readonly [string, string])[] = [
  ['image', 'jpg'],
  ['photo', 'jpg'],
  ['sticker', 'webp'],
  ['voice', 'ogg'],
  ['audio', 'mp3'],
  ['video', 'mp4'],
  ['animation', 'mp4'],
];

describe('extension tables', () => {
  it('hold exactly the FORMAT.md entries', () => {
    expect(Object.entries(MIME_EXTENSIONS)).toEqual(MIME_TABLE);
    expect(Object.entries(TYPE_EXTENSIONS)).toEqual(TYPE_TABLE);
  });

  it.each(MIME_TABLE)('derives the extension from mimeType %s → %s', (mime, ext) => {
    expect(extensionForMime(mime)).toBe(ext);
    expect(deriveAttachmentName({ mimeType: mime }, NOW)).toBe(`attachment-${NOW}.${ext}`);
  });

  it.each(TYPE_TABLE)('derives the extension from type %s → %s when mimeType gives none', (type, ext) => {
    expect(extensionForType(type)).toBe(ext);
    expect(deriveAttachmentName({ type }, NOW)).toBe(`attachment-${NOW}.${ext}`);
    expect(deriveAttachmentName({ type, mimeType: 'application/x-unknown' }, NOW)).toBe(`attachment-${NOW}.${ext}`);
  });

  it.each([
    ['IMAGE/JPEG', 'jpg'],
    ['Image/Png', 'png'],
    ['image/jpeg; charset=binary', 'jpg'],
    ['Text/Plain;Charset=UTF-8', 'txt'],
    ['  audio/ogg ; codecs=opus', 'ogg'],
    ['application/JSON;', 'json'],
  ])('ignores mime parameters and case: %j → %s', (mime, ext) => {
    expect(extensionForMime(mime)).toBe(ext);
  });

  it('treats type case-insensitively too', () => {
    expect(extensionForType('Photo')).toBe('jpg');
    expect(extensionForType('VOICE')).toBe('ogg');
  });

  it.each([
    undefined,
    null,
    42,
    '',
    'image',
    'image/',
    'image/jpeg2',
    'constructor',
    '__proto__',
    'toString',
    ';image/png',
  ])('knows no extension for mimeType %j', (mime) => {
    expect(extensionForMime(mime)).toBeUndefined();
  });

  it.each([undefined, null, 7, '', 'document', 'constructor', '__proto__', 'hasOwnProperty'])(
    'knows no extension for type %j',
    (type) => {
      expect(extensionForType(type)).toBeUndefined();
    },
  );
});

describe('deriveAttachmentName', () => {
  it("keeps the attachment's own safe name", () => {
    expect(deriveAttachmentName({ name: 'report.pdf', mimeType: 'image/png', type: 'photo' }, NOW)).toBe('report.pdf');
    expect(deriveAttachmentName({ name: '.hidden' }, NOW)).toBe('.hidden');
  });

  it('prefers the mimeType extension over the type extension', () => {
    expect(deriveAttachmentName({ mimeType: 'image/png', type: 'voice' }, NOW)).toBe(`attachment-${NOW}.png`);
  });

  it('generates a name without extension when neither mimeType nor type is known', () => {
    expect(deriveAttachmentName({}, NOW)).toBe(`attachment-${NOW}`);
    expect(deriveAttachmentName({ mimeType: 'application/octet-stream', type: 'document' }, NOW)).toBe(
      `attachment-${NOW}`,
    );
  });

  it.each(ADVERSARIAL_SEGMENTS.map((name) => [name]))('replaces the unsafe name %j by a generated one', (name) => {
    expect(deriveAttachmentName({ name, mimeType: 'text/plain' }, NOW)).toBe(`attachment-${NOW}.txt`);
  });

  it.each([[42], [null], [{ toString: () => 'x' }], [['a.txt']]])('replaces the non-string name %j', (name) => {
    expect(deriveAttachmentName({ name, type: 'photo' }, NOW)).toBe(`attachment-${NOW}.jpg`);
  });

  it('is deterministic for a given nowMs (the clock is an argument)', () => {
    const att = { mimeType: 'video/mp4' };
    expect(deriveAttachmentName(att, NOW)).toBe(deriveAttachmentName(att, NOW));
    expect(deriveAttachmentName(att, NOW + 1)).toBe(`attachment-${NOW + 1}.mp4`);
    expect(deriveAttachmentName(att, 1.9)).toBe('attachment-1.mp4');
  });

  it('refuses a non-finite nowMs with INVALID_INPUT', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      let caught: unknown;
      try {
        deriveAttachmentName({}, bad);
      } catch (error) {
        caught = error;
      }
      expect(isRuntimeError(caught, 'INVALID_INPUT')).toBe(true);
    }
  });

  it('always returns a safe segment, whatever the attachment says', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            name: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom(...ADVERSARIAL_SEGMENTS)),
            mimeType: fc.string(),
            type: fc.string(),
          },
          { requiredKeys: [] },
        ),
        fc.nat(),
        (att, now) => {
          expect(isSafeSegment(deriveAttachmentName(att, now))).toBe(true);
        },
      ),
    );
  });
});

describe('disambiguate', () => {
  it('keeps a name nobody has taken', () => {
    expect(disambiguate('a.txt', new Set(['b.txt']))).toBe('a.txt');
  });

  it('numbers a taken name before its extension', () => {
    expect(disambiguate('a.txt', new Set(['a.txt']))).toBe('a-2.txt');
    expect(disambiguate('a.txt', new Set(['a.txt', 'a-2.txt']))).toBe('a-3.txt');
    expect(disambiguate(`attachment-${NOW}`, new Set([`attachment-${NOW}`]))).toBe(`attachment-${NOW}-2`);
  });

  it('compares case-insensitively against lower-cased taken names', () => {
    expect(disambiguate('Photo.JPG', new Set(['photo.jpg']))).toBe('Photo-2.JPG');
  });

  it('keeps a disambiguated name within 128 characters', () => {
    const long = `${'n'.repeat(124)}.txt`;
    const result = disambiguate(long, new Set([long]));
    expect(result).toHaveLength(128);
    expect(result.endsWith('-2.txt')).toBe(true);
    const hugeExt = `a.${'e'.repeat(126)}`;
    const shortened = disambiguate(hugeExt, new Set([hugeExt]));
    expect(isSafeSegment(shortened)).toBe(true);
    expect(shortened).not.toBe(hugeExt);
  });

  it('never splits a surrogate pair when shortening', () => {
    const name = `${'a'.repeat(125)}📎`; // 127 UTF-16 units
    const result = disambiguate(name, new Set([name.toLowerCase()]));
    expect(isSafeSegment(result)).toBe(true);
    expect(result).toBe(`${'a'.repeat(125)}-2`);
  });

  it('returns a free safe segment for any safe name and taken set', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 128 }).filter(isSafeSegment),
        fc.array(fc.string()),
        (name, others) => {
          const taken = new Set([name, ...others].map((n) => n.toLowerCase()));
          const result = disambiguate(name, taken);
          expect(isSafeSegment(result)).toBe(true);
          expect(taken.has(result.toLowerCase())).toBe(false);
        },
      ),
    );
  });
});
