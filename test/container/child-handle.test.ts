/**
 * The shared child-process handle (child-handle.ts) and processDriver's command and environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnChild, type ContainerLogInfo } from '../../src/container/child-handle.js';
import type { ContainerExitInfo, ContainerStartContext } from '../../src/container/driver.js';
import { bundledAgentCommand, processDriver, sessionEnv } from '../../src/container/process-driver.js';

const node = process.execPath;
const base = { env: process.env, label: 'test child', sessionId: 's1', agentGroupId: 'ag1' };
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function ctxIn(dir: string): ContainerStartContext {
  return {
    sessionId: 'sess-1',
    agentGroupId: 'ag-1',
    sessionDir: dir,
    inboundDbPath: join(dir, 'inbound.db'),
    outboundDbPath: join(dir, 'outbound.db'),
    heartbeatPath: join(dir, '.heartbeat'),
  };
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sa-child-'));
  dirs.push(d);
  return d;
}

describe('spawnChild', () => {
  it('rejects with a clear Error naming the command when it does not exist (ENOENT)', async () => {
    const start = spawnChild({ ...base, command: '/nonexistent/agent-binary', args: [] });
    await expect(start).rejects.toThrow(/cannot start test child: \/nonexistent\/agent-binary.*ENOENT/);
    await expect(start).rejects.toBeInstanceOf(Error);
  });

  it('rejects when the working directory does not exist', async () => {
    await expect(spawnChild({ ...base, command: node, args: ['-e', ''], cwd: '/nonexistent-dir' })).rejects.toThrow(
      /cwd \/nonexistent-dir/,
    );
  });

  it('calls onExit exactly once, also after the exit, with code and signal', async () => {
    const handle = await spawnChild({ ...base, command: node, args: ['-e', 'process.exit(3)'] });
    const calls: ContainerExitInfo[] = [];
    handle.onExit((info) => calls.push(info));
    const early = new Promise<ContainerExitInfo>((done) => handle.onExit(done));
    expect(await early).toEqual({ code: 3, signal: null });
    const late = new Promise<ContainerExitInfo>((done) => handle.onExit(done));
    expect(await late).toEqual({ code: 3, signal: null });
    await handle.stop('after exit'); // resolves at once
    expect(calls).toEqual([{ code: 3, signal: null }]);
  });

  it('keeps notifying the other listeners when one throws', async () => {
    const handle = await spawnChild({ ...base, command: node, args: ['-e', ''] });
    handle.onExit(() => {
      throw new Error('listener bug');
    });
    expect(await new Promise<ContainerExitInfo>((done) => handle.onExit(done))).toEqual({ code: 0, signal: null });
  });

  it('forwards stdout and stderr lines to log, tagged with the stream and session', async () => {
    const lines: [string, ContainerLogInfo][] = [];
    const handle = await spawnChild({
      ...base,
      command: node,
      args: ['-e', 'console.log("out 1\\nout 2"); console.error("err 1")'],
      log: (line, info) => lines.push([line, info]),
    });
    await new Promise((done) => handle.onExit(done));
    await new Promise((done) => setImmediate(done)); // let the last 'line' events run
    const own = lines.filter(([, info]) => info.stream !== 'driver');
    expect(own).toEqual([
      ['out 1', { stream: 'stdout', sessionId: 's1', agentGroupId: 'ag1' }],
      ['out 2', { stream: 'stdout', sessionId: 's1', agentGroupId: 'ag1' }],
      ['err 1', { stream: 'stderr', sessionId: 's1', agentGroupId: 'ag1' }],
    ]);
  });

  it('stop() sends SIGTERM and resolves on exit; repeated calls share one promise', async () => {
    const handle = await spawnChild({ ...base, command: node, args: ['-e', 'setInterval(() => {}, 1000)'] });
    const exit = new Promise<ContainerExitInfo>((done) => handle.onExit(done));
    const a = handle.stop('one');
    const b = handle.stop('two');
    expect(a).toBe(b);
    await a;
    expect(await exit).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('escalates to SIGKILL after killAfterMs when SIGTERM is ignored', async () => {
    const lines: string[] = [];
    const handle = await spawnChild({
      ...base,
      command: node,
      args: [
        '-e',
        'process.on("SIGTERM", () => console.log("ignored")); console.log("ready"); setInterval(() => {}, 1000)',
      ],
      killAfterMs: 200,
      log: (line) => lines.push(line),
    });
    const exit = new Promise<ContainerExitInfo>((done) => handle.onExit(done));
    await waitUntil(() => lines.includes('ready'));
    await handle.stop('stubborn');
    expect(await exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(lines.some((l) => l.includes('killing'))).toBe(true);
  });
});

async function waitUntil(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((done) => setTimeout(done, 10));
  }
}

describe('processDriver', () => {
  it('passes the session environment and the extra env; env cannot override the session variables', async () => {
    const dir = tempDir();
    const ctx = ctxIn(dir);
    const lines: string[] = [];
    const driver = processDriver({
      command: node,
      args: ['-e', 'console.log(JSON.stringify({ env: process.env, cwd: process.cwd() }))'],
      env: { EXTRA: 'yes', SESSION_DIR: '/elsewhere' },
      log: (line, info) => {
        if (info.stream === 'stdout') lines.push(line);
      },
    });
    const handle = await driver.start(ctx);
    expect(handle.pid).toBeTypeOf('number');
    await new Promise((done) => handle.onExit(done));
    await waitUntil(() => lines.length > 0);
    const seen = JSON.parse(lines[0] ?? '{}') as { env: Record<string, string>; cwd: string };
    expect(seen.env).toMatchObject({ ...sessionEnv(ctx), EXTRA: 'yes' });
    expect(seen.env.SESSION_DIR).toBe(dir);
    expect(seen.env.SESSION_ID).toBe('sess-1');
    expect(seen.env.AGENT_GROUP_ID).toBe('ag-1');
    expect(seen.cwd).toBe(dir); // default cwd: the session folder
  });

  it('start rejects with a clear Error for a missing command', async () => {
    const driver = processDriver({ command: '/nonexistent/agent' });
    await expect(driver.start(ctxIn(tempDir()))).rejects.toThrow(/cannot start container of session sess-1.*ENOENT/);
  });

  it('bundledAgentCommand picks main.js when compiled and main.ts through tsx as source', () => {
    const compiled = bundledAgentCommand('file:///opt/app/dist/src/container/process-driver.js');
    expect(compiled).toEqual({ command: node, args: ['/opt/app/dist/src/container/agent/main.js'] });

    const here = pathToFileURL(fileURLToPath(new URL('../../src/container/process-driver.ts', import.meta.url))).href;
    const source = bundledAgentCommand(here);
    expect(source.command).toBe(node);
    expect(source.args[0]).toBe('--import');
    expect(source.args[1]).toMatch(/^file:\/\/.*\/node_modules\/tsx\//);
    expect(source.args[2]).toBe(fileURLToPath(new URL('../../src/container/agent/main.ts', import.meta.url)));
  });
});
