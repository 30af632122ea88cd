/**
 * Benchmark runner: `npm run bench [-- [names…] [options]]`.
 *
 *   npm run bench                         every bench, full size, three runs of every figure
 *   npm run bench -- --quick              smoke run (small sizes; results go to *.quick.json)
 *   npm run bench -- --only ingest        just one (same as `npm run bench -- ingest`)
 *   npm run bench -- ingest --sessions 1,100 --messages 500 --runs 1 --keep
 *   npm run bench -- scale --dataset DIR  scale over a data dir from scripts/build-dataset.ts
 *
 * Options: --quick, --only NAME[,NAME], --runs N, --sessions N[,N…] (ingest), --messages N
 * (ingest), --scale-sessions N (scale), --dataset DIR (scale), --tmp DIR, --keep, --no-json,
 * --strict, --quiet, --help.
 * Every figure is printed with its baseline, ratio, limit, target and verdict, and written to
 * bench/results/<name>.json (or <name>.quick.json).
 * Exit code: 0 when every bench ran (a missed target is reported, not fatal), 1 when one threw,
 * 2 for bad arguments. `--strict` also exits 1 when a target is missed.
 */
import { performance } from 'node:perf_hooks';
import { runDiskBench } from './disk.js';
import { runE2eBench } from './e2e.js';
import { runIngestBench } from './ingest.js';
import { runPollBench } from './poll.js';
import { runReplayBench } from './replay.js';
import { runResolveBench } from './resolve.js';
import { runScaleBench } from './scale.js';
import type { BenchReport, CommonBenchOptions } from './util.js';

interface RunnerOptions extends CommonBenchOptions {
  sessionCounts?: number[];
  messagesPerSession?: number;
  scaleSessions?: number;
  dataset?: string;
  writeJson: boolean;
  strict: boolean;
}

interface BenchDefinition {
  description: string;
  run(options: RunnerOptions): Promise<BenchReport>;
}

function common(o: RunnerOptions): CommonBenchOptions {
  const c: CommonBenchOptions = {
    quick: o.quick,
    verbose: o.verbose,
    runs: o.runs,
    tmpRoot: o.tmpRoot,
    keepDirs: o.keepDirs,
  };
  if (!o.writeJson) c.resultsFile = false;
  return c;
}

/** Every bench, by name, in the order `npm run bench` runs them (the disk's limits first). */
const BENCHES: Record<string, BenchDefinition> = {
  disk: {
    description: 'physical limits: durable writes and SQLite commits/s at QD1 and QD8, raw insert ceiling',
    run: (o) => runDiskBench(common(o)),
  },
  ingest: {
    description:
      'writeMessage vs naive and hand-written group commit (1/100/1,000 sessions), loop delay, sync cost, fairness, 10,000 × 1',
    run: (o) =>
      runIngestBench({ ...common(o), sessionCounts: o.sessionCounts, messagesPerSession: o.messagesPerSession }),
  },
  poll: {
    description: 'one poll over 100 … 100,000 settled messages_out rows (and a 50 MB one): cost flat, event loop free',
    run: (o) => runPollBench(common(o)),
  },
  resolve: {
    description: 'warm resolveSession vs a plain lookup; cold creations vs a naive create',
    run: (o) => runResolveBench(common(o)),
  },
  scale: {
    description: 'createRuntime over 100,000 sessions, memory of 100,000 live actors, re-activation p99',
    run: (o) => runScaleBench({ ...common(o), sessions: o.scaleSessions, dataset: o.dataset }),
  },
  e2e: {
    description: 'write → outbound.delivered with the bundled reference agent, 10 warm sessions',
    run: (o) => runE2eBench(common(o)),
  },
  replay: {
    description: 'replayLog throughput (records/s) over a recorded 100-session log of at least 100,000 records',
    run: (o) => runReplayBench(common(o)),
  },
};

class UsageError extends Error {}

function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} needs a positive integer`);
  return n;
}

function parseArgs(argv: string[]): { names: string[]; options: RunnerOptions; help: boolean } {
  const names: string[] = [];
  const options: RunnerOptions = { writeJson: true, strict: false, verbose: true };
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq === -1 ? raw : raw.slice(0, eq);
    const value = () => (eq === -1 ? argv[++i] : raw.slice(eq + 1));
    switch (flag) {
      case '--quick':
        options.quick = true;
        break;
      case '--only': {
        const v = value();
        if (v === undefined || v === '') throw new UsageError('--only needs a bench name');
        names.push(...v.split(',').filter(Boolean));
        break;
      }
      case '--runs':
        options.runs = positiveInt('--runs', value());
        break;
      case '--sessions': {
        const v = value();
        options.sessionCounts = (v ?? '').split(',').map((x) => positiveInt('--sessions', x));
        break;
      }
      case '--messages':
        options.messagesPerSession = positiveInt('--messages', value());
        break;
      case '--scale-sessions':
        options.scaleSessions = positiveInt('--scale-sessions', value());
        break;
      case '--dataset':
        options.dataset = value();
        if (!options.dataset) throw new UsageError('--dataset needs a directory');
        break;
      case '--tmp':
        options.tmpRoot = value();
        if (!options.tmpRoot) throw new UsageError('--tmp needs a directory');
        break;
      case '--keep':
        options.keepDirs = true;
        break;
      case '--no-json':
        options.writeJson = false;
        break;
      case '--strict':
        options.strict = true;
        break;
      case '--quiet':
        options.verbose = false;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        if (raw.startsWith('-')) throw new UsageError(`unknown option ${raw}`);
        names.push(raw);
    }
  }
  for (const n of names)
    if (!(n in BENCHES)) throw new UsageError(`unknown bench "${n}" (known: ${Object.keys(BENCHES).join(', ')})`);
  return { names: [...new Set(names)], options, help };
}

function usage(): string {
  const list = Object.entries(BENCHES)
    .map(([name, b]) => `  ${name.padEnd(8)} ${b.description}`)
    .join('\n');
  return `usage: npm run bench -- [name…] [--only name] [--quick] [--runs N] [--sessions 1,100,1000] [--messages N] [--scale-sessions N] [--dataset DIR] [--tmp DIR] [--keep] [--no-json] [--strict] [--quiet]\n\nbenches:\n${list}\n`;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage()}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(usage());
    return 0;
  }
  const names = parsed.names.length > 0 ? parsed.names : Object.keys(BENCHES);
  let failed = false;
  let missed = false;
  const started = performance.now();
  for (const name of names) {
    const bench = BENCHES[name]!;
    const t0 = performance.now();
    try {
      const report = await bench.run(parsed.options);
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      process.stdout.write(`\n${report.markdown}\n\n${name}: ${seconds} s`);
      if (report.resultsPath !== undefined) process.stdout.write(`; results: ${report.resultsPath}`);
      process.stdout.write('\n');
      if (!report.targetsMet) missed = true;
    } catch (error) {
      failed = true;
      process.stderr.write(
        `\nbench ${name} FAILED (no numbers reported): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
  }
  process.stdout.write(`\nall benches: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  if (failed) return 1;
  if (missed && parsed.options.strict) return 1;
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
