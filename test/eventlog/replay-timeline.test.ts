/**
 * buildReplayTimeline: one summary per record, each session's view where it changed (taken from
 * the replay itself), the sessions, and the divergence; checked on every fixture log against the
 * recorded status changes and the replayed directory's rows.
 */
import Database from 'better-sqlite3';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/eventlog/format.js';
import { readLog } from '../../src/eventlog/read-log.js';
import {
  buildReplayTimeline,
  type ReplaySessionView,
  type ReplayTimeline,
} from '../../src/eventlog/replay-timeline.js';
import { describeRecord } from '../../src/eventlog/timeline.js';
import type { ChannelAdapter } from '../../src/runtime/types.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const LOGS = fileURLToPath(new URL('../fixtures/logs/', import.meta.url));
const names = readdirSync(LOGS)
  .filter((f) => f.endsWith('.jsonl'))
  .map((f) => f.slice(0, -'.jsonl'.length))
  .sort();
const tmp = useTmpDir('sa-replay-timeline-');

/** A session's view as of record `index`: its last change at or before it. */
function viewAt(timeline: ReplayTimeline, sessionId: string, index: number): ReplaySessionView | undefined {
  let view: ReplaySessionView | undefined;
  for (const c of timeline.changes) {
    if (c.index > index) break;
    if (c.sessionId === sessionId) view = c.view;
  }
  return view;
}

function lastView(timeline: ReplayTimeline, sessionId: string): ReplaySessionView | undefined {
  return viewAt(timeline, sessionId, Number.POSITIVE_INFINITY);
}

/** Row counts of a replayed session's inbound.db: what the digest hashes. */
function rowCounts(dataDir: string, agentGroupId: string, sessionId: string) {
  const db = new Database(join(dataDir, 'v2-sessions', agentGroupId, sessionId, 'inbound.db'), { readonly: true });
  try {
    const n = (sql: string) => db.prepare(sql).pluck().get() as number;
    return {
      messagesIn: n('SELECT COUNT(*) FROM messages_in'),
      delivered: n("SELECT COUNT(*) FROM delivered WHERE status = 'delivered'"),
      failed: n("SELECT COUNT(*) FROM delivered WHERE status = 'failed'"),
      outbound: n('SELECT COUNT(*) FROM delivered'),
    };
  } finally {
    db.close();
  }
}

describe.each(names)('the replay timeline of %s', (name) => {
  it('lists every record, shows each recorded status change at its record, and ends at the replayed rows', async () => {
    const log = join(LOGS, `${name}.jsonl`);
    const { header, records } = readLog(log);
    const dataDir = join(tmp(), 'data');
    const timeline = await buildReplayTimeline(log, { dataDir });
    expect(timeline.divergence).toBeNull();

    const methods = new Map<number, string>();
    for (const r of records) if (r.k === 'call') methods.set(r.c, r.m);
    expect(timeline.records).toHaveLength(records.length);
    timeline.records.forEach((entry, index) => {
      const record = records[index]!;
      expect(entry).toMatchObject({ index, line: index + 2, k: record.k });
      expect(entry.summary).toBe(describeRecord(record, header, { methodOf: (c) => methods.get(c) }).text);
      if (record.k === 'ev') expect(entry.sessionId).toBe(record.s);
    });

    // Changes are in record order, and each one really changes its session's view.
    const previous = new Map<string, ReplaySessionView>();
    let lastIndex = -1;
    for (const c of timeline.changes) {
      expect(c.index).toBeGreaterThanOrEqual(lastIndex);
      lastIndex = c.index;
      expect(c.view).not.toEqual(previous.get(c.sessionId));
      previous.set(c.sessionId, c.view);
    }

    // At every recorded container status change, the view shows the new status.
    const transitions = records.flatMap((r, index) =>
      r.k === 'tr' && r.to !== 'created' && r.to !== 'closed' ? [{ r, index }] : [],
    );
    for (const { r, index } of transitions) {
      const view = viewAt(timeline, r.sessionId, index);
      expect(view?.status, `line ${index + 2}`).toBe(r.to);
      expect(view?.state.container, `line ${index + 2}`).toBe(r.to === 'idle' ? 'idle' : r.to);
    }

    // The sessions the log created, with their modes; at the end, counts equal the replayed rows.
    const created = records.filter((r): r is Extract<LogRecord, { k: 'tr' }> => r.k === 'tr' && r.to === 'created');
    expect(timeline.sessions.map((s) => [s.id, s.mode])).toEqual(created.map((t) => [t.sessionId, t.reason]));
    for (const s of timeline.sessions) {
      const rows = rowCounts(dataDir, s.agentGroupId, s.id);
      const view = lastView(timeline, s.id);
      expect(view).toMatchObject({ messagesIn: rows.messagesIn, delivered: rows.delivered, failed: rows.failed });
      // Every outbound message these runs saw was delivered by the end.
      expect(view?.messagesOut).toBe(rows.outbound);
      expect(view?.queued).toBe(0);
      if (records.some((r) => r.k === 'tr' && r.sessionId === s.id && r.to === 'closed')) {
        expect(view?.status).toBe('closed');
      }
    }
  });
});

describe('buildReplayTimeline', () => {
  it('follows a burst through the mailbox, counts a failed delivery, and stops at a divergence', async () => {
    const dir = tmp();
    const log = join(dir, 'events.jsonl');
    const refusing: ChannelAdapter = {
      async deliver() {
        throw new Error('channel down');
      },
    };
    const { rt } = await testRuntime(join(dir, 'data'), {
      eventLog: log,
      channels: { slack: refusing },
      deliveryAttempts: 1,
    });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    await Promise.all([
      rt.writeMessage(session.id, chat('m1', 'one', { trigger: 0 })),
      rt.writeMessage(session.id, chat('m2', 'two', { trigger: 0 })),
      rt.writeMessage(session.id, chat('m1', 'again', { trigger: 0 })),
    ]);
    await rt.writeOutboundDirect(session.id, {
      id: 'd1',
      kind: 'chat',
      platformId: 'C123',
      channelType: 'slack',
      threadId: null,
      content: '{}',
    });
    for (let i = 0; i < 50 && (await rt.messageCounts(session.id)).failed === 0; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await rt.close();

    const { records } = readLog(log);
    const timeline = await buildReplayTimeline(log, { dataDir: join(dir, 'replay') });
    expect(timeline.divergence).toBeNull();
    expect(timeline.sessions).toEqual([
      { id: session.id, agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' },
    ]);
    const burst = records.findIndex((r) => r.k === 'ev' && r.e.type === 'mailbox.enqueue' && Array.isArray(r.e.ops));
    const committed = records.findIndex((r, i) => i > burst && r.k === 'ev' && r.e.type === 'mailbox.committed');
    // The burst carried the commit turn: three operations in flight, none written yet.
    expect(viewAt(timeline, session.id, burst)).toMatchObject({
      state: { container: 'stopped', mailbox: 'committing' },
      queued: 3,
      messagesIn: 0,
      lastEvent: 'mailbox.enqueue',
    });
    // Committed: two messages (the third was a duplicate), nothing queued.
    expect(viewAt(timeline, session.id, committed)).toMatchObject({
      state: { mailbox: 'idle' },
      queued: 0,
      messagesIn: 2,
      lastEvent: 'mailbox.committed',
    });
    expect(lastView(timeline, session.id)).toMatchObject({ messagesOut: 1, delivered: 0, failed: 1 });

    // A tampered commit: the timeline stops there and names it.
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    const tampered = lines.map((l, i) =>
      i === committed + 1 ? l.replace('"duplicate":true', '"duplicate":false') : l,
    );
    expect(tampered).not.toEqual(lines);
    const bad = join(dir, 'tampered.jsonl');
    writeFileSync(bad, `${tampered.join('\n')}\n`);
    const diverged = await buildReplayTimeline(bad, { dataDir: join(dir, 'replay-2') });
    expect(diverged.divergence).toMatchObject({
      index: committed,
      line: committed + 2,
      what: expect.stringContaining('another result'),
    });
    expect(diverged.records).toHaveLength(records.length);
    expect(diverged.changes.every((c) => c.index < committed)).toBe(true);
  });
});
