/**
 * What test/docs/api-examples.test.ts and test/docs/example-runner.ts exchange: the jobs file the
 * runner reads, and the lines it writes back on its stdout (`MARK` followed by one JSON value).
 */

/** One example to run. */
export interface Job {
  id: number;
  /** The example's module. */
  file: string;
  /** Its working directory. */
  cwd: string;
  /** Its `TMPDIR`. */
  tmp: string;
}

/** How one example went. */
export interface JobResult {
  id: number;
  ok: boolean;
  error: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A line of the runner's stdout: a result, the end of the jobs, or what still holds the process. */
export type RunnerLine = JobResult | { done: true } | { lingering: string[] };

/** Prefix of the lines the runner reports on; anything else on its stdout is not from it. */
export const MARK = '@@example-runner ';
