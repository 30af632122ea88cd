/**
 * Records the fixture event logs of test/eventlog/fixtures.test.ts from real runs: the bundled
 * reference agent as a child process (processDriver), real session folders, the system clock and
 * random ids. For each scenario it writes
 *
 *   test/fixtures/logs/<name>.jsonl          the event log of the run
 *   test/fixtures/logs/<name>.expected.json  { transitions, digest } taken from the live run:
 *                                            the `tr` records, and digestDataDir of the live data
 *                                            directory after close (asserted equal to the log's
 *                                            `end` digest)
 *
 * and replays the log once as a sanity check (a divergence is reported, the files are still
 * written so the failure can be studied).
 *
 *   node --import tsx scripts/record-fixture-logs.ts            # every scenario
 *   node --import tsx scripts/record-fixture-logs.ts crash-retry idle-timeout
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildContainerHandle } from '../src/container/child-handle.js';
import type { ContainerDriver } from '../src/container/driver.js';
import { processDriver } from '../src/container/process-driver.js';
import { digestDataDir } from '../src/eventlog/digest.js';
import type { Transition } from '../src/eventlog/format.js';
import { readLog } from '../src/eventlog/read-log.js';
import { replayLog } from '../src/eventlog/replay.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../src/runtime/runtime.js';
import type { ChannelAdapter, InboundMessage, OutboundDelivery, RuntimeEvents } from '../src/runtime/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'test', 'fixtures', 'logs');
const MAX_LOG_BYTES = 200 * 1024;
const WAIT_MS = 20_000;

// ---------------------------------------------------------------------------------- harness

interface Ctx {
  rt: Runtime;
  /** Every container started, in start order. */
  handles: ChildContainerHandle[];
  /** Every delivery the channel adapter accepted, in order. */
  delivered: OutboundDelivery[];
}

interface Scenario {
  what: string;
  options?: Partial<RuntimeOptions>;
  /** Runtime `error` events the scenario is known to cause (each is a reported bug). */
  knownErrors?: RegExp;
  run(ctx: Ctx): Promise<void>;
}

type Payload<E extends keyof RuntimeEvents> = Parameters<RuntimeEvents[E]>[0];

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`scenario check failed: ${message}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns true. */
async function until(what: string, probe: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The first `event` from now on whose payload satisfies `match`. */
function nextEvent<E extends keyof RuntimeEvents>(
  rt: Runtime,
  event: E,
  match: (payload: Payload<E>) => boolean = () => true,
  timeoutMs = WAIT_MS,
): Promise<Payload<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      rt.off(event, listener as never);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const listener = (payload: Payload<E>) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      rt.off(event, listener as never);
      resolve(payload);
    };
    rt.on(event, listener as never);
  });
}

function deliveredIds(ctx: Ctx): string[] {
  return ctx.delivered.map((d) => d.messageId);
}

function untilDelivered(ctx: Ctx, ...messageIds: string[]): Promise<void> {
  return until(`delivery of ${messageIds.join(', ')}`, () => messageIds.every((id) => deliveredIds(ctx).includes(id)));
}

function msg(id: string, content: unknown, extra: Partial<InboundMessage> = {}): InboundMessage {
  return { id, kind: 'chat', timestamp: new Date().toISOString(), content: JSON.stringify(content), ...extra };
}

/** Reads the container's claim on `messageId` (an observation from outside, changes nothing). */
function ackStatus(rt: Runtime, agentGroupId: string, sessionId: string, messageId: string): string | undefined {
  const db = new Database(rt.paths.outboundDbPath(agentGroupId, sessionId), { readonly: true });
  try {
    db.pragma('busy_timeout = 2000');
    const row = db.prepare('SELECT status FROM processing_ack WHERE message_id = ?').get(messageId) as
      { status: string } | undefined;
    return row?.status;
  } finally {
    db.close();
  }
}

/** The host-side row of `messageId` (read-only; changes nothing). */
function inboundRow(
  rt: Runtime,
  agentGroupId: string,
  sessionId: string,
  messageId: string,
): { status: string; tries: number } | undefined {
  const db = new Database(rt.paths.inboundDbPath(agentGroupId, sessionId), { readonly: true });
  try {
    db.pragma('busy_timeout = 2000');
    return db.prepare('SELECT status, tries FROM messages_in WHERE id = ?').get(messageId) as
      { status: string; tries: number } | undefined;
  } finally {
    db.close();
  }
}

function kill(handle: ChildContainerHandle | undefined): void {
  check(handle?.pid !== undefined, 'a container to kill');
  process.kill(handle.pid as number, 'SIGKILL');
}

async function expectRejection(what: string, promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    const actual = (error as { code?: unknown }).code;
    check(actual === code, `${what} rejected with ${String(actual)}, expected ${code}`);
    return;
  }
  throw new Error(`scenario check failed: ${what} resolved, expected ${code}`);
}

async function groups(rt: Runtime): Promise<void> {
  await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await rt.upsertMessagingGroup({ id: 'mg-slack', channelType: 'slack', platformId: 'C1', name: 'general' });
  await rt.upsertMessagingGroup({ id: 'mg-discord', channelType: 'discord', platformId: 'D1', isGroup: true });
}

async function shared(rt: Runtime, messagingGroupId: string | null = 'mg-slack'): Promise<string> {
  const { session } = await rt.resolveSession({ agentGroupId: 'ag', messagingGroupId, threadId: null, mode: 'shared' });
  return session.id;
}

// ---------------------------------------------------------------------------------- scenarios

const scenarios: Record<string, Scenario> = {
  'mode-shared': {
    what: 'shared mode: one session per (agent group, messaging group), thread ignored; two turns answered',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const a = await rt.resolveSession({
        agentGroupId: 'ag',
        messagingGroupId: 'mg-slack',
        threadId: 't1',
        mode: 'shared',
      });
      const b = await rt.resolveSession({
        agentGroupId: 'ag',
        messagingGroupId: 'mg-slack',
        threadId: 't2',
        mode: 'shared',
      });
      const c = await rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: null, threadId: null, mode: 'shared' });
      check(a.created && !b.created && a.session.id === b.session.id, 'one shared session for mg-slack');
      check(c.created && c.session.id !== a.session.id, 'a null messaging group is a key of its own');
      const sid = a.session.id;
      await rt.writeMessage(sid, msg('m1', { text: 'hello' }));
      await untilDelivered(ctx, 'm1-r1');
      await rt.writeMessage(sid, msg('m2', { text: 'again' }));
      await untilDelivered(ctx, 'm2-r1');
      check(ctx.handles.length === 1, 'the running container answered the second message');
    },
  },

  'mode-per-thread': {
    what: 'per-thread mode: one session per thread; both answered by their own containers',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const resolve = (threadId: string | null) =>
        rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg-slack', threadId, mode: 'per-thread' });
      const t1 = await resolve('t1');
      const t2 = await resolve('t2');
      const t1again = await resolve('t1');
      check(t1.created && t2.created && !t1again.created, 'per-thread keys');
      check(t1.session.id === t1again.session.id && t1.session.id !== t2.session.id, 'per-thread sessions');
      await Promise.all([
        rt.writeMessage(t1.session.id, msg('m1', { text: 'in t1' }, { threadId: 't1' })),
        rt.writeMessage(t2.session.id, msg('m1', { text: 'in t2' }, { threadId: 't2' })),
      ]);
      await until('both replies', () => ctx.delivered.length >= 2);
      check(ctx.handles.length === 2, 'one container per thread');
    },
  },

  'mode-agent-shared': {
    what: 'agent-shared mode: every messaging group (null included) converges on the anchor session',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const resolve = (messagingGroupId: string | null, threadId: string | null) =>
        rt.resolveSession({ agentGroupId: 'ag', messagingGroupId, threadId, mode: 'agent-shared' });
      const a = await resolve('mg-slack', 't1');
      const b = await resolve('mg-discord', null);
      const c = await resolve(null, 't9');
      check(a.created && !b.created && !c.created, 'one agent-shared session');
      check(a.session.id === b.session.id && b.session.id === c.session.id, 'the anchor is returned');
      const sid = a.session.id;
      await rt.writeMessage(sid, msg('m-slack', { text: 'from slack' }, { channelType: 'slack', platformId: 'C1' }));
      await rt.writeMessage(
        sid,
        msg('m-discord', { text: 'from discord' }, { channelType: 'discord', platformId: 'D1' }),
      );
      await untilDelivered(ctx, 'm-slack-r1', 'm-discord-r1');
    },
  },

  'concurrent-resolutions': {
    what: 'many concurrent resolutions of a few keys: one session per key, created once; concurrent writes',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const calls = [];
      for (let i = 0; i < 12; i++) {
        calls.push(
          rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' }),
        );
        calls.push(
          rt.resolveSession({
            agentGroupId: 'ag',
            messagingGroupId: 'mg-discord',
            threadId: `t${i % 3}`,
            mode: 'per-thread',
          }),
        );
        calls.push(
          rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg-slack', threadId: null, mode: 'agent-shared' }),
        );
      }
      const results = await Promise.all(calls);
      const created = results.filter((r) => r.created).map((r) => r.session.id);
      const sessions = new Set(results.map((r) => r.session.id));
      check(created.length === 5 && sessions.size === 5, `5 keys, 5 sessions created once (got ${created.length})`);
      // Concurrent writes to every session; two of them wake a container (two run side by side).
      const ids = [...sessions];
      const writes = await Promise.all(
        ids.map((sid, i) => rt.writeMessage(sid, msg(`m${i}`, { text: `s${i}` }, { trigger: i < 2 ? 1 : 0 }))),
      );
      check(
        writes.every((w) => !w.duplicate),
        'fresh writes',
      );
      await untilDelivered(ctx, 'm0-r1', 'm1-r1');
      check(ctx.handles.length === 2, 'two containers');
    },
  },

  attachments: {
    what: 'an attachment in (inbox), echoed back with a reply file (outbox), delivered with bytes, outbox cleared',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const sid = await shared(rt);
      const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13, 0x7f]);
      await rt.writeMessage(
        sid,
        msg('m1', {
          text: 'two files',
          attachments: [
            { name: 'blob.bin', data: bytes.toString('base64') },
            { name: 'notes.txt', data: Buffer.from('some notes\n').toString('base64') },
          ],
          replyFile: { name: 'answer.txt', text: 'the answer is 42\n' },
        }),
      );
      await untilDelivered(ctx, 'm1-r1');
      const files = ctx.delivered.find((d) => d.messageId === 'm1-r1')?.files ?? [];
      check(
        files.some((f) => f.filename === 'blob.bin' && f.data.equals(bytes)),
        'the attachment came back with the same bytes',
      );
      check(
        files.some((f) => f.filename === 'answer.txt'),
        'the reply file was delivered',
      );
      // The outbox is cleared after delivery; reading it now finds nothing.
      await until('outbox cleared', () => statSafe(join(rt.paths.sessionDir('ag', sid), 'outbox', 'm1-r1')) === null);
      const after = await rt.readOutboxFiles(sid, 'm1-r1', ['blob.bin']);
      check(after === undefined, 'outbox cleared');
      // A second message whose attachment is context only (trigger 0), then a trigger.
      await rt.writeMessage(
        sid,
        msg(
          'm2',
          { text: 'context', attachments: [{ name: 'ctx.txt', data: Buffer.from('ctx').toString('base64') }] },
          {
            trigger: 0,
          },
        ),
      );
      await rt.writeMessage(sid, msg('m3', { text: 'go' }));
      await untilDelivered(ctx, 'm3-r1');
    },
  },

  'duplicate-ids': {
    what: 'writing an existing message id again is idempotent: sequential and concurrent duplicates',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const sid = await shared(rt);
      const first = await rt.writeMessage(sid, msg('m1', { text: 'once' }));
      const again = await rt.writeMessage(sid, msg('m1', { text: 'twice?' }));
      check(!first.duplicate && again.duplicate && again.seq === first.seq, 'sequential duplicate');
      const burst = await Promise.all([
        rt.writeMessage(sid, msg('m2', { text: 'a' })),
        rt.writeMessage(sid, msg('m2', { text: 'b' })),
        rt.writeMessage(sid, msg('m2', { text: 'c' })),
      ]);
      check(burst.filter((r) => !r.duplicate).length === 1, 'one of a concurrent burst wins');
      await untilDelivered(ctx, 'm1-r1', 'm2-r1');
      const late = await rt.writeMessage(sid, msg('m1', { text: 'late' }));
      check(late.duplicate, 'duplicate after completion');
      check(deliveredIds(ctx).filter((id) => id.startsWith('m1-')).length === 1, 'answered once');
    },
  },

  'crash-retry': {
    what: 'the container is SIGKILLed mid-turn; the claim is swept and a fresh container completes the retry',
    options: { retryBackoffMs: 50 },
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const sid = await shared(rt);
      await rt.writeMessage(sid, msg('m1', { text: 'slow', sleepMs: 1200 }));
      await until('claim of m1', () => ctx.handles.length === 1 && ackStatus(rt, 'ag', sid, 'm1') === 'processing');
      const stopped = nextEvent(rt, 'container.status', (e) => e.to === 'stopped');
      kill(ctx.handles[0]);
      const e = await stopped;
      check(e.reason === 'exited on SIGKILL', `stopped on SIGKILL (got ${e.reason})`);
      await untilDelivered(ctx, 'm1-r1');
      check(ctx.handles.length === 2, 'a fresh container answered');
      await until('m1 completed', () => inboundRow(rt, 'ag', sid, 'm1')?.status === 'completed');
      check(inboundRow(rt, 'ag', sid, 'm1')?.tries === 1, 'one retry');
    },
  },

  'retries-exhausted': {
    what: 'the container is SIGKILLed twice holding the same claim; with maxTries 2 the message is failed',
    options: { retryBackoffMs: 20, maxTries: 2 },
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const sid = await shared(rt);
      await rt.writeMessage(sid, msg('m1', { text: 'never', sleepMs: 60_000 }));
      for (let attempt = 1; attempt <= 2; attempt++) {
        await until(
          `claim ${attempt} of m1`,
          () => ctx.handles.length === attempt && ackStatus(rt, 'ag', sid, 'm1') === 'processing',
        );
        const stopped = nextEvent(rt, 'container.status', (e) => e.to === 'stopped');
        kill(ctx.handles[attempt - 1]);
        await stopped;
      }
      await until('m1 failed', () => inboundRow(rt, 'ag', sid, 'm1')?.status === 'failed');
      check(inboundRow(rt, 'ag', sid, 'm1')?.tries === 2, 'two tries');
      // Nothing wakes the session again for m1; a new message still works.
      await rt.writeMessage(sid, msg('m2', { text: 'after' }));
      await untilDelivered(ctx, 'm2-r1');
      check(ctx.handles.length === 3, 'no further retry container');
    },
  },

  'idle-timeout': {
    what: 'an idle container is stopped after idleStopMs; the quiet actor is passivated; the next message re-activates it and wakes a new container',
    options: { idleStopMs: 200, passivateMs: 150 },
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const sid = await shared(rt);
      const isIdleStop = (e: Payload<'container.status'>) => e.to === 'stopped' && e.reason.includes('idle timeout');
      let stopped = nextEvent(rt, 'container.status', isIdleStop);
      await rt.writeMessage(sid, msg('m1', { text: 'one' }));
      await untilDelivered(ctx, 'm1-r1');
      await stopped;
      await until('passivation', () => rt.stats().liveSessions === 0);
      stopped = nextEvent(rt, 'container.status', isIdleStop);
      await rt.writeMessage(sid, msg('m2', { text: 'two' }));
      await untilDelivered(ctx, 'm2-r1');
      await stopped;
      check(ctx.handles.length === 2, 'two containers');
    },
  },

  'close-reresolve': {
    what: 'closeSession stops the container and closes the session; the next resolution creates a new one',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const first = await shared(rt);
      await rt.writeMessage(first, msg('m1', { text: 'before close' }));
      await untilDelivered(ctx, 'm1-r1');
      await rt.closeSession(first);
      check(rt.getSession(first)?.status === 'closed', 'closed');
      await rt.closeSession(first); // a second close is a no-op
      await expectRejection(
        'write to a closed session',
        rt.writeMessage(first, msg('m2', { text: 'x' })),
        'SESSION_CLOSED',
      );
      await expectRejection('wake of a closed session', rt.wake(first), 'SESSION_CLOSED');
      const again = await rt.resolveSession({
        agentGroupId: 'ag',
        messagingGroupId: 'mg-slack',
        threadId: null,
        mode: 'shared',
      });
      check(again.created && again.session.id !== first, 'a new session');
      await rt.writeMessage(again.session.id, msg('m1', { text: 'after close' }));
      await until('reply in the new session', () =>
        ctx.delivered.some((d) => d.sessionId === again.session.id && d.messageId === 'm1-r1'),
      );
      // Reading the old session's outbox stays allowed.
      await rt.readOutboxFiles(first, 'm1-r1', ['none.txt']);
    },
  },

  'outbound-direct': {
    what: 'writeOutboundDirect while stopped (outbound.db) and while running (central), both delivered once',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const sid = await shared(rt);
      const direct = (id: string, text: string) => ({
        id,
        kind: 'chat',
        platformId: 'C1',
        channelType: 'slack',
        threadId: null,
        content: JSON.stringify({ text }),
      });
      await rt.writeOutboundDirect(sid, direct('d-stopped', 'host says hi while stopped'));
      await untilDelivered(ctx, 'd-stopped');
      const running = nextEvent(rt, 'container.status', (e) => e.to === 'running');
      await rt.writeMessage(sid, msg('m1', { text: 'slow', sleepMs: 400 }));
      await running;
      check(rt.containerStatus(sid) === 'running', 'running');
      await rt.writeOutboundDirect(sid, direct('d-running', 'host says hi while running'));
      await rt.writeOutboundDirect(sid, direct('d-running', 'the same id again'));
      await untilDelivered(ctx, 'd-running', 'm1-r1');
      check(deliveredIds(ctx).filter((id) => id === 'd-running').length === 1, 'delivered once');
    },
  },

  'bad-input': {
    what: 'rejected calls (INVALID_ID, INVALID_INPUT, unknown ids) change nothing; the session goes on working',
    async run(ctx) {
      const { rt } = ctx;
      await groups(rt);
      const sid = await shared(rt);
      const anyRt = rt as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      const bad: [string, () => Promise<unknown>, string][] = [
        ['upsertAgentGroup id with a slash', () => rt.upsertAgentGroup({ id: 'a/b', name: 'x' }), 'INVALID_ID'],
        ['upsertAgentGroup without name', () => anyRt.upsertAgentGroup!.call(rt, { id: 'ag2' }), 'INVALID_INPUT'],
        [
          'upsertMessagingGroup without channelType',
          () => anyRt.upsertMessagingGroup!.call(rt, { id: 'mg2', platformId: 'P' }),
          'INVALID_INPUT',
        ],
        [
          'resolveSession with an empty agent group',
          () => rt.resolveSession({ agentGroupId: '', messagingGroupId: null, threadId: null, mode: 'shared' }),
          'INVALID_ID',
        ],
        [
          'resolveSession with a bogus mode',
          () =>
            anyRt.resolveSession!.call(rt, { agentGroupId: 'ag', messagingGroupId: null, threadId: null, mode: 'x' }),
          'INVALID_INPUT',
        ],
        [
          'resolveSession with an unknown messaging group',
          () => rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg-nope', threadId: null, mode: 'shared' }),
          'INVALID_INPUT',
        ],
        [
          'resolveSession of an unknown agent group',
          () => rt.resolveSession({ agentGroupId: 'nope', messagingGroupId: null, threadId: null, mode: 'shared' }),
          'UNKNOWN_AGENT_GROUP',
        ],
        ['writeMessage to ../x', () => rt.writeMessage('../x', msg('m1', { text: 'x' })), 'INVALID_ID'],
        ['writeMessage with a NUL in its id', () => rt.writeMessage(sid, msg('a\u0000b', { text: 'x' })), 'INVALID_ID'],
        [
          'writeMessage with a numeric kind',
          () => anyRt.writeMessage!.call(rt, sid, { id: 'm1', kind: 5, timestamp: 'now', content: '{}' }),
          'INVALID_INPUT',
        ],
        [
          'writeMessage with trigger 2',
          () => anyRt.writeMessage!.call(rt, sid, { ...msg('m1', { text: 'x' }), trigger: 2 }),
          'INVALID_INPUT',
        ],
        ['writeMessage without a message', () => anyRt.writeMessage!.call(rt, sid, null), 'INVALID_INPUT'],
        [
          'writeMessage to an unknown session',
          () => rt.writeMessage('sess-nope', msg('m1', { text: 'x' })),
          'UNKNOWN_SESSION',
        ],
        [
          'writeOutboundDirect with non-string content',
          () =>
            anyRt.writeOutboundDirect!.call(rt, sid, {
              id: 'd1',
              kind: 'chat',
              platformId: null,
              channelType: null,
              threadId: null,
              content: 42,
            }),
          'INVALID_INPUT',
        ],
        ['wake with an empty id', () => rt.wake(''), 'INVALID_ID'],
        ['stop with a numeric reason', () => anyRt.stop!.call(rt, sid, 42), 'INVALID_INPUT'],
        ['closeSession with a dot id', () => rt.closeSession('..'), 'INVALID_ID'],
        [
          'readOutboxFiles with filenames not a list',
          () => anyRt.readOutboxFiles!.call(rt, sid, 'm1', 'x'),
          'INVALID_INPUT',
        ],
        ['clearOutbox with an unsafe message id', () => rt.clearOutbox(sid, 'a\\b'), 'INVALID_ID'],
      ];
      for (const [what, call, code] of bad) await expectRejection(what, call(), code);
      // Accepted: an unsafe file name is skipped by the outbox reader, not refused.
      await rt.readOutboxFiles(sid, 'm1', ['../../x']);
      // Nothing was written: the first real message gets seq 1... and the session answers.
      const { seq } = await rt.writeMessage(sid, msg('m1', { text: 'still fine' }));
      check(seq === 2, `first inbound seq is 2 (got ${seq})`);
      await untilDelivered(ctx, 'm1-r1');
      await expectRejection('a bad call while running', rt.writeMessage(sid, msg('', { text: 'x' })), 'INVALID_ID');
    },
  },
};

function statSafe(path: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------- recording

function agentDriver(handles: ChildContainerHandle[], alive: Set<ChildContainerHandle>): ContainerDriver {
  const base = processDriver({ env: { AGENT_POLL_MS: '40', AGENT_IDLE_EXIT_MS: '0' }, killAfterMs: 2000 });
  return {
    async start(ctx) {
      const handle = await base.start(ctx);
      handles.push(handle);
      alive.add(handle);
      handle.onExit(() => alive.delete(handle));
      return handle;
    },
  };
}

function channel(delivered: OutboundDelivery[]): ChannelAdapter {
  return {
    async deliver(message) {
      delivered.push(message);
      return { platformMessageId: `p-${delivered.length}` };
    },
  };
}

interface Recorded {
  name: string;
  bytes: number;
  transitions: number;
  divergence: string | null;
}

async function record(name: string, scenario: Scenario): Promise<Recorded> {
  const work = mkdtempSync(join(tmpdir(), `sa-fixture-${name}-`));
  const dataDir = join(work, 'data');
  const logPath = join(work, 'run.jsonl');
  const ctx: Omit<Ctx, 'rt'> = { handles: [], delivered: [] };
  const alive = new Set<ChildContainerHandle>();
  try {
    const adapter = channel(ctx.delivered);
    const rt = await createRuntime({
      dataDir,
      driver: agentDriver(ctx.handles, alive),
      channels: { slack: adapter, discord: adapter },
      eventLog: logPath,
      pollMs: 40,
      deliveryBackoffMs: 20,
      ...scenario.options,
    });
    const errors: unknown[] = [];
    rt.on('error', (e) => errors.push(e.error));
    try {
      await scenario.run({ ...ctx, rt });
    } finally {
      await rt.close();
    }
    const unexpected = errors.filter(
      (e) => scenario.knownErrors === undefined || !scenario.knownErrors.test(String(e)),
    );
    check(unexpected.length === 0, `no runtime errors (got ${unexpected.map(String).join('; ')})`);
    if (errors.length > unexpected.length)
      console.warn(`${name}: known runtime errors: ${errors.map(String).join('; ')}`);

    const { records } = readLog(logPath);
    const end = records.at(-1);
    check(end?.k === 'end', 'the log ends with an end record');
    const digest = digestDataDir(dataDir);
    check(end.digest === digest, `the end record's digest equals digestDataDir of the live data (${digest})`);
    const transitions: Transition[] = records.flatMap((r) =>
      r.k === 'tr' ? [{ sessionId: r.sessionId, from: r.from, to: r.to, reason: r.reason }] : [],
    );

    const replayed = await replayLog(logPath, { dataDir: join(work, 'replay') });
    let divergence =
      replayed.divergence === null
        ? null
        : `line ${replayed.divergence.line}: ${replayed.divergence.what}; expected ${JSON.stringify(
            replayed.divergence.expected,
          )}, actual ${JSON.stringify(replayed.divergence.actual)}`;
    // The fixture test compares the whole list, so the order across sessions must match too.
    if (divergence === null && JSON.stringify(replayed.transitions) !== JSON.stringify(transitions)) {
      divergence = 'the replayed transitions are listed in another order than the `tr` records';
    }
    if (divergence === null && replayed.digest !== digest) divergence = 'the replayed digest differs';

    mkdirSync(OUT_DIR, { recursive: true });
    copyFileSync(logPath, join(OUT_DIR, `${name}.jsonl`));
    writeFileSync(
      join(OUT_DIR, `${name}.expected.json`),
      `${JSON.stringify({ scenario: scenario.what, transitions, digest }, null, 2)}\n`,
    );
    const bytes = statSync(logPath).size;
    check(bytes < MAX_LOG_BYTES, `the log is under ${MAX_LOG_BYTES} bytes (got ${bytes})`);
    return { name, bytes, transitions: transitions.length, divergence };
  } finally {
    // Only after a failed scenario can a container of ours still run.
    for (const h of alive) if (h.pid !== undefined) process.kill(h.pid, 'SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !(n in scenarios));
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(scenarios);
  let failed = false;
  for (const name of names) {
    try {
      const r = await record(name, scenarios[name]!);
      const status = r.divergence === null ? 'replays identically' : `REPLAY DIVERGES: ${r.divergence}`;
      console.log(`${name}: ${r.bytes} bytes, ${r.transitions} transitions, ${status}`);
      if (r.divergence !== null) failed = true;
    } catch (error) {
      failed = true;
      console.error(`${name}: FAILED`, error);
    }
  }
  process.exit(failed ? 1 : 0);
}

await main();
