/**
 * Small helpers shared by the benchmarks: statistics, markdown tables, environment facts and the
 * location of `bench/results/` (resolved from the source tree, whether run from `bench/` via tsx or
 * from `dist/bench/` after `npm run build`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Options every benchmark receives from bench/run.ts. */
export interface CommonBenchOptions {
  /** Smoke run: fewer messages, same code paths. */
  quick?: boolean;
  /** Print progress lines to stderr. */
  verbose?: boolean;
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

export function median(values: readonly number[]): number {
  return percentile(values, 50);
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

/** A GitHub-flavoured markdown table; every cell is stringified as is. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header.map(String), ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(cells[0]!), sep, ...cells.slice(1).map(line)].join('\n');
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

export function log(verbose: boolean | undefined, message: string): void {
  if (verbose !== false) process.stderr.write(`[bench] ${message}\n`);
}
