/**
 * Usage lines and `--help` texts, generated from the command declarations so they cannot drift
 * from what the parser accepts (test/cli/conventions.test.ts "help").
 */
import type { Command, OptionSpec } from './command.js';

export const PROGRAM = 'session-actors';

function optionValue(spec: OptionSpec): string {
  if (spec.type === 'boolean') return '';
  if (spec.choices !== undefined) return ` ${spec.choices.join('|')}`;
  return ` ${spec.value ?? 'VALUE'}`;
}

/** `session-actors replay FILE [--data DIR] [--verbose]` */
export function usageLine(command: Command): string {
  const parts = [PROGRAM, command.name];
  for (const p of command.positionals ?? []) parts.push(p.required === true ? p.name : `[${p.name}]`);
  for (const [name, spec] of Object.entries(command.options)) parts.push(`[--${name}${optionValue(spec)}]`);
  return parts.join(' ');
}

function describeOption(name: string, spec: OptionSpec): [string, string] {
  const flag = `${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}${optionValue(spec)}`;
  const fallback = spec.type === 'string' && spec.default !== undefined ? ` (default ${spec.default})` : '';
  return [flag, `${spec.description}${fallback}`];
}

function columns(rows: readonly [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

/** The text `session-actors COMMAND --help` prints. */
export function commandHelp(command: Command): string {
  const lines = [`usage: ${usageLine(command)}`, '', command.summary];
  const positionals = command.positionals ?? [];
  if (positionals.length > 0) {
    lines.push('', 'arguments:', ...columns(positionals.map((p) => [p.name, p.description])));
  }
  const options: [string, string][] = Object.entries(command.options).map(([name, spec]) => describeOption(name, spec));
  options.push(['-h, --help', 'show this help']);
  lines.push('', 'options:', ...columns(options));
  return `${lines.join('\n')}\n`;
}

/** The text `session-actors --help` prints. */
export function programHelp(commands: readonly Command[]): string {
  const lines = [
    `usage: ${PROGRAM} COMMAND [options]`,
    '',
    'commands:',
    ...columns(commands.map((c) => [c.name, c.summary])),
    '',
    'options:',
    ...columns([
      ['-h, --help', 'show this help (COMMAND --help: the help of a command)'],
      ['--version', 'print the version'],
    ]),
  ];
  return `${lines.join('\n')}\n`;
}
