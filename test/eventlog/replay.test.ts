/**
 * replayLog on small logs recorded here (fake driver, simulated clock, sequential ids): it
 * reproduces the run, it notices a log that was tampered with, and it refuses what it cannot
 * replay. The recorded-from-real-runs suite is fixtures.test.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestDataDir } from '../../src/eventlog/digest.js';
import type { LogRecord } from '../../src/eventlog/format.js';
import { replayLog } from '../../src/eventlog/replay.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-replay-');

async function record(run: (rt: Runtime) => Promise<unknown>) {
  const dir = tmp();
  const log = join(dir, 'events.jsonl');
  const dataDir = join(dir, 'data');
  const driver = fakeDriver();
  const { rt } = await testRuntime(dataDir, { eventLog: log, driver, autoWake: true, pollMs: 50 });
  await run(rt);
  await rt.close();
  return { dir, log, dataDir, liveDigest: digestDataDir(dataDir), driver };
}

function records(log: string): LogRecord[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogRecord);
}

function rewrite(log: string, to: string, change: (r: LogRecord, index: number) => LogRecord | null): string {
  const out = records(log)
    .map((r, i) => change(r, i))
    .filter((r): r is LogRecord => r !== null);
  writeFileSync(to, out.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return to;
}

const resolveShared = (rt: Runtime, threadId: string | null = null) =>
  rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId,
    mode: threadId === null ? 'shared' : 'per-thread',
  });

async function typicalRun(rt: Runtime): Promise<void> {
  const { session } = await resolveShared(rt);
  await rt.writeMessage(session.id, chat('m1', 'one'));
  await rt.writeMessage(session.id, chat('m1', 'duplicate'));
  await rt.writeSystemResponse(session.id, 'q1', 'approved', { ok: true });
  await rt.wake(session.id);
  await rt.stop(session.id, 'enough');
  await rt.writeMessage('../bad', chat('m2', 'x')).catch(() => undefined);
}

describe('replayLog', () => {
  it('reproduces a run: transitions and digest, no divergence', async () => {
    const run = await record(typicalRun);
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
    expect(result.digest).toBe(run.liveDigest);
    expect(result.expected.digest).toBe(run.liveDigest);
    expect(result.transitions).toEqual(result.expected.transitions);
    expect(result.transitions.map((t) => `${t.from}->${t.to}`)).toEqual([
      'none->created',
      'stopped->running',
      'running->stopped',
    ]);
  });

  it('reports a tampered end digest as a divergence at the last line', async () => {
    const run = await record(typicalRun);
    const log = rewrite(run.log, join(run.dir, 'tampered.jsonl'), (r) =>
      r.k === 'end' ? { k: 'end', digest: '0'.repeat(64) } : r,
    );
    const result = await replayLog(log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toMatchObject({ what: expect.stringContaining('digest'), actual: run.liveDigest });
    expect(result.divergence?.line).toBe(records(log).length);
  });

  it('reports a tampered transition', async () => {
    const run = await record(typicalRun);
    const log = rewrite(run.log, join(run.dir, 'tampered.jsonl'), (r) =>
      r.k === 'tr' && r.to === 'running' ? { ...r, reason: 'something else' } : r,
    );
    const result = await replayLog(log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toMatchObject({ what: expect.stringContaining('transition') });
  });

  it('reports a tampered commit result (a duplicate that was not one)', async () => {
    const run = await record(typicalRun);
    const log = rewrite(run.log, join(run.dir, 'tampered.jsonl'), (r) => {
      if (r.k !== 'ev' || !r.e.type.includes('mailbox.committing')) return r;
      const output = r.e.output as { at: number; results: { kind: string; value?: { duplicate?: boolean } }[] };
      const results = output.results.map((x) =>
        x.kind === 'writeMessage' && x.value?.duplicate === true ? { ...x, value: { ...x.value, duplicate: false } } : x,
      );
      return { ...r, e: { ...r.e, output: { ...output, results } } };
    });
    const result = await replayLog(log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toMatchObject({ what: expect.stringContaining('another result') });
  });

  it('reports a rejected call that validation would accept', async () => {
    const run = await record(typicalRun);
    const log = rewrite(run.log, join(run.dir, 'tampered.jsonl'), (r) =>
      r.k === 'call' && r.m === 'writeMessage' && r.a[0] === '../bad' ? { ...r, a: ['sess-1', r.a[1]] } : r,
    );
    const result = await replayLog(log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toMatchObject({ what: expect.stringContaining('rejected differently') });
  });

  it('reports a missing transition at the end', async () => {
    const run = await record(typicalRun);
    const all = records(run.log);
    const lastTr = all.map((r) => r.k).lastIndexOf('tr');
    const log = rewrite(run.log, join(run.dir, 'tampered.jsonl'), (r, i) => (i === lastTr ? null : r));
    const result = await replayLog(log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).not.toBeNull();
  });

  it('refuses a non-empty data directory and a log of another format', async () => {
    const run = await record(typicalRun);
    const full = join(run.dir, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'x'), 'x');
    await expect(replayLog(run.log, { dataDir: full })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const other = rewrite(run.log, join(run.dir, 'v9.jsonl'), (r) => (r.k === 'header' ? { ...r, version: 9 } : r));
    await expect(replayLog(other, { dataDir: join(run.dir, 'replay') })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });

  it('replays concurrent creations of different keys', async () => {
    const run = await record(async (rt) => {
      const results = await Promise.all([resolveShared(rt, 't1'), resolveShared(rt, 't2'), resolveShared(rt)]);
      await Promise.all(results.map((r, i) => rt.writeMessage(r.session.id, chat(`m${i}`, 'x', { trigger: 0 }))));
    });
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
    expect(result.digest).toBe(run.liveDigest);
  });

  // BUG (replay): the replayer keeps every minted id in ONE queue and hands them out in the
  // order of `ret` records, whatever their prefix. writeSystemResponse mints its `sys-…` id at
  // the call but its `ret` comes only after the message is committed, so a resolveSession that
  // creates a session in between takes `sys-1` instead of its own `sess-2`. The log reads:
  //   {"k":"call","c":3,"m":"writeSystemResponse",…}  {"k":"id","p":"sys","v":"sys-1"}
  //   {"k":"call","c":5,"m":"resolveSession",…}       {"k":"id","p":"sess","v":"sess-2"}
  //   {"k":"ret","c":5,…"session":{"id":"sess-2"…}}    ← replay resolves it as "sys-1"
  // Divergence (at that `ret` line): "resolveSession (call 5) resolved differently", expected
  // session sess-2, actual { sessionId: 'sys-1', created: true }.
  // Fix idea: queue ids per prefix (or per call). Remove `.fails` once fixed.
  it.fails('replays a writeSystemResponse that overlaps a session creation', async () => {
    const run = await record(async (rt) => {
      const { session } = await resolveShared(rt);
      await Promise.allSettled([
        rt.writeSystemResponse(session.id, 'q1', 'approved', { ok: true }),
        resolveShared(rt, 't1'),
      ]);
    });
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
    expect(result.digest).toBe(run.liveDigest);
  });

  // BUG (replay): a rejection recorded as INVALID_INPUT/INVALID_ID is re-checked with the pure
  // validators only, but INVALID_INPUT is also raised after validation, from state:
  //  - resolveInCentral (src/runtime/registry.ts): "messaging group mg-nope does not exist";
  //  - wake with driver 'none' (src/runtime/runtime.ts noneDriver): "driver 'none' never starts containers".
  // parseResolve / validId accept those arguments, so the replay reports
  //   "resolveSession (call 2) was rejected differently", expected 'INVALID_INPUT', actual 'accepted'
  //   "wake (call 3) was rejected differently", expected 'INVALID_INPUT', actual 'accepted'
  // at the `ret` line of the call. Fix idea: re-run the resolution (it is replayed from `ret` anyway)
  // or only compare codes validation can produce (tell the two apart when recording), or give
  // those failures another code (e.g. UNKNOWN_MESSAGING_GROUP). Remove `.fails` once fixed.
  it.fails('replays a resolution refused for an unknown messaging group', async () => {
    const run = await record(async (rt) => {
      await expect(
        rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-nope', threadId: null, mode: 'shared' }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
  });

  it.fails("replays a wake refused by driver 'none'", async () => {
    const dir = tmp();
    const log = join(dir, 'events.jsonl');
    const { rt } = await testRuntime(join(dir, 'data'), { eventLog: log });
    const { session } = await resolveShared(rt);
    await expect(rt.wake(session.id)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await rt.close();
    const result = await replayLog(log, { dataDir: join(dir, 'replay') });
    expect(result.divergence).toBeNull();
  });
});
