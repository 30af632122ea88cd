/**
 * The recorder: the header comes first, an acknowledged write is already in the file when its
 * promise resolves, a torn last line (a crash mid-append) is tolerated, and file bytes never
 * enter the log.
 */
import { appendFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestDataDir } from '../../src/eventlog/digest.js';
import { LOG_FORMAT, LOG_VERSION, type LogHeader, type LogRecord } from '../../src/eventlog/format.js';
import { readLog } from '../../src/eventlog/read-log.js';
import { replayLog } from '../../src/eventlog/replay.js';
import { RuntimeError } from '../../src/errors.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { nextEvent } from '../helpers/events.js';
import { chat, T0, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-recorder-');

interface LoggedOp {
  requestId: string;
  kind: string;
  payload?: { message?: { id?: string } };
}

/** The operations a `mailbox.enqueue` event carries: one (`op`) or several (`ops`). */
function enqueuedOps(e: { type: string; [key: string]: unknown }): LoggedOp[] {
  if (e.type !== 'mailbox.enqueue') return [];
  const { op, ops } = e as { op?: LoggedOp; ops?: LoggedOp[] };
  return [...(op !== undefined ? [op] : []), ...(ops ?? [])];
}

/** Every line of the file as it is now, the header included. */
function lines(path: string): (LogHeader | LogRecord)[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogHeader | LogRecord);
}

async function logged(options: Parameters<typeof testRuntime>[1] = {}) {
  const dir = tmp();
  const log = join(dir, 'events.jsonl');
  const dataDir = join(dir, 'data');
  const { rt, clock } = await testRuntime(dataDir, { eventLog: log, ...options });
  return { rt, clock, log, dataDir, dir };
}

async function session(rt: Runtime, threadId: string | null = null): Promise<string> {
  const { session: s } = await rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId,
    mode: threadId === null ? 'shared' : 'per-thread',
  });
  return s.id;
}

describe('event log recorder', () => {
  it('writes the header first, with the settings of the run, and ends with the digest of the data', async () => {
    const dir = tmp();
    const log = join(dir, 'events.jsonl');
    const { rt } = await testRuntime(join(dir, 'data'), {
      eventLog: log,
      pollMs: 123,
      idleStopMs: 4567,
      passivateMs: 890,
      maxBatch: 17,
      maxTries: 3,
      retryBackoffMs: 42,
      limits: { maxAttachmentBytes: 1000, maxMessageBytes: 2000 },
    });
    // Right after createRuntime the header is on disk (testRuntime's upserts may still be buffered).
    const [header] = lines(log);
    expect(header).toEqual({
      k: 'header',
      format: LOG_FORMAT,
      version: LOG_VERSION,
      startedAt: T0,
      settings: {
        pollMs: 123,
        idleStopMs: 4567,
        passivateMs: 890,
        maxBatch: 17,
        maxAttachmentBytes: 1000,
        maxMessageBytes: 2000,
        maxTries: 3,
        retryBackoffMs: 42,
        maxPollRows: 100,
        maxOutboundBytes: 4 * 1024 * 1024,
        timezone: 'UTC',
      },
    });
    // Records made outside a commit reach the file within one event-loop turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines(log).map((r) => r.k)).toEqual(['header', 'call', 'ret', 'call', 'ret']);
    await rt.close();
    const all = lines(log);
    expect(all[0]?.k).toBe('header');
    expect(all.filter((r) => r.k === 'header')).toHaveLength(1);
    expect(all.at(-1)).toEqual({ k: 'end', digest: digestDataDir(join(dir, 'data')) });
  });

  it('has every acknowledged writeMessage in the file when its promise resolves (enqueue, commit, call)', async () => {
    const { rt, log } = await logged();
    const sessions = [await session(rt), await session(rt, 't1'), await session(rt, 't2')];
    const seen: string[] = [];
    const write = (sid: string, id: string) =>
      rt.writeMessage(sid, chat(id, `text of ${id}`)).then((result) => {
        // Read the file right here, before anything else can run.
        const records = lines(log);
        const enqueued = records.flatMap((r) => (r.k === 'ev' && r.s === sid ? enqueuedOps(r.e) : []));
        const mine = enqueued.filter((op) => op.payload?.message?.id === id);
        expect(mine.length, `enqueue of ${sid}/${id}`).toBeGreaterThan(0);
        const requestIds = new Set(mine.map((op) => op.requestId));
        const commit = records.find(
          (r) =>
            r.k === 'ev' &&
            r.s === sid &&
            r.e.type === 'mailbox.committed' &&
            (r.e as unknown as { results: { requestId: string }[] }).results.some((x) => requestIds.has(x.requestId)),
        );
        expect(commit, `commit of ${sid}/${id}`).toBeDefined();
        expect(
          records.some((r) => r.k === 'call' && r.m === 'writeMessage' && (r.a[1] as { id?: string }).id === id),
        ).toBe(true);
        seen.push(`${sid}/${id}/${String(result.duplicate)}`);
        return result;
      });
    // A concurrent burst over three sessions (batched commits), duplicates included.
    const burst = [];
    for (let i = 0; i < 60; i++) burst.push(write(sessions[i % 3]!, `m${i % 25}`));
    await Promise.all(burst);
    // And one at a time.
    for (let i = 0; i < 5; i++) await write(sessions[0]!, `solo${i}`);
    expect(seen).toHaveLength(65);
    // 60 writes of 25 ids over 3 sessions: ids 0..9 go to the session (i % 3) twice or thrice.
    const firsts = new Set(seen.map((s) => s.split('/').slice(0, 2).join('/')));
    expect(seen.filter((s) => s.endsWith('/false'))).toHaveLength(firsts.size);
    await rt.close();
  });

  it('tolerates a torn last line, and refuses a corrupt line elsewhere with its line number', async () => {
    const { rt, log, dir } = await logged();
    const sid = await session(rt);
    await rt.writeMessage(sid, chat('m1', 'one'));
    await rt.close();
    const whole = readLog(log);

    // The process died in the middle of appending a record.
    appendFileSync(log, '{"k":"ev","s":"sess-1","e":{"type":"mailbox.enq');
    expect(readLog(log)).toEqual(whole);

    // The end record itself torn: everything before it is kept.
    const text = readFileSync(log, 'utf8');
    const cut = text.lastIndexOf('{"k":"end"') + 12;
    truncateSync(log, Buffer.byteLength(text.slice(0, cut)));
    const torn = readLog(log);
    expect(torn.records).toEqual(whole.records.slice(0, -1));
    const replayed = await replayLog(log, { dataDir: join(dir, 'replay') });
    expect(replayed.divergence).toBeNull();
    expect(replayed.expected.digest).toBeNull();
    expect(replayed.digest).toBe((whole.records.at(-1) as { digest: string }).digest);

    // A bad line that is not the last one is corruption.
    const corrupt = join(dir, 'corrupt.jsonl');
    const good = text.split('\n');
    writeFileSync(corrupt, [good[0], good[1], 'not json', ...good.slice(2)].join('\n'));
    expect(() => readLog(corrupt)).toThrow(RuntimeError);
    expect(() => readLog(corrupt)).toThrow(/:3: not a JSON line/);

    // A file whose first line is not a header is refused.
    const headless = join(dir, 'headless.jsonl');
    writeFileSync(headless, good.slice(1).join('\n'));
    expect(() => readLog(headless)).toThrow(/not an event-log header/);
  });

  describe('file bytes', () => {
    const BYTES = Buffer.from('0123456789abcdef'.repeat(64)); // 1 KiB, easy to spot
    const spot = (text: string) =>
      text.includes('"type":"Buffer"') ||
      text.includes(BYTES.toString('base64').slice(0, 40)) ||
      text.includes('0123456789abcdef');

    async function withOutboxFile() {
      const ctx = await logged();
      const sid = await session(ctx.rt);
      const box = join(ctx.rt.paths.sessionDir('ag-main', sid), 'outbox', 'o1');
      mkdirSync(box, { recursive: true });
      writeFileSync(join(box, 'f.bin'), BYTES);
      return { ...ctx, sid };
    }

    it('are summarised as sizes in the commit record of readOutboxFiles', async () => {
      const { rt, log, sid } = await withOutboxFile();
      const files = await rt.readOutboxFiles(sid, 'o1', ['f.bin']);
      expect(files).toEqual([{ filename: 'f.bin', data: BYTES }]);
      await rt.close();
      const commit = lines(log).find(
        (r) =>
          r.k === 'ev' &&
          r.e.type === 'mailbox.committed' &&
          (r.e as unknown as { results: { kind: string }[] }).results.some((x) => x.kind === 'readOutbox'),
      ) as unknown as { e: { results: { kind: string; value: unknown }[] } };
      expect(commit.e.results.find((x) => x.kind === 'readOutbox')?.value).toEqual([
        { filename: 'f.bin', bytes: BYTES.length },
      ]);
      const events = lines(log).filter((r) => r.k === 'ev');
      expect(spot(JSON.stringify(events))).toBe(false);
    });

    it('of a delivery with files (read by the deliverer) never enter the log', async () => {
      const delivered: { files?: { filename: string; data: Buffer }[] }[] = [];
      const adapter = {
        deliver: async (m: { files?: { filename: string; data: Buffer }[] }) => {
          delivered.push(m);
          return { platformMessageId: 'p1' };
        },
      };
      const ctx = await logged({ channels: { slack: adapter }, driver: fakeDriver() });
      const sid = await session(ctx.rt);
      const box = join(ctx.rt.paths.sessionDir('ag-main', sid), 'outbox', 'd1');
      mkdirSync(box, { recursive: true });
      writeFileSync(join(box, 'f.bin'), BYTES);
      const done = nextEvent(ctx.rt, 'outbound.delivered');
      await ctx.rt.writeOutboundDirect(sid, {
        id: 'd1',
        kind: 'chat',
        platformId: 'C123',
        channelType: 'slack',
        threadId: null,
        content: JSON.stringify({ text: 'with a file', files: ['f.bin'] }),
      });
      await done;
      expect(delivered[0]?.files).toEqual([{ filename: 'f.bin', data: BYTES }]);
      await ctx.rt.close();
      expect(spot(readFileSync(ctx.log, 'utf8'))).toBe(false);
      const replayed = await replayLog(ctx.log, { dataDir: join(ctx.dir, 'replay') });
      expect(replayed.divergence).toBeNull();
    });

    // Runtime.call records the method's return value: readOutboxFiles returns the bytes.
    it('are not dumped into the ret record of readOutboxFiles', async () => {
      const { rt, log, sid } = await withOutboxFile();
      await rt.readOutboxFiles(sid, 'o1', ['f.bin']);
      await rt.close();
      const ret = lines(log).find((r) => r.k === 'ret' && r.ok && Array.isArray(r.v));
      expect(ret).toBeDefined();
      expect(spot(JSON.stringify(ret))).toBe(false);
    });
  });
});
