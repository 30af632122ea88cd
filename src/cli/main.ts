/**
 * `main(argv, io)`: the `session-actors` command line, importable (tests pass their own writers).
 *
 * Conventions (test/cli/conventions.test.ts):
 * 1. `--help`/`-h` (also `help [COMMAND]`) print usage to stdout and exit 0, for the program and
 *    for every command; `--version` prints the package version to stdout and exits 0.
 * 2. An unknown command, an unknown option, a missing or unknown value is one line on stderr
 *    naming it (`session-actors viz: unknown machine "foo" (expected session or registry)`), and
 *    exit code 2; nothing is written to stdout.
 * 3. Colour only when the stream is a terminal and `NO_COLOR` is not set (color.ts).
 * 4. An unexpected failure of a command is one line on stderr and exit code 1.
 */
import { colorEnabled, createStyle } from './color.js';
import { listOr, UsageError, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { processIO, type CliIO } from './io.js';
import { parseCommandArgs } from './parse-args.js';
import { commandHelp, PROGRAM, programHelp } from './usage.js';
import { packageVersion } from './version.js';

export type { CliIO, CliWriter } from './io.js';

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function unknownCommand(name: string): string {
  return `unknown command "${name}" (expected ${listOr(COMMANDS.map((c) => c.name))})`;
}

async function runCommand(command: Command, argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(command, argv);
  if (parsed.help) {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  const env = io.env ?? process.env;
  return command.run(
    { values: parsed.values, positionals: parsed.positionals },
    { io, style: createStyle(colorEnabled(io.stdout, env)), errStyle: createStyle(colorEnabled(io.stderr, env)) },
  );
}

/** Runs the command line `argv` (without `node` and the script) and resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const [first, ...rest] = argv;
  let prefix = PROGRAM;
  try {
    if (first === undefined) {
      io.stderr.write(programHelp(COMMANDS));
      return 2;
    }
    if (first === '--help' || first === '-h' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (topic === undefined) {
        io.stdout.write(programHelp(COMMANDS));
        return 0;
      }
      const command = findCommand(topic);
      if (command === undefined) throw new UsageError(unknownCommand(topic));
      io.stdout.write(commandHelp(command));
      return 0;
    }
    if (first === '--version') {
      io.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (first.startsWith('-')) throw new UsageError(`unknown option "${first}"`);
    const command = findCommand(first);
    if (command === undefined) throw new UsageError(unknownCommand(first));
    prefix = `${PROGRAM} ${command.name}`;
    return await runCommand(command, rest, io);
  } catch (error) {
    const usage = error instanceof UsageError;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`${prefix}: ${message.split('\n')[0]}\n`);
    return usage ? 2 : 1;
  }
}
