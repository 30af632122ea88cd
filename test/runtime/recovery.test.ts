/**
 * Session folders without a central row that no creation intent announces (src/runtime/recovery.ts
 * invariant 2): settled after createRuntime resolved, beside the runtime's own work. What happens
 * to one such folder (removed when empty, moved to .orphaned with its rows) is tested in
 * test/crash/create-crash.test.ts ("start-up cleanup of session folders without a central row").
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

/** An owned data directory with agent group ag-main, closed again. */
async function dataDirWithGroup(): Promise<string> {
  const dataDir = tmp();
  const { rt } = await testRuntime(dataDir);
  await rt.close();
  return dataDir;
}

function plantStrays(dataDir: string, count: number): string {
  const group = join(dataDir, 'v2-sessions', 'ag-main');
  for (let i = 0; i < count; i++) mkdirSync(join(group, `stray-${i}`), { recursive: true });
  return group;
}

describe('session folders without a central row', () => {
  it('settles 5,000 stray folders after createRuntime resolved, beside new sessions', async () => {
    const dataDir = await dataDirWithGroup();
    const group = plantStrays(dataDir, 5000);
    const { rt } = await testRuntime(dataDir);
    // The check runs in steps of 2,000 after start-up: most strays are there when the runtime serves.
    expect(readdirSync(group).length).toBeGreaterThan(2500);
    const created: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: `t${i}`,
        mode: 'per-thread',
      });
      created.push(session.id);
    }
    await rt.whenIdle();
    expect(readdirSync(group).sort()).toEqual([...created].sort());
    for (const id of created) expect(existsSync(join(group, id, 'inbound.db'))).toBe(true);
    await rt.close();
  });

  it('close() during the check stops it and settles; the next owner finishes it', async () => {
    const dataDir = await dataDirWithGroup();
    const group = plantStrays(dataDir, 10_000); // five steps of the check
    const first = await testRuntime(dataDir);
    await first.rt.close();
    const left = readdirSync(group).length;
    expect(left).toBeGreaterThan(0); // stopped before the end
    const second = await testRuntime(dataDir);
    await second.rt.whenIdle();
    expect(readdirSync(group)).toEqual([]);
    await second.rt.close();
  });
});
