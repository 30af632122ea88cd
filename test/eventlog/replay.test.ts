/**
 * replayLog on small logs recorded here (fake driver, simulated clock, sequential ids): it
 * reproduces the run, it notices a log that was tampered with, and it refuses what it cannot
 * replay. The recorded-from-real-runs suite is fixtures.test.ts.
 */
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { digestDataDir } from '../../src/eventlog/digest.js';
import type { LogHeader, LogRecord } from '../../src/eventlog/format.js';

type Line = LogHeader | LogRecord;
import { replayLog } from '../../src/eventlog/replay.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { ChannelAdapter } from '../../src/runtime/types.js';
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

/** Every line of the log, the header included. */
function records(log: string): Line[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

function rewrite(log: string, to: string, change: (r: Line, index: number) => Line | null): string {
  const out = records(log)
    .map((r, i) => change(r, i))
    .filter((r): r is Line => r !== null);
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
      if (r.k !== 'ev' || r.e.type !== 'mailbox.committed') return r;
      const committed = r.e as unknown as { results: { kind: string; value?: { duplicate?: boolean } }[] };
      const results = committed.results.map((x) =>
        x.kind === 'writeMessage' && x.value?.duplicate === true
          ? { ...x, value: { ...x.value, duplicate: false } }
          : x,
      );
      return { ...r, e: { ...r.e, results } };
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

  // Fixed, kept as a regression test (replay): the replayer keeps every minted id in ONE queue and hands them out in the
  // order of `ret` records, whatever their prefix. writeSystemResponse mints its `sys-…` id at
  // the call but its `ret` comes only after the message is committed, so a resolveSession that
  // creates a session in between takes `sys-1` instead of its own `sess-2`. The log reads:
  //   {"k":"call","c":4,"m":"writeSystemResponse",…}  {"k":"id","p":"sys","v":"sys-1"}
  //   {"k":"call","c":6,"m":"resolveSession",…}       {"k":"id","p":"sess","v":"sess-2"}
  //   {"k":"ret","c":6,…"session":{"id":"sess-2"…}}    ← replay resolves it as "sys-1"
  // Divergence (at that `ret` line): "resolveSession (call 6) resolved differently", expected
  // session sess-2, actual { sessionId: 'sys-1', created: true }.
  // Fix idea: queue ids per prefix (or per call). Fixed.
  it('replays a writeSystemResponse that overlaps a session creation', async () => {
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

  // Same bug, no concurrency needed: writeSystemResponse to an unknown (or closed) session mints
  // `sys-1`, then its write is rejected (UNKNOWN_SESSION); the replay skips failed `ret`s, so
  // `sys-1` stays first in the queue and the next creation resolves as "sys-1":
  //   "resolveSession (call 5) resolved differently", actual { sessionId: 'sys-1', created: true }.
  it('replays a rejected writeSystemResponse followed by a session creation', async () => {
    const run = await record(async (rt) => {
      await expect(rt.writeSystemResponse('sess-nope', 'q1', 'approved', null)).rejects.toMatchObject({
        code: 'UNKNOWN_SESSION',
      });
      await resolveShared(rt);
    });
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
  });

  // Fixed, kept as a regression test (replay): a rejection recorded as INVALID_INPUT/INVALID_ID is re-checked with the pure
  // validators only, but INVALID_INPUT is also raised after validation, from state:
  //  - resolveInCentral (src/runtime/registry.ts): "messaging group mg-nope does not exist";
  //  - wake with driver 'none' (src/runtime/runtime.ts noneDriver): "driver 'none' never starts containers".
  // parseResolve / validId accept those arguments, so the replay reports
  //   "resolveSession (call 3) was rejected differently", expected 'INVALID_INPUT', actual 'accepted'
  //   "wake (call 4) was rejected differently", expected 'INVALID_INPUT', actual 'accepted'
  // at the `ret` line of the call. Fix idea: re-run the resolution (it is replayed from `ret` anyway)
  // or only compare codes validation can produce (tell the two apart when recording), or give
  // those failures another code (e.g. UNKNOWN_MESSAGING_GROUP). Fixed.
  it('replays a resolution refused for an unknown messaging group', async () => {
    const run = await record(async (rt) => {
      await expect(
        rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-nope', threadId: null, mode: 'shared' }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
  });

  it("replays a wake refused by driver 'none'", async () => {
    const dir = tmp();
    const log = join(dir, 'events.jsonl');
    const { rt } = await testRuntime(join(dir, 'data'), { eventLog: log });
    const { session } = await resolveShared(rt);
    await expect(rt.wake(session.id)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await rt.close();
    const result = await replayLog(log, { dataDir: join(dir, 'replay') });
    expect(result.divergence).toBeNull();
  });

  // Fixed, kept as a regression test (replay, found by property.test.ts): the replay reports a session creation when it meets
  // the `ret` of resolveSession, but the run records its `tr none→created` inside the call, a few
  // microtasks before that `ret`. When another session's transition is recorded in between (here
  // the close of an idle container), the replayed order differs. The log reads:
  //   {"k":"tr","sessionId":"sess-2","from":"none","to":"created",…}
  //   … {"k":"tr","sessionId":"sess-1","from":"idle","to":"stopped","reason":"session closed (exited with code 0)"}
  //   {"k":"ret","c":…,"ok":true,"v":{"session":{"id":"sess-2",…},"created":true}}
  // Divergence: "transition #4 differs", expected sess-2 none→created, actual sess-1 idle→stopped.
  // Fix idea: emit the creation transition where the `tr` record is (or record `tr` and `ret`
  // together). Fixed.
  it('keeps the order of a creation and a transition recorded before its ret', async () => {
    const dir = tmp();
    const log = join(dir, 'events.jsonl');
    const { rt, clock } = await testRuntime(join(dir, 'data'), { eventLog: log, driver: fakeDriver(), pollMs: 50 });
    const { session } = await resolveShared(rt);
    await rt.wake(session.id);
    clock.increment(20);
    await rt.whenIdle(); // the first poll finds no work: idle
    expect(rt.containerStatus(session.id)).toBe('idle');
    await Promise.all([
      resolveShared(rt, 't1'),
      rt.writeMessage(session.id, chat('m0', 'context', { trigger: 0 })),
      rt.closeSession(session.id),
    ]);
    await rt.close();
    const result = await replayLog(log, { dataDir: join(dir, 'replay') });
    expect(result.divergence).toBeNull();
    expect(result.transitions).toEqual(result.expected.transitions);
  });

  // Fixed, kept as a regression test (runtime, found by property.test.ts): closeSession is not idempotent under concurrency.
  // Two calls for one session both read the row as active before either marks it closed, so the
  // run records two `tr active→closed` records (and emits session.closed twice). The replay,
  // which re-applies closeSession from its `ret`, closes it once:
  //   "the replay made 2 transitions, the log recorded 3", expected [{ from: 'active', to: 'closed' }], actual [].
  // Fixed: a second concurrent close is a no-op (one transition, one event).
  it('closes a session once when closeSession is called twice at once', async () => {
    let closedEvents = 0;
    const run = await record(async (rt) => {
      rt.on('session.closed', () => closedEvents++);
      const { session } = await resolveShared(rt);
      await Promise.all([rt.closeSession(session.id), rt.closeSession(session.id)]);
    });
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
    expect(closedEvents).toBe(1);
  });

  describe('a delivery in flight when its session actor is dropped', () => {
    // The deliverer keeps `request` of the actor that polled. If the channel takes longer than
    // passivateMs, the quiet actor is dropped meanwhile (isQuiet() does not count deliveries in
    // flight), and the delivery's `recordDelivery` is sent to the STOPPED actor:
    //  - recorder: XState reports the event to the inspector before refusing it ("Event
    //    "mailbox.enqueue" was sent to stopped actor"), so the log gets an `ev` record after the
    //    session's `passivate` record; replay then stops at it:
    //      "event for session sess-1, which is not active", expected 'an activate record', actual 'mailbox.enqueue'.
    //  - runtime: the request never settles, so `delivered` never gets d1 (it will be delivered
    //    again after a restart) and the session's delivery chain hangs: d2, polled later by the
    //    re-activated actor, is never delivered.
    // Fixed: deliveries keep their actor alive (or re-resolve it) and only events an
    // actor accepted are logged.
    async function passivatedMidDelivery() {
      const dir = tmp();
      const log = join(dir, 'events.jsonl');
      const dataDir = join(dir, 'data');
      let release: (() => void) | undefined;
      const deliveredIds: string[] = [];
      const slow: ChannelAdapter = {
        async deliver(msg) {
          if (msg.messageId === 'd1') await new Promise<void>((resolve) => (release = resolve));
          deliveredIds.push(msg.messageId);
          return { platformMessageId: `p-${msg.messageId}` };
        },
      };
      const { rt, clock } = await testRuntime(dataDir, { eventLog: log, passivateMs: 100, channels: { slack: slow } });
      const { session } = await resolveShared(rt);
      const direct = (id: string) => ({
        id,
        kind: 'chat',
        platformId: 'C123',
        channelType: 'slack',
        threadId: null,
        content: '{}',
      });
      await rt.writeOutboundDirect(session.id, direct('d1'));
      await vi.waitFor(() => expect(release).toBeDefined()); // d1 is with the channel
      clock.increment(150); // the quiet actor is passivated
      await vi.waitFor(() => expect(rt.stats().liveSessions).toBe(0));
      release?.();
      await rt.whenIdle();
      await rt.writeOutboundDirect(session.id, direct('d2')); // re-activates, polls d1 and d2
      await rt.whenIdle();
      await rt.close();
      return { dir, log, dataDir, deliveredIds, sessionId: session.id };
    }

    // Same with closeSession instead of passivation, and an instant channel: the delivery of d2,
    // set off by the poll that follows a writeOutboundDirect, is still between that poll and its
    // recordDelivery when closeSession drops the actor (closeSession waits for the mailbox, not for
    // deliveries). Log: … {"k":"passivate","s":"sess-1"} {"k":"tr",…"to":"closed"} {"k":"ret",…}
    // {"k":"ev","s":"sess-1","e":{"type":"mailbox.enqueue","op":{…"kind":"recordDelivery"…"messageOutId":"d2"…}}}
    // → "event for session sess-1, which is not active".
    it('replays a close that overtakes a delivery', async () => {
      const run = await record(async (rt) => {
        const { session } = await resolveShared(rt);
        await rt.writeOutboundDirect(session.id, {
          id: 'd1',
          kind: 'chat',
          platformId: 'C123',
          channelType: 'slack',
          threadId: null,
          content: '{}',
        });
        await Promise.all([
          rt.writeMessage(session.id, chat('m0', 'context', { trigger: 0 })),
          rt.writeOutboundDirect(session.id, {
            id: 'd2',
            kind: 'chat',
            platformId: 'C123',
            channelType: 'slack',
            threadId: null,
            content: '{}',
          }),
        ]);
        await rt.closeSession(session.id);
      });
      const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
      expect(result.divergence).toBeNull();
    });

    it('replays the run', async () => {
      const run = await passivatedMidDelivery();
      const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
      expect(result.divergence).toBeNull();
    });

    it('records the delivery and goes on delivering (runtime)', async () => {
      const run = await passivatedMidDelivery();
      expect(run.deliveredIds).toEqual(['d1', 'd2']);
      const db = new Database(join(run.dataDir, 'v2-sessions', 'ag-main', run.sessionId, 'inbound.db'), {
        readonly: true,
      });
      try {
        expect(db.prepare('SELECT message_out_id FROM delivered ORDER BY message_out_id').pluck().all()).toEqual([
          'd1',
          'd2',
        ]);
      } finally {
        db.close();
      }
    });
  });

  // Fixed, kept as a regression test (runtime, found recording the close-reresolve fixture): closeSession of a session whose
  // container runs stops it; the stop queues a sweep (afterStop), and closeSession then drops
  // the actor, which rejects that sweep with RUNTIME_CLOSED — reported as an `error` event
  // ("session sess-1 was stopped before the operation ran") on every ordinary close. The replay
  // is not affected (the sweep is enqueued and never committed in both). Remove `.fails` once
  // closeSession lets the sweep commit (or does not queue it) before dropping the actor.
  it('closes a session with a running container without an error event', async () => {
    const errors: unknown[] = [];
    const run = await record(async (rt) => {
      rt.on('error', (e) => errors.push(String(e.error)));
      const { session } = await resolveShared(rt);
      await rt.wake(session.id);
      await rt.closeSession(session.id);
    });
    expect(errors).toEqual([]);
    const result = await replayLog(run.log, { dataDir: join(run.dir, 'replay') });
    expect(result.divergence).toBeNull();
  });
});
