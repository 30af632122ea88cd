/**
 * Event-loop delay over a phase, with `perf_hooks.monitorEventLoopDelay({ resolution: 1 })`.
 *
 * Invariants:
 * 1. The histogram's timer records a block only when its next tick fires, and records nothing
 *    before its second tick: so it is enabled ~2 ms before the phase and read ~1 ms after it,
 *    and both margins are idle ~1 ms samples (`samples` says how many were taken in all).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sleep } from './util.js';

export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
}

export async function watchLoopDelay(): Promise<{ stop(): Promise<LoopDelay> }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(2);
  return {
    async stop() {
      await sleep(1);
      histogram.disable();
      const ms = (ns: number) => ns / 1e6;
      return {
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
        samples: histogram.count,
      };
    },
  };
}
