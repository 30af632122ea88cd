import Database from 'better-sqlite3';
import { readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chat, T0, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

function rowsOf(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id, seq, content FROM messages_in ORDER BY seq').all() as {
      id: string;
      seq: number;
      content: string;
    }[];
  } finally {
    db.close();
  }
}

function openSessionDbFds(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return ''; // the fd closed between listing and reading: not open
      }
    })
    .filter((target) => target.startsWith(dir) && /(inbound|outbound)\.db/.test(target));
}

const resolveShared = (rt: Awaited<ReturnType<typeof testRuntime>>['rt'], thread: string) =>
  rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: thread, mode: 'per-thread' });

describe('session mailbox', () => {
  it('assigns even seqs in call order and is idempotent by message id', async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await resolveShared(rt, 't');
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => rt.writeMessage(session.id, chat(`m${n}`, `hi ${n}`))),
    );
    expect(results.map((r) => r.seq)).toEqual([2, 4, 6, 8, 10]);
    const again = await rt.writeMessage(session.id, chat('m3', 'again'));
    expect(again).toEqual({ seq: 6, duplicate: true });
    const rows = rowsOf(rt.paths.inboundDbPath('ag-main', session.id));
    expect(rows.map((r) => r.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(JSON.parse(rows[2]!.content)).toEqual({ text: 'hi 3' });
    await rt.close();
  });

  it('writes 100 sessions x 200 concurrent messages, each row once, seqs even and increasing in call order', async () => {
    const { rt } = await testRuntime(tmp());
    const sessions = await Promise.all(Array.from({ length: 100 }, (_, i) => resolveShared(rt, `t${i}`)));
    const calls: Promise<{ seq: number }>[][] = sessions.map(() => []);
    for (let m = 0; m < 200; m++) {
      sessions.forEach(({ session }, s) => calls[s]!.push(rt.writeMessage(session.id, chat(`m${m}`, `${s}/${m}`))));
    }
    const seqs = await Promise.all(calls.map((c) => Promise.all(c)));
    for (const [s, { session }] of sessions.entries()) {
      expect(seqs[s]!.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, m) => 2 * (m + 1)));
      const rows = rowsOf(rt.paths.inboundDbPath('ag-main', session.id));
      expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 200 }, (_, m) => `m${m}`));
    }
    await rt.close();
  });

  it('commits a write to an idle session inside its enqueue, and makes sessions beyond the free commit slots wait for a turn', async () => {
    const events: { actor: string; type: string }[] = [];
    const { rt } = await testRuntime(tmp(), {
      commitThreads: 2,
      inspect: (e) => {
        const actor = (e.actorRef as { id?: string }).id ?? '';
        if (e.type === '@xstate.event' && actor.startsWith('session:') && e.event.type !== 'xstate.init') {
          events.push({ actor: actor.slice('session:'.length), type: e.event.type });
        }
      },
    });
    const a = (await resolveShared(rt, 'ta')).session;
    const b = (await resolveShared(rt, 'tb')).session;
    const c = (await resolveShared(rt, 'tc')).session;
    await rt.whenIdle();
    events.length = 0;
    await rt.writeMessage(a.id, chat('solo', 'x'));
    // Idle with a free slot: enqueue (carrying the turn), then the commit's answer; no wait for a turn.
    expect(events.map((e) => e.type)).toEqual(['mailbox.enqueue', 'mailbox.committed']);

    await rt.whenIdle();
    events.length = 0;
    await Promise.all([a, b, c].map((s, i) => rt.writeMessage(s.id, chat(`burst-${i}`, 'x'))));
    const turnsOf = (id: string) => events.filter((e) => e.actor === id && e.type === 'mailbox.turn').length;
    const commitsOf = (id: string) => events.filter((e) => e.actor === id && e.type === 'mailbox.committed').length;
    // Two slots: the first two sessions of the burst commit at once; the third waits for a turn.
    expect([a, b, c].map((s) => turnsOf(s.id))).toEqual([0, 0, 1]);
    expect([a, b, c].map((s) => commitsOf(s.id))).toEqual([1, 1, 1]);
    await rt.close();
  });

  it('settles each write only after its row is committed and the DB closed', async () => {
    const dataDir = tmp();
    const { rt } = await testRuntime(dataDir);
    const { session } = await resolveShared(rt, 't');
    const path = rt.paths.inboundDbPath('ag-main', session.id);
    const seen: number[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        rt.writeMessage(session.id, chat(`m${n}`, 'x')).then(() => {
          seen.push(rowsOf(path).length);
          expect(openSessionDbFds(dataDir)).toEqual([]);
        }),
      ),
    );
    expect(seen.every((count) => count === 3)).toBe(true);
    await rt.close();
  });

  it('a failed operation in the middle of a batch leaves the others committed', async () => {
    const { rt } = await testRuntime(tmp(), { limits: { maxAttachmentBytes: 10 } });
    const { session } = await resolveShared(rt, 't');
    const big = JSON.stringify({
      text: 'big',
      attachments: [{ name: 'a.bin', data: Buffer.alloc(64).toString('base64') }],
    });
    const outcomes = await Promise.allSettled([
      rt.writeMessage(session.id, chat('m1', 'one')),
      rt.writeMessage(session.id, { ...chat('m2', ''), content: big }),
      rt.writeMessage(session.id, chat('m3', 'three')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'RuntimeError', code: 'TOO_LARGE' });
    expect(rowsOf(rt.paths.inboundDbPath('ag-main', session.id)).map((r) => [r.id, r.seq])).toEqual([
      ['m1', 2],
      ['m3', 4],
    ]);
    // The actor keeps serving after the failure.
    await expect(rt.writeMessage(session.id, chat('m4', 'four'))).resolves.toEqual({ seq: 6, duplicate: false });
    await rt.close();
  });

  it('emits message.written for every write, duplicates flagged', async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await resolveShared(rt, 't');
    const events: unknown[] = [];
    rt.on('message.written', (e) => events.push(e));
    await rt.writeMessage(session.id, chat('m1', 'x'));
    await rt.writeMessage(session.id, chat('m1', 'x'));
    expect(events).toEqual([
      { sessionId: session.id, id: 'm1', seq: 2, duplicate: false },
      { sessionId: session.id, id: 'm1', seq: 2, duplicate: true },
    ]);
    await rt.close();
  });

  it('coalesces last_active: central updates per burst, not per message', async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await resolveShared(rt, 't');
    expect(rt.getSession(session.id)?.lastActive).toBeNull();
    const before = rt.stats();
    await Promise.all(Array.from({ length: 300 }, (_, i) => rt.writeMessage(session.id, chat(`m${i}`, 'x'))));
    await rt.whenIdle();
    const after = rt.stats();
    expect(after.operations - before.operations).toBe(300);
    expect(after.commits - before.commits).toBeLessThanOrEqual(3);
    expect(after.lastActiveFlushes - before.lastActiveFlushes).toBeLessThanOrEqual(after.commits - before.commits);
    expect(after.lastActiveFlushes - before.lastActiveFlushes).toBeGreaterThanOrEqual(1);
    expect(rt.getSession(session.id)?.lastActive).toBe(new Date(T0).toISOString());
    await rt.close();
  });
});
