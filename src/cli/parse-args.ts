/**
 * Parses one command's arguments against its declared options and positionals.
 *
 * Invariants (test/cli/conventions.test.ts):
 * 1. `--help` or `-h` anywhere before `--` wins over every other argument: the result is `help`.
 * 2. Every mistake is a `UsageError` naming what is wrong in one line: an unknown option, a string
 *    option without a value (`--data` last, or followed by another option), a value given to a
 *    boolean option, a value outside `choices`, a missing required positional, one positional too
 *    many.
 * 3. Options absent from the command line get their defaults (booleans `false`).
 */
import { parseArgs } from 'node:util';
import { listOr, UsageError, type Command, type OptionSpecs, type OptionValues } from './command.js';
import { usageLine } from './usage.js';

export type Parsed<O extends OptionSpecs> =
  { help: true } | { help: false; values: OptionValues<O>; positionals: string[] };

export function parseCommandArgs<O extends OptionSpecs>(command: Command<O>, argv: readonly string[]): Parsed<O> {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(command.options)) {
    config[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  }
  const { tokens } = parseArgs({
    args: [...argv],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  let terminated = false;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') terminated = true;
    if (!terminated && token.kind === 'option' && token.name === 'help') return { help: true };
  }

  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    values[name] = spec.type === 'boolean' ? false : spec.default;
  }
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    const spec = Object.hasOwn(command.options, token.name) ? command.options[token.name] : undefined;
    if (spec === undefined) throw new UsageError(`unknown option "${token.rawName}"`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`option ${token.rawName} takes no value`);
      values[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || (token.inlineValue === false && value.startsWith('-') && value !== '-'))
      throw new UsageError(
        `option ${token.rawName} needs a value${spec.value === undefined ? '' : ` (${spec.value})`}`,
      );
    if (spec.choices !== undefined && !spec.choices.includes(value))
      throw new UsageError(`unknown ${token.name} "${value}" (expected ${listOr(spec.choices)})`);
    values[token.name] = value;
  }

  const declared = command.positionals ?? [];
  if (positionals.length > declared.length)
    throw new UsageError(`unexpected argument "${positionals[declared.length]!}"`);
  const missing = declared.find((p, i) => p.required === true && positionals[i] === undefined);
  if (missing !== undefined) throw new UsageError(`missing ${missing.name} (usage: ${usageLine(command as Command)})`);
  return { help: false, values: values as OptionValues<O>, positionals };
}
