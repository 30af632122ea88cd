/**
 * Runs documentation examples one after another in this process (started by
 * test/docs/api-examples.test.ts as `node --import tsx example-runner.ts JOBS`), so the
 * package's module graph is loaded once for many examples instead of once per example.
 *
 * Invariants (guarded by test/docs/api-examples.test.ts):
 * 1. Each example runs as its own module, with the working directory and `TMPDIR` set to folders
 *    of its own, and its output (`process.stdout` / `process.stderr`, so also `console`) captured
 *    apart from every other example's.
 * 2. An example fails when importing it rejects (a throw or a rejected top-level await), when an
 *    unhandled rejection or uncaught exception happens while it runs, or when it does not finish
 *    within `EXAMPLE_TIMEOUT_MS`.
 * 3. Results go to the real stdout as lines `MARK + JSON`, one per example, then `{"done":true}`;
 *    the process is then left to exit by itself, so an example that left a handle open (a runtime
 *    not closed, a server, a child) keeps it alive and the caller notices. A report of what is
 *    still open follows after `LINGER_REPORT_MS`, on a timer that does not itself hold the
 *    process.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { MARK, type Job, type JobResult, type RunnerLine } from './runner-protocol.js';

const EXAMPLE_TIMEOUT_MS = 30_000;
const LINGER_REPORT_MS = 3_000;

const [jobsPath] = process.argv.slice(2);
if (jobsPath === undefined) throw new Error('usage: example-runner JOBS');
const jobs = JSON.parse(readFileSync(jobsPath, 'utf8')) as Job[];

const out = { stdout: '', stderr: '' };
const realWrite = {
  stdout: process.stdout.write.bind(process.stdout),
  stderr: process.stderr.write.bind(process.stderr),
};
for (const stream of ['stdout', 'stderr'] as const) {
  process[stream].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    out[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof process.stdout.write;
}

const report = (value: RunnerLine): void => void realWrite.stdout(`${MARK}${JSON.stringify(value)}\n`);

const describe = (error: unknown): string =>
  error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : `thrown: ${String(error)}`;

let stray: string[] = [];
process.on('unhandledRejection', (reason) => stray.push(`unhandled rejection: ${describe(reason)}`));
process.on('uncaughtException', (error) => stray.push(`uncaught exception: ${describe(error)}`));

for (const job of jobs) {
  out.stdout = '';
  out.stderr = '';
  stray = [];
  process.chdir(job.cwd);
  process.env.TMPDIR = job.tmp;
  const started = performance.now();
  let error: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      import(pathToFileURL(job.file).href),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`did not finish within ${EXAMPLE_TIMEOUT_MS} ms`)),
          EXAMPLE_TIMEOUT_MS,
        );
      }),
    ]);
    // Let what the example left for the next turns (a rejection nobody awaited) surface here.
    await new Promise((resolve) => setImmediate(resolve));
  } catch (e) {
    error = describe(e);
  } finally {
    clearTimeout(timer);
  }
  if (error === null && stray.length > 0) error = stray.join('\n');
  const result: JobResult = {
    id: job.id,
    ok: error === null,
    error,
    stdout: out.stdout,
    stderr: out.stderr,
    ms: Math.round(performance.now() - started),
  };
  report(result);
}

report({ done: true });
process.stdout.write = realWrite.stdout;
process.stderr.write = realWrite.stderr;
setTimeout(() => report({ lingering: process.getActiveResourcesInfo() }), LINGER_REPORT_MS).unref();
