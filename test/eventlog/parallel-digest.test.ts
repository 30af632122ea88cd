/**
 * DigestThread: the final digest of a large replay, half of it read on a worker thread, equals
 * digestDataDir; a worker that is gone leaves the work to the main thread.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { digestDataDir, digestFolders } from '../../src/eventlog/digest.js';
import { DigestThread } from '../../src/eventlog/parallel-digest.js';
import { replayLog } from '../../src/eventlog/replay.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const LOG = fileURLToPath(new URL('../fixtures/logs/concurrent-resolutions.jsonl', import.meta.url));
const tmp = useTmpDir('sa-parallel-digest-');

describe('DigestThread', () => {
  it('gives digestDataDir of the directory, with or without its worker', async () => {
    const dataDir = join(tmp(), 'data');
    await replayLog(LOG, { dataDir });
    expect(digestFolders(dataDir).length).toBeGreaterThanOrEqual(4);
    const expected = digestDataDir(dataDir);

    const folders = digestFolders(dataDir).length;
    const thread = new DigestThread();
    try {
      expect(await thread.digest(dataDir)).toBe(expected);
      expect(await thread.digest(dataDir)).toBe(expected);
      // The worker read the second half of the session DBs, both times.
      expect(thread.workerFolders).toBe(2 * Math.floor(folders / 2));
    } finally {
      thread.close();
    }
    // Its worker gone, the main thread digests everything.
    expect(await thread.digest(dataDir)).toBe(expected);
    expect(thread.workerFolders).toBe(2 * Math.floor(folders / 2));

    const empty = join(tmp(), 'empty');
    mkdirSync(empty);
    const other = new DigestThread();
    try {
      expect(await other.digest(empty)).toBe(digestDataDir(empty));
    } finally {
      other.close();
    }
  });

  it('is what a replay of many sessions ends with', async () => {
    const dir = tmp();
    const log = join(dir, 'events.jsonl');
    const { rt } = await testRuntime(join(dir, 'data'), { eventLog: log });
    for (let t = 0; t < 20; t++) {
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: `t-${t}`,
        mode: 'per-thread',
      });
      await rt.writeMessage(session.id, chat(`m-${t}`, `hello ${t}`, { trigger: 0 }));
    }
    await rt.close();
    const result = await replayLog(log, { dataDir: join(dir, 'replay') });
    expect(result.divergence).toBeNull();
    expect(result.expected.digest).toBe(digestDataDir(join(dir, 'data')));
    expect(result.digest).toBe(result.expected.digest);
  });
});
