/**
 * `session-actors replay FILE --machine PATH`: the what-if report after the replay; exit 0 when no
 * session departs, 1 when one does, 2 when the module holds no machine.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli.js';
import { useTmpDir } from '../helpers/tmp.js';

const LOG = fileURLToPath(new URL('../fixtures/logs/idle-timeout.jsonl', import.meta.url));
const MACHINE = fileURLToPath(new URL('../../machines/session.machine.ts', import.meta.url));
const tmp = useTmpDir('sa-what-if-cli-');

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text), isTTY: false },
  };
  const code = await main(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function machineModule(body: string): string {
  const path = join(tmp(), 'machine.mjs');
  writeFileSync(path, `import { sessionMachine as base } from ${JSON.stringify(MACHINE)};\n${body}\n`);
  return path;
}

describe('session-actors replay --machine', () => {
  it('reports no departure for the recorded machine (exit 0)', async () => {
    const path = machineModule('export default base;');
    const { code, stdout, stderr } = await run(['replay', LOG, '--machine', path]);
    expect(stderr).toBe('');
    expect(stdout).toContain(
      `what-if replay of ${path}: no session departs from the recorded behaviour (1 session compared)`,
    );
    expect(stdout).toContain('replay matches the recorded run');
    expect(code).toBe(0);
  });

  it('reports where a changed machine departs (exit 1)', async () => {
    const path = machineModule('export const sessionMachine = base.provide({ delays: { idleStopMs: 5000 } });');
    const { code, stdout } = await run(['replay', LOG, '--machine', path]);
    expect(stdout).toContain(`what-if replay of ${path}: 1 of 1 session departs from the recorded behaviour`);
    expect(stdout).toMatch(/ {2}sess…(\w{4}) {2}line \d+: idle timeout sess…\1\n/);
    expect(stdout).toMatch(/the recorded timer xstate\.after\.idleStopMs\.session\.container\.idle fired at/);
    expect(code).toBe(1);
  });

  it('reports the departure of examples/shorter-idle.mjs, the README example, before the recorded timeout', async () => {
    // The example imports the published package; here the same module body runs on the source.
    const example = readFileSync(new URL('../../examples/shorter-idle.mjs', import.meta.url), 'utf8');
    expect(example).toContain("from 'session-actors'");
    const path = join(tmp(), 'shorter-idle.mjs');
    writeFileSync(path, example.replace("'session-actors'", JSON.stringify(MACHINE)));
    const { code, stdout } = await run(['replay', LOG, '--machine', path]);
    expect(stdout).toContain(`what-if replay of ${path}: 1 of 1 session departs from the recorded behaviour`);
    expect(stdout).toMatch(
      /the new machine's timer xstate\.after\.idleStopMs\.session\.container\.idle \(after 100 ms\) would fire before this record/,
    );
    expect(code).toBe(1);
  });

  it('refuses a module without a machine (exit 2)', async () => {
    const path = machineModule('export const nothing = 1;');
    const { code, stderr } = await run(['replay', LOG, '--machine', path]);
    expect(stderr).toContain(`${path} exports no state machine`);
    expect(code).toBe(2);
  });
});
