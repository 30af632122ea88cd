/**
 * Benchmark runner: `npm run bench [-- [names…] [options]]`.
 *
 *   npm run bench                         every registered bench, full size
 *   npm run bench -- --quick              smoke run (fewer messages; results go to *.quick.json)
 *   npm run bench -- --only ingest        just one (same as `npm run bench -- ingest`)
 *   npm run bench -- ingest --sessions 1,10 --messages 500 --idle 100 --keep
 *
 * Options: --quick, --only NAME[,NAME], --sessions N[,N…], --messages N, --idle N, --tmp DIR,
 * --keep (keep temp data dirs), --no-json (do not write bench/results/), --quiet, --help.
 * Exit code: 0 when every bench ran (targets missed are reported, not fatal), 1 when one threw,
 * 2 for bad arguments. `--strict` also exits 1 when a target is missed.
 */
import { runIngestBench } from './ingest.js';
import { runReplayBench } from './replay.js';
import type { BenchReport, CommonBenchOptions } from './util.js';

interface RunnerOptions extends CommonBenchOptions {
  sessionCounts?: number[];
  messagesPerSession?: number;
  idleWrites?: number;
  tmpRoot?: string;
  keepDirs?: boolean;
  writeJson: boolean;
  strict: boolean;
}

interface BenchDefinition {
  description: string;
  run(options: RunnerOptions): Promise<BenchReport>;
}

/** Every bench, by name, in the order `npm run bench` runs them. */
const BENCHES: Record<string, BenchDefinition> = {
  ingest: {
    description:
      'naive per-message inbound.db writes vs runtime.writeMessage group commit (1/10/100 sessions) + idle latency',
    run: (o) =>
      runIngestBench({
        quick: o.quick,
        verbose: o.verbose,
        sessionCounts: o.sessionCounts,
        messagesPerSession: o.messagesPerSession,
        idleWrites: o.idleWrites,
        tmpRoot: o.tmpRoot,
        keepDirs: o.keepDirs,
        ...(o.writeJson ? {} : { resultsFile: false as const }),
      }),
  },
  replay: {
    description: 'replayLog throughput (records/s) over a recorded event log of at least 100,000 records',
    run: (o) =>
      runReplayBench({
        quick: o.quick,
        verbose: o.verbose,
        tmpRoot: o.tmpRoot,
        keepDirs: o.keepDirs,
        ...(o.writeJson ? {} : { resultsFile: false as const }),
      }),
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
      case '--sessions': {
        const v = value();
        options.sessionCounts = (v ?? '').split(',').map((x) => positiveInt('--sessions', x));
        break;
      }
      case '--messages':
        options.messagesPerSession = positiveInt('--messages', value());
        break;
      case '--idle':
        options.idleWrites = positiveInt('--idle', value());
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
    .map(([name, b]) => `  ${name.padEnd(10)} ${b.description}`)
    .join('\n');
  return `usage: npm run bench -- [name…] [--only name] [--quick] [--sessions 1,10,100] [--messages N] [--idle N] [--tmp DIR] [--keep] [--no-json] [--strict] [--quiet]\n\nbenches:\n${list}\n`;
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
  for (const name of names) {
    const bench = BENCHES[name]!;
    try {
      const report = await bench.run(parsed.options);
      process.stdout.write(`\n${report.markdown}\n`);
      if (report.resultsPath !== undefined) process.stdout.write(`\nresults: ${report.resultsPath}\n`);
      if (!report.targetsMet) missed = true;
    } catch (error) {
      failed = true;
      process.stderr.write(
        `\nbench ${name} FAILED (no numbers reported): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
  }
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
