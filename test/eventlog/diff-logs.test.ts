/**
 * diffLogs: two runs of one deterministic scenario are the same run; a change shows at the first
 * record it touches, named by line and field; what legitimately differs between runs is ignored.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIFF_IGNORED, diffLogs } from '../../src/eventlog/diff-logs.js';
import type { LogHeader, LogRecord } from '../../src/eventlog/format.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-diff-logs-');

/** One run: a session, two messages (the second's text chosen by the caller), a wake, a stop. */
async function run(secondText = 'two'): Promise<(LogHeader | LogRecord)[]> {
  const dir = tmp();
  const log = join(dir, 'events.jsonl');
  const { rt } = await testRuntime(join(dir, 'data'), { eventLog: log, driver: fakeDriver() });
  const { session } = await rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId: null,
    mode: 'shared',
  });
  await rt.writeMessage(session.id, chat('m1', 'one', { trigger: 0 }));
  await rt.writeMessage(session.id, chat('m2', secondText, { trigger: 0 }));
  await rt.wake(session.id);
  await rt.stop(session.id, 'done');
  await rt.writeMessage('not/valid', chat('m3', 'x')).catch(() => undefined);
  await rt.close();
  return readFileSync(log, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as LogHeader | LogRecord);
}

const text = (lines: unknown[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');

describe('diffLogs', () => {
  it('finds no difference between two runs of the same scenario', async () => {
    const [a, b] = [await run(), await run()];
    expect(a.length).toBeGreaterThan(10);
    expect(await diffLogs(text(a), text(b))).toBeNull();
    expect(await diffLogs(a, b)).toBeNull();
  });

  it('names the first record a change touches, with its line and field', async () => {
    const [a, b] = [await run(), await run('TWO')];
    const diff = await diffLogs(a, b);
    const line = a.findIndex((r) => r.k === 'call' && r.m === 'writeMessage' && (r.a[1] as { id: string }).id === 'm2');
    expect(diff).toEqual({
      index: line - 1,
      line: line + 1,
      path: 'a[1].content',
      what: `record ${line - 1} (call) differs at a[1].content`,
      a: JSON.stringify({ text: 'two' }),
      b: JSON.stringify({ text: 'TWO' }),
    });
  });

  it('ignores startedAt, heartbeat times and error messages, and what it is told to ignore', async () => {
    const a = await run();
    const b = structuredClone(a);
    const header = b[0] as LogHeader;
    header.startedAt += 12_345;
    let touched = 0;
    const tamper = (value: unknown, key?: string): void => {
      if (Array.isArray(value)) value.forEach((v) => tamper(v));
      else if (typeof value === 'object' && value !== null) {
        const o = value as Record<string, unknown>;
        if ('$error' in o || (key === 'err' && 'code' in o)) {
          o.message = `somewhere else: ${String(o.message)}`;
          touched++;
        }
        for (const [k, v] of Object.entries(o)) tamper(v, k);
        o.heartbeatMtimeMs = 1;
      }
    };
    b.forEach((r) => tamper(r));
    expect(touched).toBeGreaterThan(0);
    expect(DIFF_IGNORED.header).toEqual(['startedAt']);
    expect(await diffLogs(a, b)).toBeNull();

    // An error's code is still compared.
    const c = structuredClone(a);
    const failed = c.findIndex((r) => r.k === 'ret' && !r.ok);
    (c[failed] as { err: { code: string } }).err.code = 'STORAGE';
    expect(await diffLogs(a, c)).toMatchObject({ line: failed + 1, path: 'err.code', a: 'INVALID_ID', b: 'STORAGE' });

    // Clock readings differ between runs on a wall clock: ignored on request.
    const d = structuredClone(a).map((r) => (r.k === 'call' ? { ...r, at: r.at + 1 } : r));
    expect(await diffLogs(a, d)).toMatchObject({ path: 'at' });
    expect(await diffLogs(a, d, { ignore: ['at'] })).toBeNull();
  });

  it('names the header when settings differ, and the end of the shorter log', async () => {
    const a = await run();
    const other = [{ ...(a[0] as LogHeader), settings: { ...(a[0] as LogHeader).settings, pollMs: 7 } }, ...a.slice(1)];
    expect(await diffLogs(a, other)).toMatchObject({ index: -1, line: 1, path: 'settings.pollMs', b: 7 });
    const shorter = a.slice(0, -1);
    expect(await diffLogs(a, shorter)).toEqual({
      index: a.length - 2,
      line: a.length,
      path: '',
      what: `b ends before record ${a.length - 2}; a goes on`,
      a: a.at(-1),
      b: undefined,
    });
    expect(await diffLogs(shorter, a)).toMatchObject({ what: `a ends before record ${a.length - 2}; b goes on` });
    await expect(diffLogs(a, [{ k: 'nope' } as never])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
