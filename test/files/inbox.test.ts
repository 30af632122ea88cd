import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import type { RuntimeError } from '../../src/errors.js';
import {
  createExclusive,
  decodedLength,
  extractAttachments,
  isStrictBase64,
  planAttachments,
  removeInboxFiles,
} from '../../src/files/inbox.js';
import { inboxDirName } from '../../src/files/message-id.js';
import type { ExtractInput } from '../../src/files/inbox.js';
import { ADVERSARIAL_SEGMENTS, recordingWarn, useTempDirs } from '../fixtures/files/temp-dirs.js';

const tempDir = useTempDirs();
const NOW = 1_700_000_000_000;
const MiB = 1024 * 1024;

const b64 = (text: string) => Buffer.from(text).toString('base64');

interface Fixture {
  root: string;
  sessionDir: string;
  outside: string;
}

/** A session folder plus an "outside" directory that must never be written. */
function fixture(): Fixture {
  const root = tempDir();
  const sessionDir = join(root, 'v2-sessions', 'ag', 'sess');
  const outside = join(root, 'outside');
  mkdirSync(sessionDir, { recursive: true });
  mkdirSync(outside);
  return { root, sessionDir, outside };
}

function contentWith(attachments: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ text: 'hi', attachments, ...extra });
}

function extract(f: Fixture, overrides: Partial<ExtractInput> = {}) {
  const { warn, calls } = recordingWarn();
  const result = extractAttachments({
    sessionDir: f.sessionDir,
    messageId: 'msg-1',
    content: contentWith([{ name: 'a.txt', data: b64('hello') }]),
    nowMs: NOW,
    maxAttachmentBytes: MiB,
    warn,
    ...overrides,
  });
  return {
    ...result,
    warnings: calls,
    parsed: JSON.parse(result.content) as { attachments: Record<string, unknown>[] },
  };
}

function thrown(fn: () => unknown): RuntimeError | undefined {
  try {
    fn();
  } catch (error) {
    if (isRuntimeError(error)) return error;
    throw error;
  }
  return undefined;
}

describe('extractAttachments: decoding and rewriting', () => {
  it('decodes data into inbox/<messageId>/<name> and rewrites the entry in compact JSON', () => {
    const f = fixture();
    const content = JSON.stringify({
      text: 'see file',
      attachments: [{ type: 'document', name: 'a.txt', size: 5, data: b64('hello'), extra: { k: 1 } }],
      after: true,
    });
    const result = extract(f, { content });
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'), 'utf8')).toBe('hello');
    expect(result.content).toBe(
      '{"text":"see file","attachments":[{"type":"document","name":"a.txt","size":5,"extra":{"k":1},"localPath":"inbox/msg-1/a.txt"}],"after":true}',
    );
    expect(result.files).toEqual(['a.txt']);
    expect(result.warnings).toEqual([]);
  });

  it('writes binary data byte for byte', () => {
    const f = fixture();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    extract(f, { content: contentWith([{ name: 'all.bin', data: bytes.toString('base64') }]) });
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'all.bin')).equals(bytes)).toBe(true);
  });

  it('generates attachment-<nowMs>.<ext> for an attachment without a name', () => {
    const f = fixture();
    const result = extract(f, { content: contentWith([{ mimeType: 'image/PNG; x=1', data: b64('png') }]) });
    const name = `attachment-${NOW}.png`;
    expect(result.parsed.attachments[0]).toEqual({
      mimeType: 'image/PNG; x=1',
      name,
      localPath: `inbox/msg-1/${name}`,
    });
    expect(existsSync(join(f.sessionDir, 'inbox', 'msg-1', name))).toBe(true);
  });

  it('gives two attachments of one message distinct filenames', () => {
    const f = fixture();
    const result = extract(f, {
      content: contentWith([
        { type: 'photo', data: b64('1') },
        { type: 'photo', data: b64('2') },
        { name: 'x.txt', data: b64('3') },
        { name: 'X.TXT', data: b64('4') },
      ]),
    });
    expect(result.files).toEqual([`attachment-${NOW}.jpg`, `attachment-${NOW}-2.jpg`, 'x.txt', 'X-2.TXT']);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', `attachment-${NOW}-2.jpg`), 'utf8')).toBe('2');
  });

  it('writes an empty file for empty data', () => {
    const f = fixture();
    const result = extract(f, { content: contentWith([{ name: 'empty', data: '' }]) });
    expect(result.files).toEqual(['empty']);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'empty'))).toHaveLength(0);
  });

  it('leaves entries without data as they are, next to rewritten ones', () => {
    const f = fixture();
    const result = extract(f, {
      content: contentWith([{ name: 'link', url: 'https://x' }, 'odd', null, { name: 'b.txt', data: b64('b') }]),
    });
    expect(result.parsed.attachments).toEqual([
      { name: 'link', url: 'https://x' },
      'odd',
      null,
      { name: 'b.txt', localPath: 'inbox/msg-1/b.txt' },
    ]);
  });

  it('drops a sender-supplied localPath', () => {
    const f = fixture();
    const result = extract(f, { content: contentWith([{ name: 'a.txt', localPath: '/etc/passwd', data: b64('x') }]) });
    expect(result.parsed.attachments[0]).toEqual({ name: 'a.txt', localPath: 'inbox/msg-1/a.txt' });
  });

  it('writes through a symlinked data directory (only the session folder contents are guarded)', () => {
    const f = fixture();
    const link = join(f.root, 'data-link');
    symlinkSync(join(f.root, 'v2-sessions'), link);
    const result = extract(f, { sessionDir: join(link, 'ag', 'sess') });
    expect(result.files).toEqual(['a.txt']);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'), 'utf8')).toBe('hello');
  });

  it('writes into an inbox/<id> directory that already exists', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox', 'msg-1'), { recursive: true });
    expect(extract(f).files).toEqual(['a.txt']);
  });
});

describe('extractAttachments: content stored unchanged', () => {
  it.each([
    ['plain text', 'hello there'],
    ['JSON without attachments', '{"text":"hi"}'],
    ['attachments that is not an array', '{"attachments":{"name":"a","data":"aGk="}}'],
    ['a JSON array', '[{"attachments":[{"data":"aGk="}]}]'],
    ['a JSON string', '"attachments"'],
    ['JSON null', 'null'],
    ['attachments without data, spaced', '{ "text" : "hi", "attachments": [ { "name": "a.txt" } ] }'],
    ['an empty attachments array', '{"attachments": []}'],
  ])('returns %s byte for byte and creates no inbox', (_label, content) => {
    const f = fixture();
    const result = extractAttachments({
      sessionDir: f.sessionDir,
      messageId: 'm',
      content,
      nowMs: NOW,
      maxAttachmentBytes: MiB,
      warn: () => {},
    });
    expect(result).toEqual({ content, files: [] });
    expect(existsSync(join(f.sessionDir, 'inbox'))).toBe(false);
  });
});

describe('extractAttachments: defence 1, message ids and safe segments', () => {
  const INVALID_IDS: unknown[] = ['', 'a\0b', '\0', 'x'.repeat(1025), 42, null, undefined, {}];

  it.each(INVALID_IDS.map((id) => [id]))(
    'refuses the message id %j with INVALID_ID before touching disk',
    (messageId) => {
      const f = fixture();
      expect(thrown(() => extract(f, { messageId: messageId as string }))?.code).toBe('INVALID_ID');
      expect(thrown(() => extract(f, { messageId: messageId as string, content: 'not json' }))?.code).toBe(
        'INVALID_ID',
      );
      expect(existsSync(join(f.sessionDir, 'inbox'))).toBe(false);
      expect(readdirSync(f.outside)).toEqual([]);
    },
  );

  it.each(ADVERSARIAL_SEGMENTS.filter((id) => id !== '' && !id.includes('\0')).map((id) => [id]))(
    'stores attachments of the id %j, which is no path segment, under a derived folder',
    (messageId) => {
      const f = fixture();
      const dir = inboxDirName(messageId);
      expect(dir).toMatch(/^m-[0-9a-f]{32}$/);
      const result = extract(f, { messageId });
      expect(result.files).toEqual(['a.txt']);
      expect(result.parsed.attachments[0]).toEqual({ name: 'a.txt', localPath: `inbox/${dir}/a.txt` });
      expect(readFileSync(join(f.sessionDir, 'inbox', dir, 'a.txt'), 'utf8')).toBe('hello');
      expect(readdirSync(join(f.sessionDir, 'inbox'))).toEqual([dir]);
      expect(readdirSync(f.outside)).toEqual([]);
      expect(readdirSync(f.root).sort()).toEqual(['outside', 'v2-sessions']);
    },
  );

  it('stores a Google Chat message id and rolls its files back by the same id', () => {
    const f = fixture();
    const messageId = 'spaces/AAA/messages/BBB.CCC';
    const result = extract(f, { messageId });
    expect(result.parsed.attachments[0]?.localPath).toBe(`inbox/${inboxDirName(messageId)}/a.txt`);
    removeInboxFiles(f.sessionDir, messageId, result.files);
    expect(readdirSync(join(f.sessionDir, 'inbox'))).toEqual([]);
  });

  it.each(ADVERSARIAL_SEGMENTS.map((name) => [name]))(
    'replaces the unsafe attachment name %j by a generated one',
    (name) => {
      const f = fixture();
      const result = extract(f, { content: contentWith([{ name, mimeType: 'text/plain', data: b64('x') }]) });
      const generated = `attachment-${NOW}.txt`;
      expect(result.files).toEqual([generated]);
      expect(result.parsed.attachments[0]).toMatchObject({ name: generated, localPath: `inbox/msg-1/${generated}` });
      expect(readdirSync(join(f.sessionDir, 'inbox', 'msg-1'))).toEqual([generated]);
      expect(readdirSync(join(f.sessionDir, 'inbox'))).toEqual(['msg-1']);
      expect(readdirSync(f.sessionDir)).toEqual(['inbox']);
    },
  );
});

describe('extractAttachments: defences 2 and 3, the inbox directories', () => {
  /** Keeps an existing inbox/<id> instead of replacing it: the directory checks decide. */
  const keep = { replaceStale: false };

  function expectRefused(result: ReturnType<typeof extract>, f: Fixture) {
    expect(result.files).toEqual([]);
    expect(result.parsed.attachments[0]).toEqual({ name: 'a.txt', error: 'not_saved' });
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]?.message).toMatch(/inbox directory is unsafe/);
    expect(readdirSync(f.outside)).toEqual([]);
  }

  it('replaces a symlink planted at inbox/<id> by a fresh directory, removing only the link', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox'));
    writeFileSync(join(f.outside, 'a.txt'), 'outside');
    symlinkSync(f.outside, join(f.sessionDir, 'inbox', 'msg-1'));
    const seen: unknown[] = [];
    const result = extract(f, { onViolation: (v) => seen.push(v) });
    expect(result.files).toEqual(['a.txt']);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'), 'utf8')).toBe('hello');
    expect(readdirSync(f.outside)).toEqual(['a.txt']);
    expect(readFileSync(join(f.outside, 'a.txt'), 'utf8')).toBe('outside');
    expect(seen).toEqual([expect.objectContaining({ kind: 'symlink' })]);
  });

  it('replaces a regular file planted at inbox/<id> by a fresh directory', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox'));
    writeFileSync(join(f.sessionDir, 'inbox', 'msg-1'), 'not a dir');
    expect(extract(f).files).toEqual(['a.txt']);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'), 'utf8')).toBe('hello');
  });

  it('reports a symlinked inbox/ dir as a violation', () => {
    const f = fixture();
    symlinkSync(f.outside, join(f.sessionDir, 'inbox'));
    const seen: unknown[] = [];
    extract(f, { onViolation: (v) => seen.push(v) });
    expect(seen).toEqual([expect.objectContaining({ kind: 'symlink', path: join(f.sessionDir, 'inbox') })]);
    expect(readdirSync(f.outside)).toEqual([]);
  });

  it('refuses a symlink planted at inbox/<id> pointing outside', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox'));
    symlinkSync(f.outside, join(f.sessionDir, 'inbox', 'msg-1'));
    expectRefused(extract(f, keep), f);
  });

  it('refuses a dangling symlink planted at inbox/<id>', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox'));
    symlinkSync(join(f.outside, 'new-dir'), join(f.sessionDir, 'inbox', 'msg-1'));
    expectRefused(extract(f, keep), f);
  });

  it('refuses a symlink at inbox/<id> even when it points inside inbox/', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox', 'other'), { recursive: true });
    symlinkSync(join(f.sessionDir, 'inbox', 'other'), join(f.sessionDir, 'inbox', 'msg-1'));
    expectRefused(extract(f, keep), f);
    expect(readdirSync(join(f.sessionDir, 'inbox', 'other'))).toEqual([]);
  });

  it('refuses an inbox/<id> that is a regular file', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox'));
    writeFileSync(join(f.sessionDir, 'inbox', 'msg-1'), 'not a dir');
    expectRefused(extract(f, keep), f);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1'), 'utf8')).toBe('not a dir');
  });

  it('refuses a symlinked inbox/ dir', () => {
    const f = fixture();
    symlinkSync(f.outside, join(f.sessionDir, 'inbox'));
    expectRefused(extract(f), f);
  });

  it('refuses an inbox/ that is a regular file', () => {
    const f = fixture();
    writeFileSync(join(f.sessionDir, 'inbox'), '');
    expectRefused(extract(f), f);
  });

  it('refuses every attachment of the message, one warning each, and still returns the content', () => {
    const f = fixture();
    symlinkSync(f.outside, join(f.sessionDir, 'inbox'));
    const result = extract(f, {
      content: contentWith([
        { name: 'a', data: b64('1') },
        { name: 'b', data: b64('2') },
      ]),
    });
    expect(result.warnings).toHaveLength(2);
    expect(result.parsed.attachments).toEqual([
      { name: 'a', error: 'not_saved' },
      { name: 'b', error: 'not_saved' },
    ]);
  });
});

describe('extractAttachments: defence 4, exclusive create', () => {
  it('does not follow a symlink planted at the target file', () => {
    const f = fixture();
    const victim = join(f.outside, 'victim.txt');
    writeFileSync(victim, 'original');
    mkdirSync(join(f.sessionDir, 'inbox', 'msg-1'), { recursive: true });
    symlinkSync(victim, join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'));
    const result = extract(f, { replaceStale: false });
    expect(readFileSync(victim, 'utf8')).toBe('original');
    expect(result.files).toEqual([]);
    expect(result.parsed.attachments[0]).toEqual({ name: 'a.txt', error: 'not_saved' });
    expect(result.warnings[0]?.details).toMatchObject({ filename: 'a.txt' });
  });

  it('does not create a file through a dangling symlink planted at the target', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox', 'msg-1'), { recursive: true });
    symlinkSync(join(f.outside, 'created.txt'), join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'));
    extract(f, { replaceStale: false });
    expect(readdirSync(f.outside)).toEqual([]);
  });

  it('never overwrites an existing file, and still saves the other attachments', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox', 'msg-1'), { recursive: true });
    writeFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'), 'old');
    const result = extract(f, {
      replaceStale: false,
      content: contentWith([
        { name: 'a.txt', data: b64('new') },
        { name: 'b.txt', data: b64('b') },
      ]),
    });
    expect(readFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'a.txt'), 'utf8')).toBe('old');
    expect(result.files).toEqual(['b.txt']);
    expect(result.parsed.attachments).toEqual([
      { name: 'a.txt', error: 'not_saved' },
      { name: 'b.txt', localPath: 'inbox/msg-1/b.txt' },
    ]);
    expect(result.warnings[0]?.details.reason).toMatch(/exists/);
  });
});

describe('createExclusive', () => {
  it('removes the file it just created when the directory no longer resolves where it was checked', () => {
    const f = fixture();
    const dir = join(f.sessionDir, 'inbox', 'msg-1');
    mkdirSync(dir, { recursive: true });
    // Simulates inbox/<id> being swapped after the check: the real path recorded then differs now.
    const outcome = createExclusive({ path: dir, real: f.outside }, 'a.txt', Buffer.from('x'));
    expect(outcome).toEqual({ ok: false, reason: 'resolved outside the message inbox directory' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('extractAttachments: size and base64', () => {
  it('throws TOO_LARGE and leaves no files when one attachment is too large', () => {
    const f = fixture();
    const content = contentWith([
      { name: 'small.txt', data: b64('ok') },
      { name: 'big.bin', data: Buffer.alloc(101).toString('base64') },
    ]);
    expect(thrown(() => extract(f, { content, maxAttachmentBytes: 100 }))?.code).toBe('TOO_LARGE');
    expect(existsSync(join(f.sessionDir, 'inbox'))).toBe(false);
  });

  it('accepts an attachment of exactly maxAttachmentBytes', () => {
    const f = fixture();
    for (const size of [98, 99, 100]) {
      const result = extract(f, {
        messageId: `m${size}`,
        content: contentWith([{ name: 'x', data: Buffer.alloc(size).toString('base64') }]),
        maxAttachmentBytes: 100,
      });
      expect(result.files).toEqual(['x']);
    }
  });

  it('checks each attachment against the limit, not their sum', () => {
    const f = fixture();
    const data = Buffer.alloc(60).toString('base64');
    const result = extract(f, {
      content: contentWith([
        { name: 'a', data },
        { name: 'b', data },
      ]),
      maxAttachmentBytes: 100,
    });
    expect(result.files).toEqual(['a', 'b']);
  });

  it.each([
    ['characters outside the alphabet', 'aGVsbG8*'],
    ['a length that is not a multiple of 4', 'aGVsbG8'],
    ['base64url characters', 'aGV-bG_='],
    ['whitespace', 'aGVs bG8='],
    ['padding in the middle', 'aG=sbG8='],
    ['three padding characters', 'aG==='],
    ['a number', 42],
    ['null', null],
    ['an object', { b64: 'aGk=' }],
  ])('keeps the message when base64 is invalid: %s', (_label, data) => {
    const f = fixture();
    const result = extract(f, {
      content: contentWith([
        { name: 'bad.txt', data },
        { name: 'good.txt', data: b64('good') },
      ]),
    });
    expect(result.parsed.attachments).toEqual([
      { name: 'bad.txt', error: 'invalid_base64' },
      { name: 'good.txt', localPath: 'inbox/msg-1/good.txt' },
    ]);
    expect(result.files).toEqual(['good.txt']);
    expect(result.warnings.map((w) => w.message)).toEqual(['attachment skipped: data is not valid base64']);
  });

  it('does not let invalid base64 hide a TOO_LARGE attachment', () => {
    const f = fixture();
    const content = contentWith([
      { name: 'bad', data: '!!' },
      { name: 'big', data: Buffer.alloc(11).toString('base64') },
    ]);
    expect(thrown(() => extract(f, { content, maxAttachmentBytes: 10 }))?.code).toBe('TOO_LARGE');
  });
});

describe('strict base64 helpers', () => {
  it('accepts canonical padded base64 and computes its decoded length', () => {
    for (const text of ['', 'a', 'ab', 'abc', 'abcd', 'hello world']) {
      const data = b64(text);
      expect(isStrictBase64(data)).toBe(true);
      expect(decodedLength(data)).toBe(Buffer.byteLength(text));
    }
  });
});

describe('planAttachments', () => {
  it('decodes without touching the disk', () => {
    const missing = join(tempDir(), 'nope');
    const plan = planAttachments({
      messageId: 'm',
      content: contentWith([{ name: 'a', data: b64('z') }]),
      nowMs: NOW,
      maxAttachmentBytes: 10,
    });
    expect(plan.kind).toBe('rewrite');
    if (plan.kind !== 'rewrite') return;
    expect(plan.entries[0]).toMatchObject({ kind: 'file', filename: 'a' });
    expect(existsSync(missing)).toBe(false);
  });
});

describe('removeInboxFiles', () => {
  it('removes the files written for a message and its then empty directory', () => {
    const f = fixture();
    const { files } = extract(f, {
      content: contentWith([
        { name: 'a', data: b64('1') },
        { name: 'b', data: b64('2') },
      ]),
    });
    removeInboxFiles(f.sessionDir, 'msg-1', files);
    expect(readdirSync(join(f.sessionDir, 'inbox'))).toEqual([]);
  });

  it('keeps files it was not given', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'inbox', 'msg-1'), { recursive: true });
    writeFileSync(join(f.sessionDir, 'inbox', 'msg-1', 'earlier'), 'keep');
    const { files } = extract(f, { replaceStale: false });
    removeInboxFiles(f.sessionDir, 'msg-1', files);
    expect(readdirSync(join(f.sessionDir, 'inbox', 'msg-1'))).toEqual(['earlier']);
  });

  it('removes nothing through a symlink planted at inbox/<id> after the write', () => {
    const f = fixture();
    extract(f);
    const decoy = join(f.outside, 'a.txt');
    writeFileSync(decoy, 'outside');
    rmSync(join(f.sessionDir, 'inbox', 'msg-1'), { recursive: true });
    symlinkSync(f.outside, join(f.sessionDir, 'inbox', 'msg-1'));
    const { warn, calls } = recordingWarn();
    removeInboxFiles(f.sessionDir, 'msg-1', ['a.txt'], warn);
    expect(readFileSync(decoy, 'utf8')).toBe('outside');
    expect(calls[0]?.message).toMatch(/directory is unsafe/);
  });

  it('skips invalid ids and unsafe filenames without throwing', () => {
    const f = fixture();
    extract(f);
    writeFileSync(join(f.sessionDir, 'inbox', 'secret'), 's');
    const { warn, calls } = recordingWarn();
    removeInboxFiles(f.sessionDir, 'a\0b', ['x'], warn);
    removeInboxFiles(f.sessionDir, 'msg-1', ['../secret', '..', ''], warn);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'secret'), 'utf8')).toBe('s');
    expect(calls).toHaveLength(4);
  });

  it('does nothing when the directory does not exist', () => {
    const f = fixture();
    expect(() => removeInboxFiles(f.sessionDir, 'msg-1', ['a.txt'])).not.toThrow();
  });
});
