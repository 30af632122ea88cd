/**
 * Every ```ts example of docs/api.md runs, so the reference page cannot drift from the code.
 *
 * Each block is written to a module of its own, its `session-actors…` imports pointed at the
 * checkout's source (extract-examples.ts), then:
 * 1. every block (```ts and ```ts norun) is type-checked with `tsc` against the source: a renamed
 *    method, a removed option or a changed shape fails here ("type-checks every example");
 * 2. every ```ts block runs (example-runner.ts, a few processes running blocks one after another,
 *    each block in a fresh working directory and `TMPDIR`) and must finish without an error, print
 *    nothing on stderr, print on stdout only if it calls `console.log` (showing output is then its
 *    point), and leave its working directory and `TMPDIR` empty (data directories removed,
 *    `createTestRuntime` closed) — one test per block, named by its line and heading;
 * 3. nothing an example started outlives it: each runner process must exit by itself after its
 *    last block ("leaves nothing running"); when one does not, its blocks are run again, halving
 *    the set, to name the block that holds it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractExamples, packageEntries, pointAtSource, type Example } from './extract-examples.js';
import { MARK, type Job, type JobResult, type RunnerLine } from './runner-protocol.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = join(ROOT, 'docs', 'api.md');
const RUNNER = fileURLToPath(new URL('./example-runner.ts', import.meta.url));
const require = createRequire(import.meta.url);
const TSX = pathToFileURL(require.resolve('tsx')).href;
const TSC = require.resolve('typescript/lib/tsc.js');
/** How long a runner may stay alive after its last block before it counts as held open. */
const EXIT_GRACE_MS = 8_000;

const examples = extractExamples(readFileSync(PAGE, 'utf8'));
const entries = packageEntries(ROOT);
const name = (e: Example) => `docs/api.md:${e.line} (${e.heading})`;

interface Prepared {
  example: Example;
  job: Job;
}

interface RunnerOutcome {
  results: Map<number, JobResult>;
  /** Null when the runner exited by itself after its last block. */
  held: { lingering: string[] | null } | null;
  exit: { code: number | null; signal: string | null };
  stray: string;
}

let work: string;
let prepared: Prepared[];
let typeErrors: Map<number, string[]>;
let tscFailure: string | null;
const results = new Map<number, JobResult>();
const runnerFailures: string[] = [];

/** Runs `jobs` in one runner process and collects what it reports. */
function runJobs(jobs: Job[], jobsPath: string): Promise<RunnerOutcome> {
  writeFileSync(jobsPath, JSON.stringify(jobs));
  const child = spawn(process.execPath, ['--import', TSX, RUNNER, jobsPath], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const outcome: RunnerOutcome = { results: new Map(), held: null, exit: { code: null, signal: null }, stray: '' };
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let buffered = '';
  const onLine = (line: string) => {
    if (!line.startsWith(MARK)) {
      if (line !== '') outcome.stray += `${line}\n`;
      return;
    }
    const value = JSON.parse(line.slice(MARK.length)) as RunnerLine;
    if ('done' in value) {
      // The runner reports what holds it LINGER_REPORT_MS after its last block; this is the fallback.
      graceTimer = setTimeout(() => {
        outcome.held ??= { lingering: null };
        child.kill('SIGKILL');
      }, EXIT_GRACE_MS);
    } else if ('lingering' in value) {
      // Still alive seconds after its last block: something an example started holds it.
      outcome.held = { lingering: value.lingering };
      child.kill('SIGKILL');
    } else outcome.results.set(value.id, value);
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (outcome.stray += chunk));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(graceTimer);
      if (buffered !== '') onLine(buffered);
      // Exited by itself: whatever was reported open has closed after all.
      if (signal === null) outcome.held = null;
      outcome.exit = { code, signal };
      resolve(outcome);
    });
  });
}

let reruns = 0;

/**
 * The examples among `jobs` that hold a runner open, found by halving: a half whose runner exits
 * by itself is clear. Empty when only the whole set holds it (no single example does).
 */
async function heldBy(jobs: Job[]): Promise<{ job: Job; lingering: string[] | null }[]> {
  for (const job of jobs) {
    for (const dir of [job.cwd, job.tmp]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
    }
  }
  const outcome = await runJobs(jobs, join(work, `rerun-${reruns++}.json`));
  if (outcome.held === null) return [];
  if (jobs.length === 1) return [{ job: jobs[0]!, lingering: outcome.held.lingering }];
  const half = Math.ceil(jobs.length / 2);
  return [...(await heldBy(jobs.slice(0, half))), ...(await heldBy(jobs.slice(half)))];
}

function typeCheck(files: string[]): Promise<string> {
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      noEmit: true,
    },
    files,
  };
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSC, '-p', join(work, 'tsconfig.json'), '--pretty', 'false'], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.on('exit', () => resolve(output));
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'api-examples-'));
  // Examples import the package's dependencies (xstate, better-sqlite3) as a user's code would.
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
  prepared = examples.map((example, id) => {
    const dir = join(work, `example-${id}`);
    mkdirSync(join(dir, 'cwd'), { recursive: true });
    mkdirSync(join(dir, 'tmp'));
    const file = join(dir, 'example.mts');
    writeFileSync(file, pointAtSource(example.code, entries, name(example)));
    return { example, job: { id, file, cwd: join(dir, 'cwd'), tmp: join(dir, 'tmp') } };
  });

  const checked = typeCheck(prepared.map((p) => p.job.file));

  const runnable = prepared.filter((p) => p.example.runs);
  const groups: Job[][] = Array.from({ length: Math.max(1, Math.min(3, availableParallelism())) }, () => []);
  runnable.forEach((p, i) => groups[i % groups.length]!.push(p.job));
  const outcomes = await Promise.all(
    groups.filter((g) => g.length > 0).map((jobs, i) => runJobs(jobs, join(work, `jobs-${i}.json`))),
  );
  for (const [i, outcome] of outcomes.entries()) {
    for (const [id, result] of outcome.results) results.set(id, result);
    const jobs = groups[i]!;
    const missing = jobs.filter((j) => !outcome.results.has(j.id));
    if (missing.length > 0) {
      runnerFailures.push(
        `a runner stopped (exit ${outcome.exit.code ?? outcome.exit.signal}) before ${missing.length} examples:\n${outcome.stray}`,
      );
    }
    const allPassed = jobs.every((j) => outcome.results.get(j.id)?.ok === true);
    if (outcome.held !== null && allPassed) {
      const holders = (await heldBy(jobs)).map(
        ({ job, lingering }) => `${name(prepared[job.id]!.example)} (still open: ${lingering?.join(', ') ?? '?'})`,
      );
      runnerFailures.push(
        `a runner did not exit after its last example; open: ${outcome.held.lingering?.join(', ') ?? '?'}; ` +
          `held by: ${holders.length > 0 ? holders.join('; ') : 'no single example (only together)'}`,
      );
    }
  }

  const tscOutput = await checked;
  typeErrors = new Map();
  const unplaced: string[] = [];
  const byFile = new Map(prepared.map((p) => [p.job.file, p.job.id]));
  for (const line of tscOutput.split('\n')) {
    const m = /^(.+?)\((\d+),(\d+)\): error (.*)$/.exec(line);
    if (m === null) {
      // An error of no file (a bad option, a missing input) means nothing was checked.
      if (/^error TS\d+/.test(line)) unplaced.push(line);
      continue;
    }
    const id = byFile.get(join(work, m[1]!)) ?? byFile.get(m[1]!);
    // Errors in the package's own files are the source's business (and `npm run typecheck`'s).
    if (id === undefined) continue;
    const list = typeErrors.get(id) ?? [];
    list.push(`line ${m[2]}: ${m[4]}`);
    typeErrors.set(id, list);
  }
  tscFailure = unplaced.length > 0 ? unplaced.join('\n') : null;
}, 180_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('docs/api.md', () => {
  it('has examples, runnable ones among them', () => {
    expect(examples.length).toBeGreaterThan(0);
    expect(examples.some((e) => e.runs)).toBe(true);
  });

  it('type-checks every example', () => {
    expect(tscFailure).toBeNull();
    const failures = [...typeErrors].map(([id, errors]) => `${name(prepared[id]!.example)}:\n  ${errors.join('\n  ')}`);
    expect(failures, failures.join('\n\n')).toEqual([]);
  });

  it('leaves nothing running', () => {
    expect(runnerFailures, runnerFailures.join('\n\n')).toEqual([]);
  });

  const runnable = examples
    .map((example, id) => ({ example, id, line: example.line, title: example.heading.split(' › ').at(-1) }))
    .filter(({ example }) => example.runs);
  it.each(runnable)('runs the example at line $line ($title)', ({ example, id }) => {
    const result = results.get(id);
    expect(result, `${name(example)} was not run`).toBeDefined();
    const output = `stdout:\n${result!.stdout}\nstderr:\n${result!.stderr}`;
    expect(result!.error, `${name(example)} failed:\n${result!.error}\n${output}`).toBeNull();
    expect(result!.stderr, `${name(example)} wrote to stderr:\n${output}`).toBe('');
    if (!/console\.log|process\.stdout\.write/.test(example.code)) {
      expect(result!.stdout, `${name(example)} printed, though it does not mean to:\n${output}`).toBe('');
    }
    const job = prepared[id]!.job;
    const left = [job.cwd, job.tmp].flatMap((dir) =>
      readdirSync(dir)
        // tsx's compile cache, made by a child started from TypeScript source (the process driver's agent).
        .filter((f) => !(dir === job.tmp && f.startsWith('tsx-')))
        .map((f) => relative(job.cwd, join(dir, f))),
    );
    expect(left, `${name(example)} left files behind`).toEqual([]);
  });
});
