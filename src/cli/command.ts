/**
 * What a command of the `session-actors` CLI is: its name, its options and positionals (which
 * also make its usage and `--help` text), and the function that runs it.
 *
 * Adding a command is one module under `commands/` exporting `defineCommand({...})` and one line
 * in `commands/index.ts`; adding an option is one entry in its `options`. Parsing, `--help`/`-h`,
 * unknown options, missing values and values outside `choices` are handled for every command by
 * `parse-args.ts` (test/cli/conventions.test.ts).
 */
import type { Style } from './color.js';
import type { CliIO } from './io.js';

export interface StringOption {
  type: 'string';
  /** Placeholder shown in the usage, e.g. `DIR`; for options with `choices` the choices are shown. */
  value?: string;
  /** The only accepted values; any other is refused as `unknown <option> "<value>" (expected …)`. */
  choices?: readonly string[];
  default?: string;
  short?: string;
  description: string;
}

export interface BooleanOption {
  type: 'boolean';
  short?: string;
  description: string;
}

export type OptionSpec = StringOption | BooleanOption;
export type OptionSpecs = Record<string, OptionSpec>;

export interface PositionalSpec {
  name: string;
  description: string;
  required?: boolean;
}

/** The parsed value of each option: booleans are always set, strings with a default too. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends BooleanOption ? boolean : O[K] extends { default: string } ? string : string | undefined;
};

export interface CommandContext {
  io: CliIO;
  /** Styles for stdout (colour only on a terminal and without NO_COLOR). */
  style: Style;
  /** Styles for stderr. */
  errStyle: Style;
}

export interface CommandArgs<O extends OptionSpecs> {
  values: OptionValues<O>;
  /** Positional arguments, at most as many as the command declares. */
  positionals: string[];
}

export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** One line, shown in the program's usage and atop the command's help. */
  summary: string;
  positionals?: readonly PositionalSpec[];
  options: O;
  /** Runs the command; resolves with the exit code. Throw `UsageError` for a bad argument (exit 2). */
  run(args: CommandArgs<O>, ctx: CommandContext): Promise<number>;
}

/** Declares a command with its option types inferred from `options`. */
export function defineCommand<O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command;
}

/**
 * A mistake in how the command was called (unknown option, bad value, missing argument, a path
 * that is not what it must be): printed as one line on stderr, exit code 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `a`, `a or b`, `a, b or c`: the expected values in an error message. */
export function listOr(values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')} or ${values.at(-1)!}`;
}
