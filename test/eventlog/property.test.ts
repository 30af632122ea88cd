/**
 * Property: whatever a caller does — any sequence of API calls, concurrent batches, container
 * exits, clock advances — the event log the run recorded replays to the same transitions and the
 * same digest, with no divergence.
 *
 * The runtime runs on a SimulatedClock with sequential ids and the scripted fake driver; a small
 * scripted "agent" claims and answers messages through the session folder (as the reference
 * agent would), so polls, deliveries (with outbox files), sweeps, retries and liveness kills
 * all show up in the logs.
 *
 * Nothing is steered around: overlapping closes, creations next to other transitions, system
 * responses overlapping creations, deliveries outliving their actor (a slow channel on the
 * simulated clock) all happen. The bugs this property found are pinned in replay.test.ts.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { nextOddAbove, pickDueBatch, replyIdFor, type CandidateRow } from '../../src/container/agent/agent.js';
import { digestDataDir } from '../../src/eventlog/digest.js';
import type { LogRecord, Transition } from '../../src/eventlog/format.js';
import { readLog } from '../../src/eventlog/read-log.js';
import { replayLog } from '../../src/eventlog/replay.js';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import type { ChannelAdapter } from '../../src/runtime/types.js';
import { fakeDriver, type FakeContainer } from '../helpers/fake-driver.js';
import { T0 } from '../helpers/runtime.js';

// ------------------------------------------------------------------------------------ commands

const MODES = ['shared', 'per-thread', 'agent-shared'] as const;
// mg-1 exists only once upserted, mg-unknown never: both get resolutions refused.
const MESSAGING_GROUPS = [null, 'mg-0', 'mg-1', 'mg-unknown'] as const;
const THREADS = [null, 't1', 't2'] as const;

type Simple =
  | { t: 'upsertAg'; i: number }
  | { t: 'upsertMg'; i: number }
  | { t: 'resolve'; ag: number; mg: number; thread: number; mode: (typeof MODES)[number] }
  | { t: 'write'; s: number; id: number; trigger: 0 | 1; attach: boolean }
  | { t: 'direct'; s: number; id: number; file: boolean }
  | { t: 'wake'; s: number }
  | { t: 'stop'; s: number }
  | { t: 'exit'; s: number; how: 'code0' | 'code1' | 'sigkill' }
  | { t: 'claim'; s: number }
  | { t: 'finish'; s: number; fail: boolean; file: boolean }
  | { t: 'close'; s: number }
  | { t: 'readOutbox'; s: number; id: number }
  | { t: 'system'; s: number }
  | { t: 'bad'; k: number };

type Cmd = Simple | { t: 'advance'; ms: number } | { t: 'batch'; cmds: Simple[] };

// Small, so that commands keep meeting the same few sessions.
const sessionRef = fc.nat({ max: 3 });

const simple: fc.Arbitrary<Simple> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ t: fc.constant('upsertAg' as const), i: fc.nat({ max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('upsertMg' as const), i: fc.nat({ max: 1 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('resolve' as const),
      ag: fc.nat({ max: 1 }),
      mg: fc.nat({ max: MESSAGING_GROUPS.length - 1 }),
      thread: fc.nat({ max: THREADS.length - 1 }),
      mode: fc.constantFrom(...MODES),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      s: sessionRef,
      id: fc.nat({ max: 2 }),
      trigger: fc.constantFrom(0 as const, 1 as const),
      attach: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('direct' as const),
      s: sessionRef,
      id: fc.nat({ max: 3 }),
      file: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('wake' as const), s: sessionRef }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stop' as const), s: sessionRef }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('exit' as const),
      s: sessionRef,
      how: fc.constantFrom('code0' as const, 'code1' as const, 'sigkill' as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('claim' as const), s: sessionRef }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('finish' as const), s: sessionRef, fail: fc.boolean(), file: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), s: sessionRef }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('readOutbox' as const), s: sessionRef, id: fc.nat({ max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('system' as const), s: sessionRef }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('bad' as const), k: fc.nat({ max: 7 }) }) },
);

/** A turn of the agent's life: claim, let a poll see it, answer, let a poll deliver it. */
const agentTurn = (s: number, fail: boolean, file: boolean): Cmd[] => [
  { t: 'claim', s },
  { t: 'advance', ms: 100 },
  { t: 'finish', s, fail, file },
  { t: 'advance', ms: 100 },
];

const single: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: simple },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(20, 100, 350, 800) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('batch' as const),
      cmds: fc.array(simple, { minLength: 2, maxLength: 5 }),
    }),
  },
);

/** The container dies holding a claim; the sweep retries it (or fails it after maxTries). */
const crashMidTurn = (s: number, how: 'code1' | 'sigkill'): Cmd[] => [
  { t: 'write', s, id: 5, trigger: 1, attach: false },
  { t: 'claim', s },
  { t: 'advance', ms: 100 },
  { t: 'exit', s, how },
  { t: 'advance', ms: 350 },
];

/** The container claims and then falls silent: the liveness check kills it. */
const stall = (s: number): Cmd[] => [
  { t: 'claim', s },
  { t: 'advance', ms: 800 },
  { t: 'advance', ms: 800 },
];

/** A command, or a short scripted episode on one session. */
const command: fc.Arbitrary<Cmd[]> = fc.oneof(
  { weight: 12, arbitrary: single.map((c) => [c]) },
  {
    weight: 2,
    arbitrary: fc
      .record({ s: sessionRef, fail: fc.boolean(), file: fc.boolean() })
      .map(({ s, fail, file }) => agentTurn(s, fail, file)),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ s: sessionRef, how: fc.constantFrom('code1' as const, 'sigkill' as const) })
      .map(({ s, how }) => crashMidTurn(s, how)),
  },
  { weight: 1, arbitrary: sessionRef.map(stall) },
);

// ------------------------------------------------------------------------------------ harness

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/**
 * Lets what a command set off run: until the runtime is idle, or at most `ms` of real time when
 * something waits on the simulated clock (a slow channel) or on another command.
 */
const quiesce = (run: Run, ms: number) =>
  Promise.race([run.rt.whenIdle(), new Promise((resolve) => setTimeout(resolve, ms))]);

const iso = (ms: number) => new Date(ms).toISOString();

/** A scripted agent working in a fake container's session folder, on the simulated clock. */
class ScriptedAgent {
  constructor(
    private readonly c: FakeContainer,
    private readonly clock: SimulatedClock,
  ) {}

  private heartbeat(): void {
    const path = this.c.ctx.heartbeatPath;
    closeSync(openSync(path, 'a'));
    const at = new Date(this.clock.now());
    utimesSync(path, at, at);
  }

  /** Claims the due batch, like the reference agent's poll. */
  claim(): void {
    const now = this.clock.now();
    const pending = withDb(this.c.ctx.inboundDbPath, true, (db) =>
      (
        db
          .prepare("SELECT id, seq, status, trigger, on_wake, process_after FROM messages_in WHERE status = 'pending'")
          .all() as (Omit<CandidateRow, 'due'> & { process_after: string | null })[]
      ).map((r) => ({ ...r, due: r.process_after === null || Date.parse(r.process_after) <= now ? 1 : 0 })),
    );
    withDb(this.c.ctx.outboundDbPath, false, (db) => {
      const acked = new Set(
        (db.prepare('SELECT message_id FROM processing_ack').all() as { message_id: string }[]).map(
          (r) => r.message_id,
        ),
      );
      const ack = db.prepare(
        `INSERT INTO processing_ack (message_id, status, status_changed) VALUES (?, 'processing', ?)
         ON CONFLICT(message_id) DO UPDATE SET status = excluded.status, status_changed = excluded.status_changed`,
      );
      for (const row of pickDueBatch(pending, acked, false)) ack.run(row.id, iso(now));
    });
    this.heartbeat();
  }

  /** Finishes every claimed message: a reply (maybe with a file) per trigger row, then the outcome. */
  finish(fail: boolean, file: boolean): void {
    const now = this.clock.now();
    const inbound = withDb(this.c.ctx.inboundDbPath, true, (db) => ({
      max: (db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM messages_in').get() as { m: number }).m,
      triggers: new Map(
        (db.prepare('SELECT id, trigger FROM messages_in').all() as { id: string; trigger: number }[]).map((r) => [
          r.id,
          r.trigger,
        ]),
      ),
    }));
    withDb(this.c.ctx.outboundDbPath, false, (db) => {
      const claimed = (
        db.prepare("SELECT message_id FROM processing_ack WHERE status = 'processing' ORDER BY message_id").all() as {
          message_id: string;
        }[]
      ).map((r) => r.message_id);
      const exists = db.prepare('SELECT 1 FROM messages_out WHERE id = ?');
      let seq = nextOddAbove(
        Math.max(
          inbound.max,
          (db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM messages_out').get() as { m: number }).m,
        ),
      );
      for (const id of claimed) {
        if (!fail && inbound.triggers.get(id) === 1) {
          const replyId = replyIdFor(id, (x) => exists.get(x) !== undefined);
          const content: { text: string; files?: string[] } = { text: `echo ${id}` };
          if (file) {
            const dir = join(this.c.ctx.sessionDir, 'outbox', replyId);
            mkdirSync(dir, { recursive: true });
            writeFileSync(join(dir, 'reply.txt'), `reply to ${id}`);
            content.files = ['reply.txt'];
          }
          db.prepare(
            `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, kind, content) VALUES (?, ?, ?, ?, 'chat', ?)`,
          ).run(replyId, seq, id, iso(now), JSON.stringify(content));
          seq += 2;
        }
        db.prepare('UPDATE processing_ack SET status = ?, status_changed = ? WHERE message_id = ?').run(
          fail ? 'failed' : 'completed',
          iso(now),
          id,
        );
      }
    });
    this.heartbeat();
  }
}

function withDb<T>(path: string, readonly: boolean, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

interface Run {
  rt: Runtime;
  clock: SimulatedClock;
  driver: ReturnType<typeof fakeDriver>;
  sessions: string[];
  /** Commands whose promise did not settle within the turns given to it (left to run on). */
  parked: number;
}

function sid(run: Run, s: number): string {
  return run.sessions.length === 0 ? 'sess-none' : run.sessions[s % run.sessions.length]!;
}

function liveContainer(run: Run, sessionId: string): FakeContainer | undefined {
  return run.driver.started.findLast((c) => c.ctx.sessionId === sessionId && !c.exited);
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

function message(id: number, trigger: 0 | 1, attach: boolean, at: number) {
  const content: Record<string, unknown> = { text: `message ${id}` };
  if (attach) content.attachments = [{ name: `a${id}.txt`, data: b64(`attachment ${id}`) }];
  return { id: `m${id}`, kind: 'chat', timestamp: iso(at), content: JSON.stringify(content), trigger };
}

function badCall(run: Run, k: number): Promise<unknown> {
  const rt = run.rt as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const s = sid(run, 0);
  switch (k) {
    case 0:
      return run.rt.writeMessage('', message(1, 1, false, T0));
    case 1:
      return rt.writeMessage!.call(run.rt, s, { id: 'x', kind: 1, timestamp: 'now', content: '{}' });
    case 2:
      return rt.resolveSession!.call(run.rt, {
        agentGroupId: 'ag-0',
        messagingGroupId: null,
        threadId: null,
        mode: 'x',
      });
    case 3:
      return run.rt.upsertAgentGroup({ id: '../x', name: 'x' });
    case 4:
      return rt.writeOutboundDirect!.call(run.rt, s, { id: 'd', kind: 'chat', content: 5 });
    case 5:
      return rt.stop!.call(run.rt, s, 7);
    case 6:
      return run.rt.readOutboxFiles(s, 'a/b', []);
    default:
      return run.rt.writeMessage('sess-none', message(1, 1, false, T0));
  }
}

/** Starts one simple command; resolves or rejects like the API call it makes. */
function start(run: Run, cmd: Simple): Promise<unknown> {
  const { rt, clock } = run;
  switch (cmd.t) {
    case 'upsertAg':
      return rt.upsertAgentGroup({ id: `ag-${cmd.i}`, name: `Agent ${cmd.i}` });
    case 'upsertMg':
      return rt.upsertMessagingGroup({
        id: `mg-${cmd.i}`,
        channelType: cmd.i === 0 ? 'slack' : 'discord',
        platformId: `P${cmd.i}`,
      });
    case 'resolve':
      return rt
        .resolveSession({
          agentGroupId: `ag-${cmd.ag}`,
          messagingGroupId: MESSAGING_GROUPS[cmd.mg]!,
          threadId: THREADS[cmd.thread]!,
          mode: cmd.mode,
        })
        .then((r) => {
          if (!run.sessions.includes(r.session.id)) run.sessions.push(r.session.id);
          return r;
        });
    case 'write':
      return rt.writeMessage(sid(run, cmd.s), message(cmd.id, cmd.trigger, cmd.attach, clock.now()));
    case 'direct': {
      const content: { text: string; files?: string[] } = { text: `direct ${cmd.id}` };
      if (cmd.file) content.files = ['none.txt']; // declared but missing: delivered without it
      return rt.writeOutboundDirect(sid(run, cmd.s), {
        id: `d${cmd.id}`,
        kind: 'chat',
        platformId: 'P0',
        channelType: 'slack',
        threadId: null,
        content: JSON.stringify(content),
      });
    }
    case 'wake':
      return rt.wake(sid(run, cmd.s));
    case 'stop':
      return rt.stop(sid(run, cmd.s), 'property stop');
    case 'exit': {
      const c = liveContainer(run, sid(run, cmd.s));
      c?.exit(
        cmd.how === 'sigkill' ? { code: null, signal: 'SIGKILL' } : { code: cmd.how === 'code0' ? 0 : 1, signal: null },
      );
      return Promise.resolve();
    }
    case 'claim': {
      const c = liveContainer(run, sid(run, cmd.s));
      if (c !== undefined) new ScriptedAgent(c, clock).claim();
      return Promise.resolve();
    }
    case 'finish': {
      const c = liveContainer(run, sid(run, cmd.s));
      if (c !== undefined) new ScriptedAgent(c, clock).finish(cmd.fail, cmd.file);
      return Promise.resolve();
    }
    case 'close':
      return rt.closeSession(sid(run, cmd.s));
    case 'readOutbox':
      return rt.readOutboxFiles(sid(run, cmd.s), `m${cmd.id}-r1`, ['reply.txt']);
    case 'system':
      return rt.writeSystemResponse(sid(run, cmd.s), 'q1', 'approved', { ok: true });
    case 'bad':
      return badCall(run, cmd.k);
  }
}

/** Awaits `promise` for at most `n` event-loop turns (a command may wait on the clock). */
async function settle(run: Run, promise: Promise<unknown>, n = 200): Promise<void> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < n && !done; i++) await turns(1);
  if (!done) await quiesce(run, 50);
  if (!done) run.parked++;
}

async function execute(run: Run, cmd: Cmd): Promise<void> {
  await perform(run, cmd);
  // Let what the command set off (commits, deliveries) run before the next one.
  await quiesce(run, 50);
}

async function perform(run: Run, cmd: Cmd): Promise<void> {
  switch (cmd.t) {
    case 'advance':
      // In small steps, with a few turns after each, so commits and deliveries interleave.
      for (let left = cmd.ms; left > 0; left -= 25) {
        run.clock.increment(Math.min(25, left));
        await quiesce(run, 20);
      }
      return;
    case 'batch':
      return settle(run, Promise.allSettled(cmd.cmds.map((c) => start(run, c))));
    default:
      return settle(run, start(run, cmd));
  }
}

/**
 * The channel: d1 fails once then goes through, d2 always fails (recorded failed), d3 takes 400 ms
 * of simulated time (long enough for its session to be closed or passivated meanwhile); the rest
 * are delivered at once.
 */
function adapter(clock: SimulatedClock): ChannelAdapter {
  const attempts = new Map<string, number>();
  return {
    async deliver(msg) {
      const n = (attempts.get(msg.messageId) ?? 0) + 1;
      attempts.set(msg.messageId, n);
      if ((msg.messageId === 'd1' && n === 1) || msg.messageId === 'd2') throw new Error('channel down');
      if (msg.messageId === 'd3') await new Promise((resolve) => clock.setTimeout(resolve, 400));
      return { platformMessageId: `p-${msg.messageId}-${n}` };
    },
  };
}

// ------------------------------------------------------------------------------------ property

/** What the runs exercised, summed over all runs (checked after the property). */
type Coverage = Record<
  | 'passivations'
  | 'idleTimeouts'
  | 'stuckKills'
  | 'crashes'
  | 'retryWakes'
  | 'sweptRetried'
  | 'sweptFailed'
  | 'deliveries'
  | 'failedDeliveries'
  | 'multiOpCommits'
  | 'duplicates'
  | 'rejections'
  | 'closes',
  number
>;

function observe(coverage: Coverage, records: LogRecord[]): void {
  for (const r of records) {
    if (r.k === 'passivate') coverage.passivations++;
    if (r.k === 'ret' && !r.ok) coverage.rejections++;
    if (r.k === 'tr') {
      if (r.reason.startsWith('idle timeout')) coverage.idleTimeouts++;
      if (r.reason.startsWith('stuck')) coverage.stuckKills++;
      if (r.reason.includes('SIGKILL') || r.reason.includes('code 1')) coverage.crashes++;
      if (r.reason === 'retry of claimed messages') coverage.retryWakes++;
      if (r.to === 'closed') coverage.closes++;
    }
    if (r.k === 'ev' && r.e.type === 'mailbox.committed') {
      const results = (r.e as unknown as { results: { kind: string; ok: boolean; value?: unknown }[] }).results;
      if (results.length > 1) coverage.multiOpCommits++;
      for (const x of results) {
        const v = x.value as
          { retried?: unknown[]; failed?: unknown[]; duplicate?: boolean; status?: string } | undefined | null;
        if (x.kind === 'sweep' && (v?.retried?.length ?? 0) > 0) coverage.sweptRetried++;
        if (x.kind === 'sweep' && (v?.failed?.length ?? 0) > 0) coverage.sweptFailed++;
        if (x.kind === 'writeMessage' && v?.duplicate === true) coverage.duplicates++;
        if (x.kind === 'recordDelivery' && x.ok) coverage.deliveries++;
      }
    }
    if (r.k === 'ev' && r.e.type === 'mailbox.enqueue') {
      const ops = [(r.e as { op?: unknown }).op, ...((r.e as { ops?: unknown[] }).ops ?? [])] as (
        { payload?: { record?: { status?: string } } } | undefined
      )[];
      for (const op of ops) if (op?.payload?.record?.status === 'failed') coverage.failedDeliveries++;
    }
  }
}

const SETUP: Cmd[] = [
  { t: 'upsertAg', i: 0 },
  { t: 'upsertMg', i: 0 },
  { t: 'upsertMg', i: 1 },
  { t: 'resolve', ag: 0, mg: 1, thread: 0, mode: 'shared' },
];

/** Runs SETUP + `cmds` live with the event log on, then replays the log; returns both sides. */
async function runAndReplay(cmds: Cmd[], keep?: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'sa-property-'));
  try {
    const clock = new SimulatedClock();
    clock.set(T0);
    const driver = fakeDriver();
    const liveDir = join(dir, 'live');
    const log = join(dir, 'events.jsonl');
    const channel = adapter(clock);
    const rt = await createRuntime({
      dataDir: liveDir,
      driver,
      clock,
      ids: sequentialIds(),
      eventLog: log,
      channels: { slack: channel, discord: channel },
      pollMs: 100,
      idleStopMs: 300,
      passivateMs: 700,
      maxBatch: 4,
      maxTries: 2,
      retryBackoffMs: 100,
      deliveryAttempts: 2,
      deliveryBackoffMs: 50,
      claimSilenceMs: 1000,
      heartbeatCeilingMs: 3000,
    });
    rt.on('error', () => undefined); // runtime errors are not this property's concern
    const run: Run = { rt, clock, driver, sessions: [], parked: 0 };
    for (const cmd of [...SETUP, ...cmds]) await execute(run, cmd);
    await rt.close();

    const liveDigest = digestDataDir(liveDir);
    const records = readLog(log).records;
    const recordedTransitions: Transition[] = records.flatMap((r) =>
      r.k === 'tr' ? [{ sessionId: r.sessionId, from: r.from, to: r.to, reason: r.reason }] : [],
    );
    const result = await replayLog(log, { dataDir: join(dir, 'replay') });
    keep?.(dir);
    return { liveDigest, records, recordedTransitions, result };
  } finally {
    if (keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function bySession(transitions: Transition[]): Record<string, Transition[]> {
  const out: Record<string, Transition[]> = {};
  for (const t of transitions) (out[t.sessionId] ??= []).push(t);
  return out;
}

async function expectReplayMatches(cmds: Cmd[]) {
  const { liveDigest, records, recordedTransitions, result } = await runAndReplay(cmds);
  expect(result.divergence).toBeNull();
  // The same list, in the same order (per session and across sessions).
  expect(result.transitions).toEqual(recordedTransitions);
  expect(bySession(result.transitions)).toEqual(bySession(recordedTransitions));
  expect(result.digest).toBe(liveDigest);
  expect(result.expected.digest).toBe(liveDigest);
  return records;
}

describe('event log replay (property)', () => {
  it('replays any recorded command sequence to the same transitions and digest', async () => {
    const coverage: Coverage = {
      passivations: 0,
      idleTimeouts: 0,
      stuckKills: 0,
      crashes: 0,
      retryWakes: 0,
      sweptRetried: 0,
      sweptFailed: 0,
      deliveries: 0,
      failedDeliveries: 0,
      multiOpCommits: 0,
      duplicates: 0,
      rejections: 0,
      closes: 0,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 1, maxLength: 30 }).map((steps) => steps.flat()),
        async (cmds) => observe(coverage, await expectReplayMatches(cmds)),
      ),
      { numRuns: 50 },
    );
    // Across the runs, the sequences reached the paths that matter (loose floors: these sums are
    // in the tens for 50 runs; see the counts with DEBUG_PROPERTY_COVERAGE=1).
    if (process.env.DEBUG_PROPERTY_COVERAGE) console.log(JSON.stringify(coverage));
    expect(coverage.passivations).toBeGreaterThan(0);
    expect(coverage.crashes).toBeGreaterThan(0);
    expect(coverage.deliveries).toBeGreaterThan(0);
    expect(coverage.multiOpCommits).toBeGreaterThan(0);
    expect(coverage.rejections).toBeGreaterThan(0);
  }, 60_000);
});

// To study a counterexample: DEBUG_PROPERTY_CMDS='<the JSON fast-check printed>' npx vitest run
// test/eventlog/property.test.ts -t debug — runs it once, keeps the directory, prints the divergence.
it.skipIf(process.env.DEBUG_PROPERTY_CMDS === undefined)('debug: one sequence from DEBUG_PROPERTY_CMDS', async () => {
  const cmds = JSON.parse(process.env.DEBUG_PROPERTY_CMDS ?? '[]') as Cmd[];
  const { result } = await runAndReplay(cmds.flat() as Cmd[], (dir) => console.log('kept', dir));
  console.log(JSON.stringify(result.divergence, null, 2));
});
