/**
 * `loadMachine`: the session machine a what-if replay runs, from a module file
 * (`session-actors replay FILE --machine PATH`).
 *
 * Invariant (guarded by test/eventlog/load-machine.test.ts): the module's `sessionMachine`,
 * `machine` or `default` export, in that order, is returned only if it is a state machine; a
 * module that cannot be loaded or exports none is refused with `INVALID_INPUT` naming the path.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { RuntimeError } from '../errors.js';
import { assertMachine } from './what-if.js';

const EXPORTS = ['sessionMachine', 'machine', 'default'] as const;

function isMachine(value: unknown): value is AnyStateMachine {
  try {
    assertMachine(value);
    return true;
  } catch {
    // Not a machine: the next export is tried.
    return false;
  }
}

/** Imports the module at `path` (ESM) and returns the session machine it exports. */
export async function loadMachine(path: string): Promise<AnyStateMachine> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new RuntimeError('INVALID_INPUT', `cannot load the machine module ${path}: ${detail}`, { cause: error });
  }
  for (const name of EXPORTS) {
    const value = module[name];
    if (isMachine(value)) return value;
  }
  throw new RuntimeError(
    'INVALID_INPUT',
    `${path} exports no state machine (export it as sessionMachine, machine or default)`,
  );
}
