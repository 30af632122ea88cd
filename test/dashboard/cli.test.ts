/**
 * The commands that serve the dashboard, run as a user runs them: a real `session-actors` process
 * that prints its URL, answers over HTTP, and exits 0 on Ctrl-C (SIGINT). Plus `viz --format svg`
 * and the usage errors of the new options.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registryMachine, sessionMachine } from '../../machines/index.js';
import { digestDataDir } from '../../src/eventlog/digest.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { toSVG } from '../../src/viz/svg.js';
import { runCli } from '../cli/run-cli.js';
import { useTmpDir } from '../helpers/tmp.js';
import { get, openSse } from './http.js';

const tmp = useTmpDir('dash-cli-');
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const LOG = fileURLToPath(new URL('../fixtures/logs/mode-per-thread.jsonl', import.meta.url));

/** A `session-actors` process: its stdout line by line, its exit code. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: string[] = [];
  const waiters: { match: RegExp; done: (line: string) => void; fail: (error: Error) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    seen.push(line);
    for (const w of waiters.splice(0)) {
      if (w.match.test(line)) w.done(line);
      else waiters.push(w);
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      // A process that ends before printing what a test waits for fails that wait at once.
      for (const w of waiters.splice(0)) w.fail(new Error(`exited with ${code} before ${w.match}: ${stderr}`));
      resolve(code);
    }),
  );
  return {
    child,
    stdout: () => seen.join('\n'),
    stderr: () => stderr,
    exited,
    /** Resolves with the first stdout line matching `match` (already printed or still to come). */
    line(match: RegExp): Promise<string> {
      const found = seen.find((l) => match.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((done, fail) => waiters.push({ match, done, fail }));
    },
  };
}

const urlOf = (line: string) => line.replace(/^dashboard: /, '');

describe('session-actors viz --format svg', () => {
  it('prints the rendered statechart, the same SVG toSVG renders', async () => {
    const session = await runCli(['viz', '--format', 'svg']);
    expect(session).toEqual({ code: 0, stdout: await toSVG(sessionMachine), stderr: '' });
    const registry = await runCli(['viz', '--format=svg', '--machine', 'registry']);
    expect(registry.stdout).toBe(await toSVG(registryMachine));
  });
});

describe('usage errors of the dashboard options', () => {
  it.each([
    [['dashboard', '--data', '/nonexistent/dir'], 'session-actors dashboard: no data directory at /nonexistent/dir'],
    [
      ['dashboard', '--port', '70000'],
      'session-actors dashboard: --port must be a number from 0 to 65535, got "70000"',
    ],
    [['dashboard', '--port', '8o8o'], 'session-actors dashboard: --port must be a number from 0 to 65535, got "8o8o"'],
    [['demo', '--port', '0'], 'session-actors demo: --port needs --dashboard'],
    [['replay', LOG, '--port', '8080'], 'session-actors replay: --port needs --dashboard'],
    [
      ['replay', LOG, '--dashboard', '--machine', 'x.js'],
      'session-actors replay: --machine cannot be combined with --dashboard',
    ],
  ])('%j exits 2 naming the mistake', async (argv, line) => {
    expect(await runCli(argv)).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
  });
});

describe('commands that serve the dashboard', () => {
  it('dashboard --data DIR serves a data directory read-only and exits 0 on Ctrl-C', async () => {
    const dataDir = tmp();
    const owner = await createRuntime({ dataDir, driver: 'none' });
    await owner.upsertAgentGroup({ id: 'ag', name: 'A' });
    const { session } = await owner.resolveSession({
      agentGroupId: 'ag',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    await owner.close();
    const before = digestDataDir(dataDir);

    const cli = startCli(['dashboard', '--data', dataDir, '--port', '0']);
    const url = urlOf(await cli.line(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/));
    const page = JSON.parse((await get(`${url}api/sessions`)).body) as { rows: { id: string; mode: string }[] };
    expect(page.rows).toMatchObject([{ id: session.id, mode: 'shared' }]);
    expect((await get(url)).status).toBe(200);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toBe('');
    expect(digestDataDir(dataDir)).toBe(before);
  });

  it('replay FILE --dashboard serves the log with its timeline and exits on Ctrl-C', async () => {
    const records = readFileSync(LOG, 'utf8').trimEnd().split('\n').length - 1;
    const cli = startCli(['replay', LOG, '--dashboard', '--port', '0']);
    const url = urlOf(await cli.line(/^dashboard: /));
    const info = JSON.parse((await get(`${url}api/info`)).body) as {
      kind: string;
      records: number;
      divergence: unknown;
    };
    expect(info).toMatchObject({ kind: 'replay', records });
    const first = JSON.parse((await get(`${url}api/records?offset=0&limit=2`)).body) as { records: { line: number }[] };
    expect(first.records.map((r) => r.line)).toEqual([2, 3]);
    expect(cli.stdout()).toContain(`${records} records`);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(info.divergence === null ? 0 : 1);
  });

  it('demo --dashboard starts the script when a page connects and keeps serving after it until Ctrl-C', async () => {
    const dataDir = `${tmp()}/demo`;
    const cli = startCli(['demo', '--dashboard', '--port', '0', '--data', dataDir]);
    const url = urlOf(await cli.line(/^dashboard: /));
    const sse = await openSse(`${url}api/events`);
    await cli.line(/^script done; the dashboard keeps serving at /);
    // After the script: the runtime is still open and the page still answers.
    const page = JSON.parse((await get(`${url}api/sessions`)).body) as {
      total: number;
      rows: { containerStatus: string }[];
    };
    expect(page.total).toBe(4);
    expect(page.rows.every((r) => r.containerStatus === 'stopped')).toBe(true);
    // It pushed changes while the script ran.
    expect(sse.events.filter((e) => e.event === 'changes').length).toBeGreaterThan(0);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    await sse.ended;
    expect(cli.stdout()).toMatch(/\d+ replies delivered/);
  }, 90_000);
});
