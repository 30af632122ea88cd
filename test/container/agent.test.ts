/**
 * The reference agent as a real child process (processDriver's default command) against a real
 * session folder written with the host's own store helpers.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { ContainerExitInfo } from '../../src/container/driver.js';
import { withOutboundWhileStopped } from '../../src/store/session-db.js';
import { openFiles, useAgentSessions, waitFor } from './helpers.js';

const { session, start: startAgent } = useAgentSessions();

const content = (value: unknown): string => JSON.stringify(value);

describe('reference agent', () => {
  it('answers with odd seqs above every seq, each reply at its own address, and completes the acks', async () => {
    const s = session();
    s.write({ id: 'm1', content: content({ text: 'hello' }), channelType: 'other', platformId: 'P', threadId: null });
    s.write({ id: 'm2', content: content({ text: 'world' }) });
    s.write({ id: 'm3', content: content({ text: 'again' }) });
    expect(s.inboundSeqs()).toEqual([2, 4, 6]);

    await startAgent(s);
    const out = await waitFor(() => s.outbound().length === 3 && s.outbound(), 'three replies');

    // One batch: seqs continue above the inbound maximum (6), odd, in inbound order.
    expect(out.map((r) => [r.id, r.seq, r.in_reply_to])).toEqual([
      ['m1-r1', 7, 'm1'],
      ['m2-r1', 9, 'm2'],
      ['m3-r1', 11, 'm3'],
    ]);
    // m1 came from other/P; m2 and m3 carry no address and go to session_routing.
    expect(out.map((r) => [r.channel_type, r.platform_id, r.thread_id])).toEqual([
      ['other', 'P', null],
      ['slack', 'C123', 'T9'],
      ['slack', 'C123', 'T9'],
    ]);
    for (const r of out) {
      expect(r.kind).toBe('chat');
      expect(Number.isNaN(Date.parse(r.timestamp))).toBe(false);
    }
    expect(out[0]?.content).toBe('{"text":"echo: hello"}');
    await waitFor(() => [...s.acks().values()].every((v) => v === 'completed') && s.acks().size === 3, 'acks');
    expect(Object.fromEntries(s.acks())).toEqual({ m1: 'completed', m2: 'completed', m3: 'completed' });
  });

  it('takes the next odd seq above messages_out when the outbound side is ahead', async () => {
    const s = session();
    withOutboundWhileStopped(s.ctx.outboundDbPath, 'stopped', (db) => {
      db.prepare(
        `INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('host-1', 21, '2024-01-01T00:00:00Z', 'chat', '{}')`,
      ).run();
    });
    s.write({ id: 'm1', content: content({ text: 'a' }) });
    await startAgent(s);
    const reply = await waitFor(() => s.outbound().find((r) => r.in_reply_to === 'm1'), 'reply');
    expect(reply.seq).toBe(23);
  });

  it('without session_routing: an addressed row is answered at its address, an unaddressed one at none', async () => {
    const s = session({ routing: null });
    s.write({ id: 'm1', content: content({ text: 'a' }), channelType: 'discord', platformId: 'D1', threadId: 'th' });
    s.write({ id: 'm2', content: content({ text: 'b' }) });
    await startAgent(s);
    const out = await waitFor(() => s.outbound().length === 2 && s.outbound(), 'replies');
    expect(out.map((r) => [r.in_reply_to, r.channel_type, r.platform_id, r.thread_id])).toEqual([
      ['m1', 'discord', 'D1', 'th'],
      ['m2', null, null, null],
    ]);
  });

  it('sees a message written while it runs, without a restart', async () => {
    const s = session();
    s.write({ id: 'm1', content: content({ text: 'first' }) });
    await startAgent(s);
    await waitFor(() => s.outbound().length === 1, 'first reply');
    s.write({ id: 'm2', content: content({ text: 'second' }) });
    const second = await waitFor(() => s.outbound().find((r) => r.in_reply_to === 'm2'), 'second reply');
    expect(second.content).toBe('{"text":"echo: second"}');
    expect(second.seq).toBe(5); // inbound 2, reply 3, inbound 4, reply 5
  });

  it('claims trigger=0 rows only together with a trigger=1 row, and answers only the trigger', async () => {
    const s = session();
    s.write({ id: 'ctx', content: content({ text: 'context' }), trigger: 0 });
    const { lines } = await startAgent(s);
    // Several polls happen with only the context row pending: it must stay unclaimed.
    await waitFor(() => lines.filter((l) => l.includes('agent up')).length > 0, 'agent up');
    const hb = await waitFor(() => s.heartbeatMtimeMs(), 'heartbeat');
    await waitFor(() => (s.heartbeatMtimeMs() ?? 0) > hb, 'another poll');
    expect(s.acks().size).toBe(0);

    s.write({ id: 'go', content: content({ text: 'go' }) });
    await waitFor(() => s.acks().get('go') === 'completed', 'trigger completed');
    expect(s.acks().get('ctx')).toBe('completed');
    expect(s.outbound().map((r) => r.in_reply_to)).toEqual(['go']);
  });

  it('takes on_wake rows on its first poll only', async () => {
    const s = session();
    s.write({ id: 'wake1', content: content({ text: 'wake' }), onWake: 1 });
    await startAgent(s);
    await waitFor(() => s.acks().get('wake1') === 'completed', 'on_wake row answered on the first poll');

    s.write({ id: 'wake2', content: content({ text: 'late wake' }), onWake: 1 });
    s.write({ id: 'm', content: content({ text: 'normal' }) });
    await waitFor(() => s.acks().get('m') === 'completed', 'normal message');
    expect(s.acks().has('wake2')).toBe(false);
    expect(s.outbound().map((r) => r.in_reply_to)).toEqual(['wake1', 'm']);
  });

  it('leaves rows whose process_after is in the future, and answers past ones', async () => {
    const s = session();
    s.write({ id: 'future', content: content({ text: 'later' }), processAfter: '2999-01-01 00:00:00' });
    s.write({ id: 'past', content: content({ text: 'earlier' }), processAfter: '2000-01-01 00:00:00' });
    s.write({ id: 'iso', content: content({ text: 'iso' }), processAfter: new Date(Date.now() - 1000).toISOString() });
    await startAgent(s);
    await waitFor(() => s.acks().get('past') === 'completed' && s.acks().get('iso') === 'completed', 'due rows');
    expect(s.acks().has('future')).toBe(false);
  });

  it('copies inbound attachments back to outbox/<replyId>/ with identical bytes', async () => {
    const s = session();
    const bytes = randomBytes(64 * 1024);
    mkdirSync(join(s.ctx.sessionDir, 'inbox', 'm1'), { recursive: true });
    writeFileSync(join(s.ctx.sessionDir, 'inbox', 'm1', 'photo.png'), bytes);
    s.write({
      id: 'm1',
      content: content({
        text: 'see',
        attachments: [
          { name: 'photo.png', mimeType: 'image/png', localPath: 'inbox/m1/photo.png' },
          { name: 'gone.png', localPath: 'inbox/m1/gone.png' },
          { name: 'escape', localPath: '../../../outside' },
        ],
      }),
    });
    await startAgent(s);
    const reply = await waitFor(() => s.outbound()[0], 'reply');
    expect(reply.id).toBe('m1-r1');
    expect(reply.content).toBe('{"text":"echo: see","files":["photo.png"]}');
    expect(readFileSync(join(s.ctx.sessionDir, 'outbox', 'm1-r1', 'photo.png')).equals(bytes)).toBe(true);
  });

  it('writes replyFile to outbox/<replyId>/ and lists it in files', async () => {
    const s = session();
    s.write({
      id: 'm1',
      content: content({ text: 'file please', replyFile: { name: 'report.txt', text: 'the report' } }),
    });
    await startAgent(s);
    const reply = await waitFor(() => s.outbound()[0], 'reply');
    expect(JSON.parse(reply.content)).toEqual({ text: 'echo: file please', files: ['report.txt'] });
    expect(readFileSync(join(s.ctx.sessionDir, 'outbox', reply.id, 'report.txt'), 'utf8')).toBe('the report');
  });

  it('marks fail:true rows failed and writes no reply for them', async () => {
    const s = session();
    s.write({ id: 'bad', content: content({ text: 'x', fail: true }) });
    s.write({ id: 'good', content: content({ text: 'y' }) });
    await startAgent(s);
    await waitFor(() => s.acks().get('good') === 'completed', 'good completed');
    expect(s.acks().get('bad')).toBe('failed');
    expect(s.outbound().map((r) => r.in_reply_to)).toEqual(['good']);
  });

  it('exits 0 when idle for AGENT_IDLE_EXIT_MS', async () => {
    const s = session();
    s.write({ id: 'm1', content: content({ text: 'one' }) });
    const started = Date.now();
    const { exit } = await startAgent(s, { AGENT_IDLE_EXIT_MS: '300' });
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(s.acks().get('m1')).toBe('completed'); // work first, then the idle clock
  });

  it('SIGKILL during a turn leaves the claim processing and no reply', async () => {
    const s = session();
    s.write({ id: 'slow', content: content({ text: 'slow', sleepMs: 30_000 }) });
    const { handle, exit } = await startAgent(s);
    await waitFor(() => s.acks().get('slow') === 'processing', 'claim');
    process.kill(handle.pid ?? -1, 'SIGKILL');
    expect(await exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(s.acks().get('slow')).toBe('processing');
    expect(s.outbound()).toEqual([]);
  });

  it('stop() sends SIGTERM: the agent exits 0 promptly mid-turn, onExit reports it, also late', async () => {
    const s = session();
    s.write({ id: 'slow', content: content({ text: 'slow', sleepMs: 30_000 }) });
    const { handle, exit } = await startAgent(s);
    await waitFor(() => s.acks().get('slow') === 'processing', 'claim');
    const t0 = Date.now();
    await handle.stop('test');
    expect(Date.now() - t0).toBeLessThan(3000); // well under the 5 s kill grace and the 30 s turn
    expect(await exit).toEqual({ code: 0, signal: null });
    const late = await new Promise<ContainerExitInfo>((done) => handle.onExit(done));
    expect(late).toEqual({ code: 0, signal: null });
    expect(s.acks().get('slow')).toBe('processing');
    expect(s.outbound()).toEqual([]);
  });

  it.skipIf(!existsSync('/proc/self/fd'))('never holds inbound.db or outbound.db open while waiting', async () => {
    const s = session();
    const dbFiles = [s.ctx.inboundDbPath, s.ctx.outboundDbPath];
    // The probe can fail: a connection held open shows up in /proc/<pid>/fd.
    const probe = new Database(s.ctx.inboundDbPath, { readonly: true });
    expect(openFiles(process.pid)).toContain(s.ctx.inboundDbPath);
    probe.close();
    expect(openFiles(process.pid)).not.toContain(s.ctx.inboundDbPath);

    const { handle } = await startAgent(s, { AGENT_POLL_MS: '300' });
    const pid = handle.pid ?? -1;
    // Between polls: the heartbeat is touched after both reads closed their files, and the next
    // poll is 300 ms away, so right after a new mtime the agent is waiting.
    let last = await waitFor(() => s.heartbeatMtimeMs(), 'first heartbeat');
    for (let i = 0; i < 3; i++) {
      last = await waitFor(() => {
        const m = s.heartbeatMtimeMs();
        return m !== undefined && m > last && m;
      }, 'next poll');
      const open = openFiles(pid);
      expect(open.length).toBeGreaterThan(0);
      expect(open.filter((p) => dbFiles.includes(p))).toEqual([]);
    }
    // During a turn: claimed, sleeping, no DB open.
    s.write({ id: 'slow', content: content({ text: 'slow', sleepMs: 1500 }) });
    await waitFor(() => s.acks().get('slow') === 'processing', 'claim');
    for (let i = 0; i < 5; i++) {
      expect(openFiles(pid).filter((p) => dbFiles.includes(p))).toEqual([]);
      await new Promise((done) => setTimeout(done, 100));
    }
  });

  it('touches .heartbeat every poll (its mtime advances)', async () => {
    const s = session();
    expect(s.heartbeatMtimeMs()).toBeUndefined();
    await startAgent(s);
    const first = await waitFor(() => s.heartbeatMtimeMs(), 'heartbeat created');
    const later = await waitFor(() => {
      const m = s.heartbeatMtimeMs();
      return m !== undefined && m > first && m;
    }, 'mtime advanced');
    expect(later).toBeGreaterThan(first);
  });
});
