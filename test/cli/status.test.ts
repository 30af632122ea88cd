import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestDataDir } from '../../src/eventlog/digest.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';
import { runCli } from './run-cli.js';

const tmp = useTmpDir('sa-cli-status-');

/** A closed data directory with two sessions: one with two messages, one empty. */
async function makeDataDir(): Promise<string> {
  const dir = join(tmp(), 'data');
  const { rt } = await testRuntime(dir);
  const { session: a } = await rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId: null,
    mode: 'shared',
  });
  await rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId: 't1',
    mode: 'per-thread',
  });
  await rt.writeMessage(a.id, chat('m1', 'one', { trigger: 0 }));
  await rt.writeMessage(a.id, chat('m2', 'two', { trigger: 0 }));
  await rt.close();
  return dir;
}

/** Every path under `dir`, except SQLite's own side files of v2.db. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => !/^v2\.db-(wal|shm)$/.test(p)).sort();
}

describe('session-actors status', () => {
  it('never creates a data directory: a missing one is one line on stderr, exit 2', async () => {
    const missing = join(tmp(), 'nope');
    const r = await runCli(['status', '--data', missing]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `session-actors status: no data directory at ${missing}\n` });
    expect(readdirSync(join(missing, '..'))).toEqual([]);
  });

  it('refuses a directory without v2.db and a file, creating nothing', async () => {
    const empty = tmp();
    mkdirSync(join(empty, 'v2-sessions'));
    let r = await runCli(['status', '--data', empty]);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `session-actors status: ${empty} is not a session-actors data directory (no v2.db)\n`,
    });
    expect(readdirSync(empty)).toEqual(['v2-sessions']);

    const file = join(tmp(), 'a-file');
    writeFileSync(file, 'x');
    r = await runCli(['status', '--data', file]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `session-actors status: ${file} is not a directory\n` });
  });

  it('lists sessions with mode, status and message counts, and changes nothing', async () => {
    const dir = await makeDataDir();
    const before = { digest: digestDataDir(dir), tree: tree(dir) };
    const r = await runCli(['status', '--data', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^session +agent group +mode +status +container +in +out +last active$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 7))).toEqual([
      ['sess-1', 'ag-main', 'shared', 'active', 'stopped', '2', '0'],
      ['sess-2', 'ag-main', 'per-thread', 'active', 'stopped', '0', '0'],
    ]);
    expect(r.stdout).not.toContain('\u001b[');
    expect({ digest: digestDataDir(dir), tree: tree(dir) }).toEqual(before);
  });

  it('--json prints one JSON document with every session and its counts', async () => {
    const dir = await makeDataDir();
    const r = await runCli(['status', '--data', dir, '--json'], { stdoutIsTTY: true });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { dataDir: string; sessions: Record<string, unknown>[] };
    expect(doc.dataDir).toBe(dir);
    expect(doc.sessions).toEqual([
      expect.objectContaining({
        id: 'sess-1',
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: null,
        mode: 'shared',
        status: 'active',
        containerStatus: 'stopped',
        messageCounts: { messagesIn: 2, messagesOut: 0, delivered: 0, failed: 0 },
      }),
      expect.objectContaining({ id: 'sess-2', threadId: 't1', mode: 'per-thread' }),
    ]);
  });

  it('colours the container status on a terminal only, and not under NO_COLOR', async () => {
    const dir = await makeDataDir();
    const tty = await runCli(['status', '--data', dir], { stdoutIsTTY: true });
    expect(tty.stdout).toContain('\u001b[2mstopped');
    const noColor = await runCli(['status', '--data', dir], { stdoutIsTTY: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).not.toContain('\u001b[');
  });

  it('says so when there are no sessions', async () => {
    const dir = join(tmp(), 'data');
    const { rt } = await testRuntime(dir);
    await rt.close();
    const r = await runCli(['status', '--data', dir]);
    expect(r).toEqual({ code: 0, stdout: `no sessions in ${dir}\n`, stderr: '' });
    expect((await runCli(['status', '--data', dir, '--json'])).stdout).toBe(
      `${JSON.stringify({ dataDir: dir, sessions: [] }, null, 2)}\n`,
    );
  });
});
