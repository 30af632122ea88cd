#!/usr/bin/env node
/**
 * The `session-actors` executable (the package's `bin`): runs `main` from ./cli/main when this
 * module is the process's entry script (`dist/src/cli.js`, also through the npm bin symlink), and
 * re-exports it for programs and tests that drive the command line themselves.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { main } from './cli/main.js';

export { main } from './cli/main.js';
export type { CliIO, CliWriter } from './cli/main.js';

/** True when this module is the script node was started with (directly or through a symlink). */
function isEntryModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    // An argv[1] that cannot be resolved is not this module.
    return false;
  }
}

if (isEntryModule()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`session-actors: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
