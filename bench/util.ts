/**
 * Small helpers shared by the benchmarks: statistics, markdown tables, environment facts and the
 * location of `bench/results/` (resolved from the source tree, whether run from `bench/` via tsx or
 * from `dist/bench/` after `npm run build`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figuresTable, markdownTable, targetsMet, type Figure } from './figures.js';

export { markdownTable };

/** Options every benchmark receives from bench/run.ts. */
export interface CommonBenchOptions {
  /** Smoke run: smaller sizes, same code paths; results go to `<name>.quick.json`. */
  quick?: boolean;
  /** Print progress lines to stderr. */
  verbose?: boolean;
  /** Runs of every figure (each with its own baseline). Default 3. */
  runs?: number;
  /** Parent of the temp data dirs. Default `os.tmpdir()`. */
  tmpRoot?: string;
  /** Keep the temp data dirs (their paths are printed). */
  keepDirs?: boolean;
  /** JSON file name under bench/results/, or false. Default `<name>.json` (quick: `<name>.quick.json`). */
  resultsFile?: string | false;
}

/** Thrown when a run's own checks fail: no number is reported for a broken run. */
export class BenchFailure extends Error {
  override readonly name = 'BenchFailure';
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new BenchFailure(message);
}

export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One trip through the event loop's check phase. */
export const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export const DEFAULT_RUNS = 3;

/** Rejects with a BenchFailure naming `what` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchFailure(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface BenchReport {
  /** Markdown printed by bench/run.ts. */
  markdown: string;
  /** Where the JSON results were written, if anywhere. */
  resultsPath?: string;
  /** True when every target the bench checks was met (informational: a miss is not an error). */
  targetsMet: boolean;
}

/**
 * Collects garbage before a timed phase, when node runs with `--expose-gc` (as `npm run bench`
 * does), so that a phase does not pay for the garbage of the phase before it. Garbage a phase
 * makes itself is still collected, and measured, within it. Returns whether it could collect.
 */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  gc();
  return true;
}

/** Nearest-rank percentile of `values` (0 for an empty list). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function environment(): Record<string, unknown> {
  const cpu = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    sqlite: process.versions.sqlite ?? null,
    platform: `${platform()} ${release()}`,
    cpuModel: cpu[0]?.model ?? 'unknown',
    cpuCount: cpu.length,
    totalMemMiB: Math.round(totalmem() / 1024 / 1024),
    /** 1/5/15-minute load averages when the results were written: other work skews timings. */
    loadAvg: loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
  };
}

/** The package root: the nearest ancestor of this file holding this package's package.json. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'session-actors') return dir;
      } catch {
        // not ours: keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

export function writeResults(fileName: string, data: unknown, dir = join(projectRoot(), 'bench', 'results')): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/** What every `bench/results/<name>.json` holds. */
export interface BenchResults {
  bench: string;
  quick: boolean;
  runs: number;
  env: Record<string, unknown>;
  /** How each figure was measured, in words. */
  method: Record<string, string>;
  figures: Figure[];
  /** Bench-specific raw numbers per run, for whoever wants to look closer. */
  details?: unknown;
}

/**
 * Writes the results JSON (unless `resultsFile` is false) and renders the report: a heading, the
 * figures table, then `notes` (markdown paragraphs).
 */
export function finishReport(
  opts: CommonBenchOptions,
  results: Omit<BenchResults, 'env'>,
  notes: readonly string[] = [],
): BenchReport {
  const full: BenchResults = { ...results, env: environment() };
  const fileName = opts.resultsFile ?? (results.quick ? `${results.bench}.quick.json` : `${results.bench}.json`);
  const resultsPath = fileName === false ? undefined : writeResults(fileName, full);
  const env = full.env;
  const markdown = [
    `### ${results.bench}${results.quick ? ' (quick)' : ''} — ${results.runs} run(s); node ${String(env.node)}, ${String(env.cpuModel)} × ${String(env.cpuCount)}, load ${(env.loadAvg as number[]).join(' ')}`,
    '',
    'Each cell: median of the runs (min–max). Ratio = measured ÷ baseline, run by run. "of limit": how close to the physical limit (measured ÷ limit, or limit ÷ measured for a latency floor).',
    '',
    figuresTable(results.figures),
    ...notes.flatMap((n) => ['', n]),
  ].join('\n');
  const report: BenchReport = { markdown, targetsMet: targetsMet(results.figures) };
  if (resultsPath !== undefined) report.resultsPath = resultsPath;
  return report;
}

export function log(verbose: boolean | undefined, message: string): void {
  if (verbose !== false) process.stderr.write(`[bench] ${message}\n`);
}
