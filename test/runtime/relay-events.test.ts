/**
 * Status changes relayed as events (src/runtime/relay-events.ts): the central row is written
 * before `container.status` is emitted, so a listener reading the data directory sees the change.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createTestRuntime } from '../../src/testing/index.js';
import { oneSession } from '../helpers/one-session.js';

it('writes each container status to the central row before container.status reaches a listener', async () => {
  const t = await createTestRuntime();
  try {
    const session = await oneSession(t.runtime, { channelType: 'slack', platformId: 'C1' });
    const central = new Database(join(t.dataDir, 'v2.db'), { readonly: true });
    const seen: [string, string][] = [];
    t.runtime.on('container.status', (e) => {
      const row = central.prepare('SELECT container_status FROM sessions WHERE id = ?').get(e.sessionId) as {
        container_status: string;
      };
      seen.push([e.to, row.container_status]);
    });
    await t.runtime.writeMessage(session.id, t.chat('m1', 'hi'));
    await t.settle();
    await t.runtime.stop(session.id);
    await t.settle();
    central.close();
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const [to, stored] of seen) expect(stored).toBe(to);
    expect(seen.map(([to]) => to)).toContain('stopped');
  } finally {
    await t.close();
  }
});
