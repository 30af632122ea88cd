/**
 * Where the command line reads its environment and writes its output. `main(argv, io)` takes
 * one of these, so tests pass their own writers and environment.
 */

/** A place the CLI writes to; `isTTY` decides colour and the replay progress bar. */
export interface CliWriter {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface CliIO {
  stdout: CliWriter;
  stderr: CliWriter;
  /** The environment consulted for `NO_COLOR`; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The process's own streams and environment. */
export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
