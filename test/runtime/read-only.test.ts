import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/runtime.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, T0, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';
import { snapshotTree } from '../helpers/tree.js';

const tmp = useTmpDir();
const flush = () => new Promise((resolve) => setImmediate(resolve));
/** SQLite's own files for reading the WAL central DB are the one thing an observer may add. */
const sqliteOwn = (rel: string) => rel === 'v2.db-wal' || rel === 'v2.db-shm';

async function populated(dataDir: string) {
  const { rt } = await testRuntime(dataDir);
  const { session } = await rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId: null,
    mode: 'shared',
  });
  await rt.writeMessage(session.id, chat('m1', 'hello'));
  await rt.close();
  return session.id;
}

describe('a read-only observer', () => {
  it('reads sessions, modes, counts and statuses, rejects every write with READ_ONLY, and changes nothing on disk', async () => {
    const dataDir = tmp();
    const sessionId = await populated(dataDir);
    const before = snapshotTree(dataDir, sqliteOwn);
    const rt = await createRuntime({ dataDir, readOnly: true });
    expect(rt.listSessions().map((s) => s.id)).toEqual([sessionId]);
    expect(rt.getSession(sessionId)?.containerStatus).toBe('stopped');
    expect(rt.sessionMode(sessionId)).toBe('shared');
    expect(rt.containerStatus(sessionId)).toBe('stopped');
    await expect(rt.messageCounts(sessionId)).resolves.toEqual({
      messagesIn: 1,
      messagesOut: 0,
      delivered: 0,
      failed: 0,
    });
    const writes: [string, Promise<unknown>][] = [
      ['upsertAgentGroup', rt.upsertAgentGroup({ id: 'ag-2', name: 'Two' })],
      ['upsertMessagingGroup', rt.upsertMessagingGroup({ id: 'mg-2', channelType: 'x', platformId: 'y' })],
      [
        'resolveSession',
        rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: null, threadId: null, mode: 'shared' }),
      ],
      ['writeMessage', rt.writeMessage(sessionId, chat('m2', 'no'))],
      ['writeSystemResponse', rt.writeSystemResponse(sessionId, 'q', 'ok', null)],
      [
        'writeOutboundDirect',
        rt.writeOutboundDirect(sessionId, {
          id: 'o1',
          kind: 'chat',
          platformId: null,
          channelType: null,
          threadId: null,
          content: '{}',
        }),
      ],
      ['writeSessionRouting', rt.writeSessionRouting(sessionId)],
      ['clearOutbox', rt.clearOutbox(sessionId, 'o1')],
      ['wake', rt.wake(sessionId)],
      ['stop', rt.stop(sessionId)],
      ['closeSession', rt.closeSession(sessionId)],
    ];
    for (const [name, p] of writes) await expect(p, name).rejects.toMatchObject({ code: 'READ_ONLY' });
    await rt.close();
    expect(snapshotTree(dataDir, sqliteOwn)).toEqual(before);
  });

  it('refuses a directory with no v2.db and creates nothing', async () => {
    const missing = join(tmp(), 'nothing-here');
    await expect(createRuntime({ dataDir: missing, readOnly: true })).rejects.toMatchObject({ code: 'STORAGE' });
    expect(existsSync(missing)).toBe(false);
    const empty = join(tmp(), 'empty');
    mkdirSync(empty);
    await expect(createRuntime({ dataDir: empty, readOnly: true })).rejects.toMatchObject({ code: 'STORAGE' });
    expect(snapshotTree(empty).size).toBe(0);
  });

  it('never takes the data directory: the owner keeps working beside it, and it sees the owner create, run and close sessions', async () => {
    const dataDir = tmp();
    const driver = fakeDriver();
    const { rt: owner } = await testRuntime(dataDir, { driver, pollMs: 1_000_000 });
    const clock = new SimulatedClock();
    clock.set(T0);
    const observer = await createRuntime({ dataDir, readOnly: true, clock, pollMs: 100 });
    const seen: string[] = [];
    observer.on('session.created', (e) => seen.push(`created ${e.session.id}`));
    observer.on('container.status', (e) => seen.push(`status ${e.sessionId} ${e.from}->${e.to}`));
    observer.on('session.closed', (e) => seen.push(`closed ${e.sessionId}`));

    const { session } = await owner.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    clock.increment(100);
    expect(seen).toEqual([`created ${session.id}`]);
    await owner.wake(session.id);
    clock.increment(100);
    expect(seen.at(-1)).toMatch(new RegExp(`^status ${session.id} stopped->(running|idle)$`));
    await owner.closeSession(session.id);
    await flush();
    clock.increment(100);
    expect(seen.at(-1)).toBe(`closed ${session.id}`);
    expect(observer.getSession(session.id)?.status).toBe('closed');
    await observer.close();
    await owner.close();
  });
});
