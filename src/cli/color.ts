/**
 * Colour for terminal output.
 *
 * Invariants (test/cli/conventions.test.ts "colour"):
 * 1. Colour only when the writer is a terminal (`isTTY === true`); piped or captured output
 *    carries no escape codes.
 * 2. Never when `NO_COLOR` is set to a non-empty value (https://no-color.org), terminal or not.
 */
import type { CliWriter } from './io.js';

export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
}

/** Whether output to `writer` may be coloured under `env`. */
export function colorEnabled(writer: CliWriter, env: Readonly<Record<string, string | undefined>>): boolean {
  const noColor = env.NO_COLOR;
  return writer.isTTY === true && (noColor === undefined || noColor === '');
}

const sgr = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string) => text;

/** ANSI styles when `enabled`, identity functions otherwise. */
export function createStyle(enabled: boolean): Style {
  if (!enabled) return { enabled, bold: plain, dim: plain, red: plain, green: plain, yellow: plain };
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
  };
}
