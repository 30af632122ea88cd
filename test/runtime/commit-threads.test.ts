import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SessionOp } from '../../src/runtime/ops/types.js';
import { RuntimeError } from '../../src/errors.js';
import { CommitThreads } from '../../src/runtime/commit-threads.js';
import type { CommitJob, CommitReply } from '../../src/runtime/commit-worker.js';
import { encodeOps } from '../../src/runtime/job-codec.js';
import { fromWire, toWire } from '../../src/runtime/wire.js';
import { createSessionDbs } from '../../src/store/session-db.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

function session(
  dir: string,
  create = true,
): Omit<CommitJob, 'id' | 'ops' | 'sessionId' | 'containerStatus' | 'writesOutbound'> {
  const sessionDir = join(dir, 'sess');
  mkdirSync(join(sessionDir, 'outbox', 'r1'), { recursive: true });
  const inboundDbPath = join(sessionDir, 'inbound.db');
  const outboundDbPath = join(sessionDir, 'outbound.db');
  if (create) createSessionDbs(inboundDbPath, outboundDbPath);
  return {
    env: {
      sessionDir,
      inboundDbPath,
      outboundDbPath,
      heartbeatPath: join(sessionDir, '.heartbeat'),
      maxAttachmentBytes: 1024,
      maxMessageBytes: 1024,
      retry: { maxTries: 3, backoffMs: 10 },
      poll: { maxPollRows: 100, maxOutboundBytes: 1 << 20, timezone: 'UTC' },
      migrate: true,
    },
    at: Date.UTC(2026, 0, 1),
    direct: [],
  };
}

const write = (n: number): SessionOp => ({
  kind: 'writeMessage',
  at: 0,
  message: { id: `m${n}`, kind: 'chat', timestamp: 'T', content: '{}', trigger: 1, onWake: 0 },
});

const batch = (...ops: SessionOp[]) => ({
  sessionId: 's',
  containerStatus: 'stopped' as const,
  writesOutbound: [],
  ops: encodeOps(ops),
});

function run(threads: CommitThreads, job: Omit<CommitJob, 'id'>): Promise<CommitReply> {
  return new Promise((resolve) => threads.run(job, resolve));
}

describe('commit threads', () => {
  it('commits a batch on a worker thread and hands back results the caller can use as they are', async () => {
    const threads = new CommitThreads(2);
    const base = session(tmp());
    const reply = await run(threads, {
      ...base,
      ...batch(write(1), write(2)),
    });
    expect(fromWire(reply.results)).toEqual([
      { requestId: '0', kind: 'writeMessage', ok: true, value: { seq: 2, duplicate: false } },
      { requestId: '1', kind: 'writeMessage', ok: true, value: { seq: 4, duplicate: false } },
    ]);
    expect(threads.started).toBe(1);
    await threads.terminate();
  });

  it('keeps RuntimeError codes and extra fields across the thread boundary', async () => {
    const threads = new CommitThreads(1);
    const base = session(tmp(), false); // no inbound.db: the open fails
    const reply = await run(threads, {
      ...base,
      ...batch(write(1)),
    });
    const [result] = fromWire(reply.results);
    expect(result?.ok).toBe(false);
    const error = (result as { error: unknown }).error;
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'STORAGE' });
    const tagged = Object.assign(new RuntimeError('STORAGE', 'refused'), {
      violation: { kind: 'symlink', detail: 'x' },
    });
    const [back] = fromWire(toWire([{ requestId: 'a', kind: 'k', ok: false, error: tagged }]));
    expect((back as { error: unknown }).error).toMatchObject({ code: 'STORAGE', violation: { kind: 'symlink' } });
    await threads.terminate();
  });

  it('revives file contents as Buffers', () => {
    const data = new Uint8Array([1, 2, 3]);
    const [r] = fromWire([{ requestId: 'a', kind: 'readOutbox', ok: true, value: [{ filename: 'f', data }] }]);
    const files = (r as { value: { data: unknown }[] }).value;
    expect(Buffer.isBuffer(files[0]!.data)).toBe(true);
    expect([...(files[0]!.data as Buffer)]).toEqual([1, 2, 3]);
  });

  it('answers the jobs of a thread that dies with STORAGE for every operation, and starts a new thread after', async () => {
    const threads = new CommitThreads(1);
    const base = session(tmp());
    const pending = run(threads, { ...base, ...batch(write(1)) });
    await threads.terminate();
    const reply = await pending;
    // Either the batch finished before the thread stopped, or it is answered as failed: never lost.
    for (const r of fromWire(reply.results)) {
      if (!r.ok) expect(r.error).toMatchObject({ code: 'STORAGE' });
    }
    const after = await run(threads, {
      ...base,
      ...batch(write(7)),
    });
    expect(fromWire(after.results)[0]).toMatchObject({ ok: true });
    await threads.terminate();
  });
});
