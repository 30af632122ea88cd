/**
 * Time and ids: the runtime reads both only through these, so tests and replay can inject them.
 */
import { randomBytes } from 'node:crypto';

/** Every timestamp and timer of the runtime. XState's `SimulatedClock` fits as it is. */
export interface Clock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Every id the runtime mints. `next('sess')` must return a safe path segment. */
export interface IdSource {
  next(prefix: string): string;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

function randomBase36(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE36[b % 36];
  return out;
}

/** `<prefix>-<epoch-ms>-<6 base36 chars>`, the shape FORMAT.md gives session ids. */
export function randomIds(clock: Clock = systemClock): IdSource {
  return { next: (prefix) => `${prefix}-${clock.now()}-${randomBase36(6)}` };
}

/** Deterministic ids for tests: `<prefix>-1`, `<prefix>-2`, … counted per prefix. */
export function sequentialIds(): IdSource {
  const counters = new Map<string, number>();
  return {
    next(prefix) {
      const n = (counters.get(prefix) ?? 0) + 1;
      counters.set(prefix, n);
      return `${prefix}-${n}`;
    },
  };
}

export function isoAt(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
