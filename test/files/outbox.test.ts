import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { clearOutbox, readOutboxFiles } from '../../src/files/outbox.js';
import { ADVERSARIAL_SEGMENTS, recordingWarn, useTempDirs } from '../fixtures/files/temp-dirs.js';

const tempDir = useTempDirs();

interface Fixture {
  root: string;
  sessionDir: string;
  outbox: string;
  messageDir: string;
  outside: string;
}

/** A session folder with `outbox/msg-1/` holding a.txt and b.bin, plus an outside dir with a secret. */
function fixture(): Fixture {
  const root = tempDir();
  const sessionDir = join(root, 'v2-sessions', 'ag', 'sess');
  const outbox = join(sessionDir, 'outbox');
  const messageDir = join(outbox, 'msg-1');
  const outside = join(root, 'outside');
  mkdirSync(messageDir, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(messageDir, 'a.txt'), 'alpha');
  writeFileSync(join(messageDir, 'b.bin'), Buffer.from([0, 1, 2, 255]));
  writeFileSync(join(outside, 'secret'), 'secret');
  return { root, sessionDir, outbox, messageDir, outside };
}

function read(f: Fixture, filenames: readonly unknown[], messageId = 'msg-1') {
  const { warn, calls } = recordingWarn();
  const files = readOutboxFiles(f.sessionDir, messageId, filenames, warn);
  return { files, warnings: calls, names: files?.map((file) => file.filename) };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isRuntimeError(error) ? error.code : 'not a RuntimeError';
  }
  return undefined;
}

describe('readOutboxFiles', () => {
  it('reads the declared files in the order given', () => {
    const f = fixture();
    const { files, warnings } = read(f, ['b.bin', 'a.txt']);
    expect(files).toEqual([
      { filename: 'b.bin', data: Buffer.from([0, 1, 2, 255]) },
      { filename: 'a.txt', data: Buffer.from('alpha') },
    ]);
    expect(warnings).toEqual([]);
  });

  it('reads a file named more than once only once', () => {
    expect(read(fixture(), ['a.txt', 'a.txt']).names).toEqual(['a.txt']);
  });

  it('skips missing files without a warning', () => {
    const { names, warnings } = read(fixture(), ['gone.png', 'a.txt']);
    expect(names).toEqual(['a.txt']);
    expect(warnings).toEqual([]);
  });

  it('returns undefined when the message has no outbox dir', () => {
    const f = fixture();
    expect(read(f, ['a.txt'], 'msg-2').files).toBeUndefined();
  });

  it('returns undefined when the session has no outbox/ at all', () => {
    const f = fixture();
    expect(readOutboxFiles(join(f.root, 'no-such-session'), 'msg-1', ['a.txt'])).toBeUndefined();
  });

  it('returns an empty list for an outbox dir without the declared files', () => {
    expect(read(fixture(), []).files).toEqual([]);
  });

  it.each(ADVERSARIAL_SEGMENTS.map((id) => [id]))('throws INVALID_ID for the message id %j', (messageId) => {
    const f = fixture();
    expect(codeOf(() => readOutboxFiles(f.sessionDir, messageId, ['secret']))).toBe('INVALID_ID');
  });

  it('throws INVALID_ID for a message id that is not a string', () => {
    const f = fixture();
    expect(codeOf(() => readOutboxFiles(f.sessionDir, 42 as unknown as string, []))).toBe('INVALID_ID');
  });

  it.each([...ADVERSARIAL_SEGMENTS, 42, null].map((name) => [name]))(
    'skips the unsafe filename %j with a warning',
    (name) => {
      const f = fixture();
      writeFileSync(join(f.outbox, 'x'), 'sibling');
      const { names, warnings } = read(f, [name, 'a.txt']);
      expect(names).toEqual(['a.txt']);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.message).toMatch(/unsafe filename/);
    },
  );

  it('skips a symlinked outbox file, even one pointing inside the same dir', () => {
    const f = fixture();
    symlinkSync(join(f.outside, 'secret'), join(f.messageDir, 'leak'));
    symlinkSync(join(f.messageDir, 'a.txt'), join(f.messageDir, 'alias'));
    const { names, warnings } = read(f, ['leak', 'alias', 'a.txt']);
    expect(names).toEqual(['a.txt']);
    expect(warnings.map((w) => w.details.reason)).toEqual(['is a symlink', 'is a symlink']);
  });

  it('skips a directory declared as a file', () => {
    const f = fixture();
    mkdirSync(join(f.messageDir, 'sub'));
    const { names, warnings } = read(f, ['sub']);
    expect(names).toEqual([]);
    expect(warnings[0]?.details.reason).toBe('is not a regular file (directory)');
  });

  it('skips a FIFO declared as a file (and does not block on it)', () => {
    const f = fixture();
    execFileSync('mkfifo', [join(f.messageDir, 'pipe')]);
    const { names, warnings } = read(f, ['pipe', 'a.txt']);
    expect(names).toEqual(['a.txt']);
    expect(warnings[0]?.details.reason).toBe('is not a regular file (FIFO)');
  });

  it('refuses a symlinked outbox/<id> dir, so no file is reached through a symlinked parent', () => {
    const f = fixture();
    symlinkSync(f.outside, join(f.outbox, 'msg-2'));
    const { files, warnings } = read(f, ['secret'], 'msg-2');
    expect(files).toBeUndefined();
    expect(warnings[0]?.details.reason).toBe('is a symlink');
  });

  it('refuses a symlinked outbox/<id> dir that points at another message', () => {
    const f = fixture();
    symlinkSync(f.messageDir, join(f.outbox, 'msg-2'));
    expect(read(f, ['a.txt'], 'msg-2').files).toBeUndefined();
  });

  it('refuses a symlinked outbox/ dir', () => {
    const f = fixture();
    const session2 = join(f.root, 'v2-sessions', 'ag', 'sess2');
    mkdirSync(session2);
    mkdirSync(join(f.outside, 'msg-1'));
    writeFileSync(join(f.outside, 'msg-1', 'secret'), 'secret');
    symlinkSync(f.outside, join(session2, 'outbox'));
    const { warn, calls } = recordingWarn();
    expect(readOutboxFiles(session2, 'msg-1', ['secret'], warn)).toBeUndefined();
    expect(calls[0]?.message).toMatch(/directory is unsafe/);
  });

  it('refuses an outbox/<id> that is a regular file', () => {
    const f = fixture();
    writeFileSync(join(f.outbox, 'msg-3'), 'x');
    expect(read(f, ['a.txt'], 'msg-3').files).toBeUndefined();
  });

  it('reads through a symlinked data directory (only the session folder contents are guarded)', () => {
    const f = fixture();
    const link = join(f.root, 'data-link');
    symlinkSync(join(f.root, 'v2-sessions'), link);
    const files = readOutboxFiles(join(link, 'ag', 'sess'), 'msg-1', ['a.txt']);
    expect(files?.map((file) => file.filename)).toEqual(['a.txt']);
  });
});

describe('clearOutbox', () => {
  it('removes outbox/<id> recursively and leaves other messages alone', () => {
    const f = fixture();
    mkdirSync(join(f.messageDir, 'nested', 'deeper'), { recursive: true });
    writeFileSync(join(f.messageDir, 'nested', 'deeper', 'x'), 'x');
    mkdirSync(join(f.outbox, 'msg-2'));
    clearOutbox(f.sessionDir, 'msg-1');
    expect(readdirSync(f.outbox)).toEqual(['msg-2']);
  });

  it('does nothing, silently, when there is nothing to remove', () => {
    const f = fixture();
    const { warn, calls } = recordingWarn();
    clearOutbox(f.sessionDir, 'msg-9', warn);
    clearOutbox(join(f.root, 'no-such-session'), 'msg-1', warn);
    expect(calls).toEqual([]);
  });

  it.each(ADVERSARIAL_SEGMENTS.map((id) => [id]))(
    'never throws for the unsafe message id %j and removes nothing',
    (messageId) => {
      const f = fixture();
      const { warn, calls } = recordingWarn();
      expect(() => clearOutbox(f.sessionDir, messageId, warn)).not.toThrow();
      expect(calls).toHaveLength(1);
      expect(readdirSync(f.messageDir).sort()).toEqual(['a.txt', 'b.bin']);
      expect(existsSync(f.outbox)).toBe(true);
    },
  );

  it('removes only the link when outbox/<id> is a symlink', () => {
    const f = fixture();
    symlinkSync(f.outside, join(f.outbox, 'msg-2'));
    const { warn, calls } = recordingWarn();
    clearOutbox(f.sessionDir, 'msg-2', warn);
    expect(existsSync(join(f.outbox, 'msg-2'))).toBe(false);
    expect(readFileSync(join(f.outside, 'secret'), 'utf8')).toBe('secret');
    expect(calls).toHaveLength(1);
  });

  it('does not follow symlinks inside the outbox dir', () => {
    const f = fixture();
    symlinkSync(f.outside, join(f.messageDir, 'dir-link'));
    symlinkSync(join(f.outside, 'secret'), join(f.messageDir, 'file-link'));
    clearOutbox(f.sessionDir, 'msg-1');
    expect(existsSync(f.messageDir)).toBe(false);
    expect(readdirSync(f.outside)).toEqual(['secret']);
    expect(readFileSync(join(f.outside, 'secret'), 'utf8')).toBe('secret');
  });

  it('removes nothing through a symlinked outbox/ dir', () => {
    const f = fixture();
    const session2 = join(f.root, 'v2-sessions', 'ag', 'sess2');
    mkdirSync(session2);
    mkdirSync(join(f.outside, 'msg-1'));
    symlinkSync(f.outside, join(session2, 'outbox'));
    const { warn, calls } = recordingWarn();
    clearOutbox(session2, 'msg-1', warn);
    expect(existsSync(join(f.outside, 'msg-1'))).toBe(true);
    expect(calls[0]?.details.reason).toBe('is a symlink');
  });

  it('logs instead of throwing when the session path is unusable', () => {
    const f = fixture();
    const notADir = join(f.root, 'file');
    writeFileSync(notADir, '');
    const { warn, calls } = recordingWarn();
    expect(() => clearOutbox(notADir, 'msg-1', warn)).not.toThrow();
    expect(calls).toHaveLength(1);
  });

  it.skipIf(process.getuid?.() === 0)('logs instead of throwing when removal fails', () => {
    const f = fixture();
    chmodSync(f.messageDir, 0o500);
    const { warn, calls } = recordingWarn();
    try {
      expect(() => clearOutbox(f.sessionDir, 'msg-1', warn)).not.toThrow();
      expect(calls).toHaveLength(1);
    } finally {
      chmodSync(f.messageDir, 0o700);
    }
  });
});
