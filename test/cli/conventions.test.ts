import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { colorEnabled, createStyle } from '../../src/cli/color.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { useTmpDir } from '../helpers/tmp.js';
import { runCli } from './run-cli.js';

const tmp = useTmpDir('sa-cli-conv-');
const root = fileURLToPath(new URL('../../', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const ESC = '\u001b[';

/** `a or b`, `a, b or c` (written out here, independent of the CLI's own helper). */
const or = (names: readonly string[]) =>
  names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;

/** Asserts the run failed as a usage error: exit 2, nothing on stdout, exactly `line` on stderr. */
function expectUsageError(run: { code: number; stdout: string; stderr: string }, line: string): void {
  expect(run).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
}

describe('help', () => {
  it.each(['--help', '-h', 'help'])('session-actors %s prints every command to stdout and exits 0', async (flag) => {
    const r = await runCli([flag]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage: session-actors COMMAND/);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`\\n  ${c.name} +${c.summary.slice(0, 20)}`));
    expect(r.stdout).toContain('--version');
  });

  it('prints the usage to stderr and exits 2 when no command is given', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^usage: session-actors COMMAND/);
  });

  for (const command of COMMANDS) {
    it.each([['--help'], ['-h'], ['help-topic']])(
      `${command.name} %s prints its usage and options to stdout, exit 0`,
      async (how) => {
        const argv = how === 'help-topic' ? ['help', command.name] : [command.name, how];
        const r = await runCli(argv);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout).toMatch(new RegExp(`^usage: session-actors ${command.name}`));
        expect(r.stdout).toContain(command.summary);
        for (const name of Object.keys(command.options))
          expect(r.stdout).toMatch(new RegExp(`--${name}\\b[^\\n]* {2}\\S`));
        for (const p of command.positionals ?? []) expect(r.stdout).toContain(p.name);
        expect(r.stdout).toMatch(/-h, --help +show this help/);
      },
    );
  }

  it('--help wins over every other argument, valid or not, and runs nothing', async () => {
    const data = join(tmp(), 'never-created');
    for (const argv of [
      ['demo', '--data', data, '--help'],
      ['viz', '--machine', 'foo', '-h'],
      ['status', '--bogus', '--help'],
      ['replay', '--help'],
    ]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^usage: /);
    }
    expect(existsSync(data)).toBe(false);
  });

  it('shows choices and defaults in the help of viz', async () => {
    const r = await runCli(['viz', '--help']);
    expect(r.stdout).toContain('usage: session-actors viz [--format mermaid|json|svg] [--machine session|registry]');
    expect(r.stdout).toMatch(/--format mermaid\|json\|svg +output format \(default mermaid\)/);
  });
});

describe('version', () => {
  it('--version prints the version of package.json to stdout, exit 0', async () => {
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('usage errors: one line on stderr naming the culprit, exit 2', () => {
  it('an unknown command', async () => {
    const expected = `(expected ${or(COMMANDS.map((c) => c.name))})`;
    expectUsageError(await runCli(['frobnicate']), `session-actors: unknown command "frobnicate" ${expected}`);
    expectUsageError(await runCli(['help', 'frobnicate']), `session-actors: unknown command "frobnicate" ${expected}`);
  });

  it('an unknown option, long or short, before or after the command', async () => {
    expectUsageError(await runCli(['--frob']), 'session-actors: unknown option "--frob"');
    expectUsageError(await runCli(['viz', '--colour']), 'session-actors viz: unknown option "--colour"');
    expectUsageError(await runCli(['status', '-x']), 'session-actors status: unknown option "-x"');
    expectUsageError(await runCli(['demo', '--verbose']), 'session-actors demo: unknown option "--verbose"');
  });

  it('a value outside the choices of an option', async () => {
    expectUsageError(
      await runCli(['viz', '--machine', 'foo']),
      'session-actors viz: unknown machine "foo" (expected session or registry)',
    );
    const format = COMMANDS.find((c) => c.name === 'viz')!.options.format!;
    const choices = format.type === 'string' ? (format.choices ?? []) : [];
    expect(choices).toEqual(expect.arrayContaining(['mermaid', 'json']));
    expectUsageError(
      await runCli(['viz', '--format=bogus']),
      `session-actors viz: unknown format "bogus" (expected ${or(choices)})`,
    );
  });

  it('a missing value, a value given to a flag, a missing or extra argument', async () => {
    expectUsageError(await runCli(['status', '--data']), 'session-actors status: option --data needs a value (DIR)');
    expectUsageError(
      await runCli(['status', '--data', '--json']),
      'session-actors status: option --data needs a value (DIR)',
    );
    expectUsageError(await runCli(['status', '--json=yes']), 'session-actors status: option --json takes no value');
    expectUsageError(await runCli(['viz', 'extra']), 'session-actors viz: unexpected argument "extra"');
    // The usage line lists every option replay declares, whatever they are.
    const missing = await runCli(['replay']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(
      /^session-actors replay: missing FILE \(usage: session-actors replay FILE \[--data DIR\][^\n]*\)\n$/,
    );
  });
});

describe('colour', () => {
  const tty = { write: () => true, isTTY: true };
  const pipe = { write: () => true, isTTY: false };

  it('is on only for a terminal, and never with NO_COLOR set to a non-empty value', () => {
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: 'false' })).toBe(false);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled({ write: () => true }, {})).toBe(false);
  });

  it('styles are identity functions when off and SGR sequences when on', () => {
    expect(createStyle(false).red('x')).toBe('x');
    expect(createStyle(true).red('x')).toBe(`${ESC}31mx${ESC}39m`);
  });

  it('reaches the commands: the replay verdict is green on a terminal, plain under NO_COLOR or a pipe', async () => {
    const file = join(root, 'test/fixtures/logs/attachments.jsonl');
    const coloured = await runCli(['replay', file], { stdoutIsTTY: true });
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toContain(`${ESC}32mreplay matches the recorded run`);
    const noColor = await runCli(['replay', file], { stdoutIsTTY: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).not.toContain(ESC);
    expect(noColor.stdout).toContain('replay matches the recorded run');
    const piped = await runCli(['replay', file]);
    expect(piped.stdout).not.toContain(ESC);
  });
});

describe('the executable', () => {
  // The bin entry (src/cli.ts) run as a real process through tsx: exit codes reach the shell.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const cli = join(root, 'src/cli.ts');
  const exec = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', tsx, cli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });

  it('prints the version and exits 0; refuses an unknown value with exit 2', () => {
    const v = exec('--version');
    expect([v.status, v.stdout, v.stderr]).toEqual([0, `${version}\n`, '']);
    const bad = exec('viz', '--machine', 'foo');
    expect([bad.status, bad.stdout, bad.stderr]).toEqual([
      2,
      '',
      'session-actors viz: unknown machine "foo" (expected session or registry)\n',
    ]);
  });
});
