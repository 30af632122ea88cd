/**
 * `executeBatch` never throws (src/runtime/session-ops.ts): the session actor runs it inside its
 * `commitBatch` action, where a throw would stop the actor for good. Every failure, even a
 * failure to open the file, comes back as one rejected result per operation.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MailboxOp } from '../../machines/session.machine.js';
import { executeBatch, type BatchEnv } from '../../src/runtime/session-ops.js';
import { createSessionDbs } from '../../src/store/session-db.js';
import { chat, T0 } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

function envIn(dir: string): BatchEnv {
  return {
    sessionDir: dir,
    inboundDbPath: join(dir, 'inbound.db'),
    outboundDbPath: join(dir, 'outbound.db'),
    heartbeatPath: join(dir, '.heartbeat'),
    maxAttachmentBytes: 1024,
    maxMessageBytes: 1024,
    outside: {
      pollSnapshot: () => ({
        rows: [],
        settledThrough: 0,
        more: false,
        acks: [],
        heartbeatMtimeMs: null,
        containerState: null,
        violations: [],
      }),
      sweepAcks: () => [],
      observed: (_op, compute) => compute(),
      outboundCheck: (_op, check) => check(),
    },
    state: { migrated: false },
    retry: { maxTries: 3, backoffMs: 1000 },
    warn: () => undefined,
    directOutbound: () => [],
    queueDirectOutbound: () => true,
    settleDirectOutbound: () => undefined,
  };
}

const write = (n: number): MailboxOp => ({
  requestId: `r${n}`,
  kind: 'writeMessage',
  payload: { kind: 'writeMessage', message: chat(`m${n}`, 'x'), at: T0 },
});

describe('executeBatch', () => {
  it('answers a batch whose inbound.db cannot be opened with STORAGE for each operation, without throwing', () => {
    const dir = tmp();
    const results = executeBatch(
      envIn(dir),
      { sessionId: 's', ops: [write(1), write(2)], containerStatus: 'stopped' },
      T0,
    );
    expect(results.map((r) => [r.requestId, r.ok, !r.ok && (r.error as { code?: string }).code])).toEqual([
      ['r1', false, 'STORAGE'],
      ['r2', false, 'STORAGE'],
    ]);
    expect(existsSync(join(dir, 'inbound.db'))).toBe(false);
  });

  it('answers a batch of barriers alone without opening any file (close() sends one to every live session)', () => {
    const dir = tmp(); // no inbound.db: any open would fail
    const barrier = (n: number): MailboxOp => ({ requestId: `b${n}`, kind: 'barrier', payload: { kind: 'barrier' } });
    const results = executeBatch(
      envIn(dir),
      { sessionId: 's', ops: [barrier(1), barrier(2)], containerStatus: 'stopped' },
      T0,
    );
    expect(results).toEqual([
      { requestId: 'b1', kind: 'barrier', ok: true, value: undefined },
      { requestId: 'b2', kind: 'barrier', ok: true, value: undefined },
    ]);
    expect(existsSync(join(dir, 'inbound.db'))).toBe(false);
  });

  it('rejects an operation it does not know alone, and commits the rest of the batch', () => {
    const dir = tmp();
    const env = envIn(dir);
    createSessionDbs(env.inboundDbPath, env.outboundDbPath);
    const unknown: MailboxOp = { requestId: 'x', kind: 'noSuchOperation', payload: { kind: 'noSuchOperation' } };
    const results = executeBatch(
      env,
      { sessionId: 's', ops: [write(1), unknown, write(2)], containerStatus: 'stopped' },
      T0,
    );
    expect(results.map((r) => [r.requestId, r.ok])).toEqual([
      ['r1', true],
      ['x', false],
      ['r2', true],
    ]);
    expect((results[1] as { error: { code: string } }).error.code).toBe('INVALID_INPUT');
    expect(results[2]).toMatchObject({ value: { seq: 4, duplicate: false } });
  });
});
