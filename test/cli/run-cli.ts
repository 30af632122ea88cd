import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured output, an empty environment unless given, no terminal. */
export async function runCli(
  argv: string[],
  options: { stdoutIsTTY?: boolean; stderrIsTTY?: boolean; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: { write: (text: string) => out.push(text), isTTY: options.stdoutIsTTY ?? false },
    stderr: { write: (text: string) => err.push(text), isTTY: options.stderrIsTTY ?? false },
    env: options.env ?? {},
  };
  const code = await main(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}
