/**
 * bench/dataset.ts builds a data directory the runtime takes as its own: the sessions resolve to
 * the built ones, accept writes, and every session file is a file of its own.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDataset, loadDataset, threadIdFor } from '../../bench/dataset.js';
import { createPaths, createRuntime } from '../../src/index.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-dataset-');

describe('buildDataset', () => {
  it('builds sessions that resolveSession returns and writeMessage writes to', async () => {
    const dataDir = join(tmp(), 'data');
    const ds = buildDataset({ dataDir, sessions: 3 });
    expect(loadDataset(dataDir).sessionIds).toEqual(ds.sessionIds);
    const rt = await createRuntime({ dataDir, driver: 'none' });
    try {
      const { session, created } = await rt.resolveSession({
        agentGroupId: ds.agentGroupId,
        messagingGroupId: ds.messagingGroupId,
        threadId: threadIdFor(1),
        mode: 'per-thread',
      });
      expect(created).toBe(false);
      expect(session.id).toBe(ds.sessionIds[1]);
      const m = { id: 'm-1', kind: 'chat', timestamp: '2026-01-01T00:00:00.000Z', content: '{"text":"hi"}' };
      await expect(rt.writeMessage(ds.sessionIds[2]!, m)).resolves.toEqual({ seq: 2, duplicate: false });
      await expect(rt.messageCounts(ds.sessionIds[2]!)).resolves.toMatchObject({ messagesIn: 1, messagesOut: 0 });
    } finally {
      await rt.close();
    }
  });

  it('writes every session DB as a file of its own, never a hard link', () => {
    const dataDir = join(tmp(), 'data');
    const ds = buildDataset({ dataDir, sessions: 2 });
    const paths = createPaths(dataDir);
    for (const id of ds.sessionIds) {
      expect(statSync(paths.inboundDbPath(ds.agentGroupId, id)).nlink).toBe(1);
      expect(statSync(paths.outboundDbPath(ds.agentGroupId, id)).nlink).toBe(1);
    }
  });

  it('refuses a directory that already holds a v2.db', () => {
    const dataDir = join(tmp(), 'data');
    buildDataset({ dataDir, sessions: 0 });
    expect(() => buildDataset({ dataDir, sessions: 1 })).toThrow(/already holds a v2.db/);
  });
});
