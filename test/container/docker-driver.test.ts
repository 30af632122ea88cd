/**
 * The docker driver: its pure argument builder, and a full run through a fake runtime binary
 * (test/fixtures/bin/fake-docker) that records its argv and runs the reference agent with the
 * /workspace paths mapped back onto the session folder.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { containerName, dockerDriver, dockerRunArgs } from '../../src/container/docker-driver.js';
import type { ContainerExitInfo, ContainerStartContext } from '../../src/container/driver.js';
import { makeSession, waitFor, type TestSession } from './helpers.js';

const FAKE_DOCKER = fileURLToPath(new URL('../fixtures/bin/fake-docker', import.meta.url));
const cleanups: (() => void)[] = [];

afterEach(() => {
  vi.unstubAllEnvs();
  for (const c of cleanups.splice(0)) c();
});

const ctx: ContainerStartContext = {
  sessionId: 'sess-1',
  agentGroupId: 'ag-main',
  sessionDir: '/data/v2-sessions/ag-main/sess-1',
  inboundDbPath: '/data/v2-sessions/ag-main/sess-1/inbound.db',
  outboundDbPath: '/data/v2-sessions/ag-main/sess-1/outbound.db',
  heartbeatPath: '/data/v2-sessions/ag-main/sess-1/.heartbeat',
};

describe('dockerRunArgs', () => {
  it('builds the exact docker run argument list', () => {
    expect(
      dockerRunArgs(ctx, { image: 'agent:1', env: { AGENT_POLL_MS: '50' }, extraArgs: ['--memory', '512m'] }),
    ).toEqual([
      'run',
      '--rm',
      '-i',
      '--name',
      'session-actors-ag-main-sess-1',
      '-v',
      '/data/v2-sessions/ag-main/sess-1:/workspace',
      '-e',
      'SESSION_DIR=/workspace',
      '-e',
      'INBOUND_DB=/workspace/inbound.db',
      '-e',
      'OUTBOUND_DB=/workspace/outbound.db',
      '-e',
      'HEARTBEAT_PATH=/workspace/.heartbeat',
      '-e',
      'SESSION_ID=sess-1',
      '-e',
      'AGENT_GROUP_ID=ag-main',
      '-e',
      'AGENT_POLL_MS=50',
      '--memory',
      '512m',
      'agent:1',
    ]);
  });

  it('keeps the session variables: env cannot override them', () => {
    const args = dockerRunArgs(ctx, { image: 'img', env: { SESSION_DIR: '/x', OTHER: '1' } });
    expect(args.filter((a) => a.startsWith('SESSION_DIR='))).toEqual(['SESSION_DIR=/workspace']);
    expect(args).toContain('OTHER=1');
  });

  it('mounts an absolute path and refuses one docker -v cannot express', () => {
    const rel = dockerRunArgs({ ...ctx, sessionDir: 'rel/dir' }, { image: 'img' });
    expect(rel[rel.indexOf('-v') + 1]).toBe(`${join(process.cwd(), 'rel/dir')}:/workspace`);
    expect(() => dockerRunArgs({ ...ctx, sessionDir: '/a:b' }, { image: 'img' })).toThrow(/cannot be mounted/);
  });

  it('sanitises and bounds the container name', () => {
    expect(containerName('ag', 'sess-1_x.y')).toBe('session-actors-ag-sess-1_x.y');
    const odd = containerName('ag main', 'sess/é');
    expect(odd).toMatch(/^session-actors-ag_main-sess__-[0-9a-f]{12}$/);
    expect(containerName('ag main', 'sess/è')).not.toBe(odd); // the hash keeps them apart
    const long = containerName('a'.repeat(128), 's'.repeat(128));
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long).toMatch(/^[a-zA-Z0-9_.-]+$/);
    expect(containerName('a'.repeat(128), 's'.repeat(127))).not.toBe(long);
  });

  it('dockerDriver refuses a missing image', () => {
    expect(() => dockerDriver({ image: '' })).toThrow(/image is required/);
  });
});

describe('dockerDriver through a fake runtime binary', () => {
  function setup(): { s: TestSession; state: string } {
    const s = makeSession();
    const state = mkdtempSync(join(tmpdir(), 'sa-fake-docker-'));
    cleanups.push(
      () => s.cleanup(),
      () => rmSync(state, { recursive: true, force: true }),
    );
    vi.stubEnv('FAKE_DOCKER_STATE', state);
    return { s, state };
  }

  const recorded = (state: string): string[][] =>
    readFileSync(join(state, 'argv.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { argv: string[] }).argv);

  it('runs end to end: the message is answered, argv equals dockerRunArgs, stop() uses `<bin> stop <name>`', async () => {
    const { s, state } = setup();
    s.write({ id: 'm1', content: JSON.stringify({ text: 'in a container' }) });
    const options = { image: 'img', runtimeBin: FAKE_DOCKER, env: { AGENT_POLL_MS: '50', AGENT_IDLE_EXIT_MS: '0' } };
    const handle = await dockerDriver(options).start(s.ctx);
    const exit = new Promise<ContainerExitInfo>((done) => handle.onExit(done));

    const reply = await waitFor(() => s.outbound()[0], 'reply from the containerised agent');
    expect(reply).toMatchObject({ id: 'm1-r1', seq: 3, in_reply_to: 'm1', content: '{"text":"echo: in a container"}' });
    expect(s.acks().get('m1')).toBe('completed');

    await handle.stop('test over');
    expect(await exit).toEqual({ code: 0, signal: null });
    const name = containerName(s.ctx.agentGroupId, s.ctx.sessionId);
    expect(recorded(state)).toEqual([dockerRunArgs(s.ctx, options), ['stop', name]]);
  });

  it('start rejects with a clear Error when the runtime binary is missing', async () => {
    const { s } = setup();
    await expect(dockerDriver({ image: 'img', runtimeBin: '/nonexistent/docker' }).start(s.ctx)).rejects.toThrow(
      /cannot start container session-actors-ag-test-sess-test: \/nonexistent\/docker.*ENOENT/,
    );
  });
});
