/**
 * A hostile container at the file layer: what it can plant at `.heartbeat`, in `outbox/` and in
 * `inbox/` of its own session folder, and a crash that left an attachment without its message.
 */
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { violationOf } from '../../src/files/container-violation.js';
import { clearHeartbeat, readHeartbeatMtime } from '../../src/files/heartbeat.js';
import { extractAttachments } from '../../src/files/inbox.js';
import { inboxDirName } from '../../src/files/message-id.js';
import { readOutbox, readOutboxFiles, type OutboxRefusal } from '../../src/files/outbox.js';
import { plantFifo } from '../fixtures/store/hostile-files.js';
import { recordingWarn, useTempDirs } from '../fixtures/files/temp-dirs.js';

const tempDir = useTempDirs('session-actors-hostile-');

/** A session folder, and a folder outside it holding a secret that must never leak or change. */
function fixture() {
  const root = tempDir();
  const sessionDir = join(root, 'v2-sessions', 'ag', 'sess');
  const outside = join(root, 'outside');
  mkdirSync(sessionDir, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret bytes');
  return { root, sessionDir, outside, heartbeat: join(sessionDir, '.heartbeat') };
}

function violationKind(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe('STORAGE');
    return violationOf(error)?.kind;
  }
  throw new Error('expected a throw');
}

describe('.heartbeat', () => {
  it('reads the mtime of a regular file, and null when there is none', () => {
    const f = fixture();
    expect(readHeartbeatMtime(f.heartbeat)).toBeNull();
    writeFileSync(f.heartbeat, '');
    utimesSync(f.heartbeat, 1_700_000_000, 1_700_000_000);
    expect(readHeartbeatMtime(f.heartbeat)).toBe(1_700_000_000_000);
  });

  it('refuses a symlink, even to a fresh file outside, and does not report its target’s mtime', () => {
    const f = fixture();
    symlinkSync(join(f.outside, 'secret'), f.heartbeat);
    expect(violationKind(() => readHeartbeatMtime(f.heartbeat))).toBe('symlink');
  });

  it('refuses a hard link', () => {
    const f = fixture();
    linkSync(join(f.outside, 'secret'), f.heartbeat);
    expect(violationKind(() => readHeartbeatMtime(f.heartbeat))).toBe('hardlink');
  });

  it.each([
    ['a directory', (path: string) => mkdirSync(path)],
    ['a FIFO', plantFifo],
  ])('refuses %s', (_what, plant) => {
    const f = fixture();
    plant(f.heartbeat);
    expect(violationKind(() => readHeartbeatMtime(f.heartbeat))).toBe('not-regular');
  });

  it('clears a directory planted at .heartbeat, leaving a linked directory outside intact', () => {
    const f = fixture();
    mkdirSync(join(f.heartbeat, 'nested'), { recursive: true });
    writeFileSync(join(f.heartbeat, 'nested', 'x'), 'x');
    symlinkSync(f.outside, join(f.heartbeat, 'nested', 'out'));

    clearHeartbeat(f.heartbeat);

    expect(existsSync(f.heartbeat)).toBe(false);
    expect(readHeartbeatMtime(f.heartbeat)).toBeNull();
    expect(readdirSync(f.outside)).toEqual(['secret']);
  });

  it('clears a symlink by removing only the link, and a missing file quietly', () => {
    const f = fixture();
    symlinkSync(join(f.outside, 'secret'), f.heartbeat);
    clearHeartbeat(f.heartbeat);
    expect(existsSync(f.heartbeat)).toBe(false);
    expect(readFileSync(join(f.outside, 'secret'), 'utf8')).toBe('secret bytes');
    expect(() => clearHeartbeat(f.heartbeat)).not.toThrow();
  });
});

describe('outbox', () => {
  function outboxWith(sessionDir: string, files: Record<string, string>): string {
    const dir = join(sessionDir, 'outbox', 'out-1');
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it('refuses an outbox file hard-linked to a file outside the session: its bytes never reach the caller', () => {
    const f = fixture();
    const dir = outboxWith(f.sessionDir, { 'chart.png': 'png' });
    linkSync(join(f.outside, 'secret'), join(dir, 'leak.txt'));
    const { warn, calls } = recordingWarn();
    const refused: OutboxRefusal[] = [];

    const files = readOutboxFiles(f.sessionDir, 'out-1', ['leak.txt', 'chart.png'], warn, (r) => refused.push(r));

    expect(files).toEqual([{ filename: 'chart.png', data: Buffer.from('png') }]);
    expect(refused).toEqual([
      { filename: 'leak.txt', violation: expect.objectContaining({ kind: 'hardlink', path: join(dir, 'leak.txt') }) },
    ]);
    expect(calls.map((c) => c.details.violation)).toEqual(['hardlink']);
    expect(statSync(join(f.outside, 'secret')).nlink).toBe(2);
  });

  it('reports every refused name with its kind', () => {
    const f = fixture();
    const dir = outboxWith(f.sessionDir, { 'ok.txt': 'ok' });
    symlinkSync(join(f.outside, 'secret'), join(dir, 'link'));
    mkdirSync(join(dir, 'sub'));
    plantFifo(join(dir, 'pipe'));

    const read = readOutbox(f.sessionDir, 'out-1', ['link', 'sub', 'pipe', '../secret', 'gone', 'ok.txt']);

    expect(read.files?.map((file) => file.filename)).toEqual(['ok.txt']);
    expect(read.refused.map((r) => [r.filename, r.violation.kind])).toEqual([
      ['link', 'symlink'],
      ['sub', 'not-regular'],
      ['pipe', 'not-regular'],
      ['../secret', 'unsafe-name'],
    ]);
  });

  it('reports a refused outbox directory once, as filename null', () => {
    const f = fixture();
    mkdirSync(join(f.sessionDir, 'outbox'));
    symlinkSync(f.outside, join(f.sessionDir, 'outbox', 'out-1'));
    const read = readOutbox(f.sessionDir, 'out-1', ['secret']);
    expect(read.files).toBeUndefined();
    expect(read.refused).toEqual([{ filename: null, violation: expect.objectContaining({ kind: 'symlink' }) }]);
  });
});

describe('inbox after a crash between the attachment and its row', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const write = (sessionDir: string, messageId: string, text: string) => {
    const { warn, calls } = recordingWarn();
    const result = extractAttachments({
      sessionDir,
      messageId,
      content: JSON.stringify({ text: 'hi', attachments: [{ name: 'a.txt', data: b64(text) }] }),
      nowMs: 1,
      maxAttachmentBytes: 1024,
      warn,
    });
    return { ...result, warnings: calls };
  };

  it.each(['msg-1', 'spaces/AAA/messages/BBB.CCC'])(
    'replaces a stale inbox folder of %j: the re-sent attachment is saved with its new bytes',
    (messageId) => {
      const f = fixture();
      const dir = join(f.sessionDir, 'inbox', inboxDirName(messageId));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'a.txt'), 'old bytes from before the crash');
      writeFileSync(join(dir, 'other.bin'), 'another leftover');

      const result = write(f.sessionDir, messageId, 'new bytes');

      expect(result.files).toEqual(['a.txt']);
      expect(result.content).not.toContain('not_saved');
      expect(JSON.parse(result.content).attachments[0].localPath).toBe(`inbox/${inboxDirName(messageId)}/a.txt`);
      expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('new bytes');
      expect(readdirSync(dir)).toEqual(['a.txt']);
      expect(result.warnings.map((w) => w.message)).toEqual([
        'replacing a stale inbox directory (no committed message owns it)',
      ]);
    },
  );

  it('replaces a stale folder holding links without following them', () => {
    const f = fixture();
    const dir = join(f.sessionDir, 'inbox', 'msg-1');
    mkdirSync(dir, { recursive: true });
    symlinkSync(f.outside, join(dir, 'out'));
    symlinkSync(join(f.outside, 'secret'), join(dir, 'a.txt'));

    expect(write(f.sessionDir, 'msg-1', 'new').files).toEqual(['a.txt']);

    expect(readdirSync(f.outside)).toEqual(['secret']);
    expect(readFileSync(join(f.outside, 'secret'), 'utf8')).toBe('secret bytes');
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('new');
  });

  it.skipIf(!caseFolds())('never replaces the folder of an id that differs only in case', () => {
    const f = fixture();
    write(f.sessionDir, 'MSG', 'upper');
    const result = write(f.sessionDir, 'msg', 'lower');
    expect(result.files).toEqual([]);
    expect(readFileSync(join(f.sessionDir, 'inbox', 'MSG', 'a.txt'), 'utf8')).toBe('upper');
  });
});

/** Whether the temp directory's file system folds letter case (macOS, Windows): the guard applies there. */
function caseFolds(): boolean {
  const dir = tempDir();
  writeFileSync(join(dir, 'CASE'), '');
  return existsSync(join(dir, 'case'));
}
