/**
 * loadMachine: the session machine of a module file, for `replay --machine PATH`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sessionMachine } from '../../machines/session.machine.js';
import { loadMachine } from '../../src/eventlog/load-machine.js';
import { useTmpDir } from '../helpers/tmp.js';

const MACHINE = fileURLToPath(new URL('../../machines/session.machine.ts', import.meta.url));
const tmp = useTmpDir('sa-load-machine-');

function module(name: string, body: string): string {
  const path = join(tmp(), name);
  writeFileSync(path, `import { sessionMachine as base } from ${JSON.stringify(MACHINE)};\n${body}\n`);
  return path;
}

describe('loadMachine', () => {
  it('takes the sessionMachine, machine or default export, in that order', async () => {
    const named = module(
      'named.mjs',
      'export const sessionMachine = base.provide({ delays: { idleStopMs: 1 } });\nexport default base;',
    );
    const provided = await loadMachine(named);
    expect(provided.config).toBe(sessionMachine.config);
    expect(provided).not.toBe(sessionMachine);
    expect(provided.implementations.delays.idleStopMs).toBe(1);
    const both = module('both.mjs', 'export const machine = base;\nexport default 42;');
    expect(await loadMachine(both)).toBe(sessionMachine);
    const fallback = module('default.mjs', 'export const machine = "not one";\nexport default base;');
    expect(await loadMachine(fallback)).toBe(sessionMachine);
  });

  it('refuses a module without a machine, and one that cannot be loaded, naming the path', async () => {
    const none = module('none.mjs', 'export const sessionMachine = { provide: 1 };');
    await expect(loadMachine(none)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: `${none} exports no state machine (export it as sessionMachine, machine or default)`,
    });
    const missing = join(tmp(), 'missing.mjs');
    await expect(loadMachine(missing)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining(`cannot load the machine module ${missing}`),
    });
  });
});
