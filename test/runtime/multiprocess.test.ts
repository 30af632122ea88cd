import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();
const worker = fileURLToPath(new URL('../fixtures/resolve-worker.ts', import.meta.url));

interface Outcome {
  key: number;
  sessionId: string;
  created: boolean;
}

/** Starts a worker and resolves once it has opened the data dir and waits for "go". */
function startWorker(dataDir: string, keys: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, dataDir, String(keys)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.startsWith('ready\n')) resolve();
    });
  });
  const result = new Promise<Outcome[]>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker exited with ${code}`));
      resolve(JSON.parse(out.slice('ready\n'.length)) as Outcome[]);
    });
  });
  return { child, ready, result };
}

describe('registry across processes', () => {
  it('forked processes resolving the same 50 keys get one session per key', async () => {
    const dataDir = tmp();
    const { rt } = await testRuntime(dataDir);
    await rt.close();
    const workers = [startWorker(dataDir, 50), startWorker(dataDir, 50)];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin.end('go\n');
    const [a, b] = await Promise.all(workers.map((w) => w.result));
    for (let key = 0; key < 50; key++) {
      const x = a!.find((o) => o.key === key)!;
      const y = b!.find((o) => o.key === key)!;
      expect(x.sessionId).toBe(y.sessionId);
      expect(Number(x.created) + Number(y.created)).toBe(1);
    }
    const { rt: check } = await testRuntime(dataDir);
    expect(check.listSessions()).toHaveLength(50);
    await check.close();
  });
});
