import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();
const worker = fileURLToPath(new URL('../fixtures/owner-worker.ts', import.meta.url));

function startWorker(dataDir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    exited,
    send: (text: string) => child.stdin.write(`${text}\n`),
    line: async () => (await lines.next()).value as string,
  };
}

describe('one owner per data directory', () => {
  it('two processes race to own one data directory: exactly one wins; after it is SIGKILLed the other takes over and reconciles', async () => {
    const dataDir = tmp();
    const workers = [startWorker(dataDir), startWorker(dataDir)];
    for (const w of workers) w.send('go');
    const first = await Promise.all(workers.map((w) => w.line()));
    const winners = first.filter((l) => l.startsWith('owner '));
    const losers = first.filter((l) => l.startsWith('locked '));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    const winner = workers[first.findIndex((l) => l.startsWith('owner '))]!;
    const loser = workers[first.findIndex((l) => l.startsWith('locked '))]!;
    expect(losers[0]).toContain('DATA_DIR_LOCKED');
    expect(losers[0]).toContain(`pid ${winner.child.pid}`);
    const [, sessionId, status] = winners[0]!.split(' ');
    expect(status).toBe('running');

    winner.child.kill('SIGKILL');
    await winner.exited;
    loser.send('retry');
    const took = await loser.line();
    // The winner's container was live (running, or idle after its first poll) when it died.
    expect(took).toMatch(new RegExp(`^took-over \\["${sessionId}:(running|idle)->stopped"\\] \\["stopped"\\]$`));
    await loser.exited;
  });

  it('rejects a second runtime in the same process with DATA_DIR_LOCKED, and lets the next one in after close()', async () => {
    const dataDir = tmp();
    const a = await createRuntime({ dataDir, driver: 'none' });
    await expect(createRuntime({ dataDir, driver: 'none' })).rejects.toMatchObject({
      code: 'DATA_DIR_LOCKED',
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await a.close();
    const b = await createRuntime({ dataDir, driver: 'none' });
    await b.close();
    expect(existsSync(join(dataDir, 'v2.db.owner'))).toBe(false);
  });
});
