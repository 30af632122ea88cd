/**
 * Child process of the scale benchmark: the memory of N live session actors, measured in a
 * process of its own so that nothing else the benchmarks did is in its heap or resident set.
 *
 *   node --expose-gc --max-old-space-size=8192 dist/bench/scale-actors.js '{"dataDir":"…","count":N}'
 *
 * Prints one JSON line (`ActorMemory`) on stdout.
 *
 * Invariants:
 * 1. Every figure is read after two full garbage collections (refuses to run without --expose-gc).
 * 2. All N sessions are live when measured: each was activated through its actor
 *    (`messageCounts`), with `passivateMs` far beyond the measurement (2·10⁹ ms: a larger delay
 *    would overflow Node's timer to 1 ms), and the runtime reports N live sessions.
 * 3. The floor — a Map of one plain 4-field record per session — is measured and dropped before
 *    the runtime starts.
 */
import { performance } from 'node:perf_hooks';
import { createRuntime } from '../src/index.js';
import { loadDataset } from './dataset.js';

export interface ActorMemory {
  count: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  floorBytesPerEntry: number;
  activationMs: number;
  live: number;
  /** `close()` with every actor live (not part of any figure). */
  closeMs: number;
}

const PASSIVATE_MS = 2_000_000_000;

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('scale-actors needs node --expose-gc');
  gc();
  gc();
}

function floorBytesPerEntry(ids: readonly string[], agentGroupId: string): number {
  fullGc();
  const h0 = process.memoryUsage().heapUsed;
  const map = new Map<string, { id: string; agentGroupId: string; status: string; containerStatus: string }>();
  for (const id of ids) map.set(id, { id, agentGroupId, status: 'active', containerStatus: 'stopped' });
  fullGc();
  const h1 = process.memoryUsage().heapUsed;
  return map.size === 0 ? 0 : (h1 - h0) / map.size;
}

async function main(): Promise<void> {
  const { dataDir, count } = JSON.parse(process.argv[2] ?? '{}') as { dataDir: string; count: number };
  const ds = loadDataset(dataDir);
  if (ds.sessionIds.length < count) throw new Error(`${dataDir} holds ${ds.sessionIds.length} sessions, not ${count}`);
  const ids = ds.sessionIds.slice(0, count);
  const floor = floorBytesPerEntry(ids, ds.agentGroupId);

  const rt = await createRuntime({ dataDir, driver: 'none', passivateMs: PASSIVATE_MS });
  let result: Omit<ActorMemory, 'closeMs'>;
  let closeMs = 0;
  try {
    fullGc();
    const before = process.memoryUsage();
    const t0 = performance.now();
    const chunk = 1000;
    for (let i = 0; i < ids.length; i += chunk)
      await Promise.all(ids.slice(i, i + chunk).map((id) => rt.messageCounts(id)));
    const activationMs = performance.now() - t0;
    const live = rt.stats().liveSessions;
    if (live !== count) throw new Error(`${live} sessions live after activating ${count}`);
    fullGc();
    const after = process.memoryUsage();
    result = {
      count,
      rssBeforeBytes: before.rss,
      rssAfterBytes: after.rss,
      heapBeforeBytes: before.heapUsed,
      heapAfterBytes: after.heapUsed,
      floorBytesPerEntry: floor,
      activationMs,
      live,
    };
  } finally {
    const t1 = performance.now();
    await rt.close();
    closeMs = performance.now() - t1;
  }
  process.stdout.write(`${JSON.stringify({ ...result, closeMs } satisfies ActorMemory)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
