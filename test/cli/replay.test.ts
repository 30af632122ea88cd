import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli.js';
import { digestDataDir } from '../../src/eventlog/digest.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-cli-');
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Runs the CLI with captured output. */
async function run(argv: string[], stderrIsTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text), isTTY: stderrIsTTY },
  };
  const code = await main(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/**
 * Records a small real run on a simulated clock: a session, context messages, a wake of a
 * scripted container, a poll, a stop, one more message, close.
 */
async function recordLog(): Promise<{ logPath: string; lines: string[]; digest: string }> {
  const dir = tmp();
  const logPath = join(dir, 'events.log');
  const { rt, clock } = await testRuntime(join(dir, 'data'), {
    driver: fakeDriver(),
    eventLog: logPath,
    pollMs: 100,
    idleStopMs: 5000,
  });
  const { session } = await rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId: 'th',
    mode: 'per-thread',
  });
  await Promise.all([
    rt.writeMessage(session.id, chat('m1', 'one', { trigger: 0 })),
    rt.writeMessage(session.id, chat('m2', 'two', { trigger: 0 })),
  ]);
  await rt.wake(session.id);
  clock.increment(100);
  await flush();
  await flush();
  await rt.stop(session.id, 'test is done');
  await rt.writeMessage(session.id, chat('m3', 'three', { trigger: 0 }));
  await rt.close();
  const lines = readFileSync(logPath, 'utf8').trimEnd().split('\n');
  const end = JSON.parse(lines.at(-1)!) as { k: string; digest: string };
  expect(end.k).toBe('end');
  return { logPath, lines, digest: end.digest };
}

function writeLog(lines: string[]): string {
  const path = join(tmp(), 'tampered.log');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('session-actors replay', () => {
  it('replays a recorded run: timeline, transitions, digest, "matches", exit 0', async () => {
    const { logPath, digest } = await recordLog();
    const { code, stdout, stderr } = await run(['replay', logPath]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`digest    ${digest}`);
    expect(stdout).toContain(`recorded  ${digest}`);
    expect(stdout).toContain('replay matches the recorded run');
    // The timeline: calls, commits, transitions, the exit, with times relative to the start.
    expect(stdout).toMatch(/\+0\.000s {2}call writeMessage sess-1 m1\n/);
    expect(stdout).toMatch(/commit sess-1: 2 ops \(writeMessage×2\)/);
    expect(stdout).toContain('→ sess-1 created (per-thread)');
    expect(stdout).toContain('→ sess-1 stopped → running (wake)');
    expect(stdout).toMatch(/exited sess-1 code 0/);
    expect(stdout).toMatch(/transitions: \d+ \(created ×1, stopped → running ×1/);
    // Routine records are hidden by default and counted; --verbose shows them.
    expect(stdout).not.toContain('poll timer sess-1');
    expect(stdout).toMatch(/\(\d+ routine records hidden/);
    const verbose = await run(['replay', logPath, '--verbose']);
    expect(verbose.code).toBe(0);
    expect(verbose.stdout).toContain('poll timer sess-1');
    expect(verbose.stdout).not.toMatch(/routine records hidden/);
  });

  it('removes its temporary data directory, and keeps the one given with --data', async () => {
    const { logPath, digest } = await recordLog();
    const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('session-actors-replay-')));
    expect((await run(['replay', logPath])).code).toBe(0);
    const after = readdirSync(tmpdir()).filter((n) => n.startsWith('session-actors-replay-') && !before.has(n));
    expect(after).toEqual([]);

    const dataDir = join(tmp(), 'replayed');
    const { code, stdout } = await run(['replay', logPath, '--data', dataDir]);
    expect(code).toBe(0);
    expect(stdout).toContain(`data dir  ${dataDir}`);
    expect(digestDataDir(dataDir)).toBe(digest);
  });

  it('refuses a --data directory that is not empty (exit 2)', async () => {
    const { logPath } = await recordLog();
    const dataDir = tmp();
    mkdirSync(join(dataDir, 'something'));
    const { code, stdout, stderr } = await run(['replay', logPath, '--data', dataDir]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/empty data directory/);
    expect(readdirSync(dataDir)).toEqual(['something']);
  });

  it('reports a changed seq in a recorded commit result with its line, exit 1', async () => {
    const { lines } = await recordLog();
    const index = lines.findIndex((l) => l.includes('"mailbox.committed"') && l.includes('"kind":"writeMessage"'));
    expect(index).toBeGreaterThan(0);
    const tampered = [...lines];
    tampered[index] = lines[index]!.replace(/"seq":(\d+)/, (_, seq: string) => `"seq":${Number(seq) + 100}`);
    expect(tampered[index]).not.toBe(lines[index]);
    const path = writeLog(tampered);
    const { code, stdout, stderr } = await run(['replay', path]);
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(stdout).not.toContain('replay matches');
    expect(stdout).toContain(`replay DIVERGES from the recorded run at line ${index + 1} of ${path}`);
    expect(stdout).toMatch(/what: {5}operation writeMessage of a commit gave another result/);
    expect(stdout).toMatch(/expected: \{"requestId":"sess-1:1","ok":true,"value":\{"seq":10\d,"duplicate":false\}\}/);
    expect(stdout).toMatch(/actual: {3}\{"requestId":"sess-1:1","ok":true,"value":\{"seq":\d,"duplicate":false\}\}/);
    // The timeline marks where the replay stopped.
    expect(stdout).toMatch(
      new RegExp(`\\n *${index + 1} +\\+\\S+ +commit sess-1[^\\n]*\\n +!! the replay diverged here`),
    );
  });

  it('reports a dropped transition record with a line, exit 1', async () => {
    const { lines } = await recordLog();
    const index = lines.findIndex((l) => l.includes('"k":"tr"') && l.includes('"to":"running"'));
    expect(index).toBeGreaterThan(0);
    const tampered = lines.filter((_, i) => i !== index);
    const path = writeLog(tampered);
    const { code, stdout } = await run(['replay', path]);
    expect(code).toBe(1);
    const match = /replay DIVERGES from the recorded run at line (\d+) of /.exec(stdout);
    expect(match).not.toBeNull();
    // Transitions are compared in order: the replay's `stopped → running` meets the log's next
    // transition record, or the end of the log when there is none.
    const nextTr = tampered.findIndex((l, i) => i >= index && l.includes('"k":"tr"'));
    expect(Number(match![1])).toBe(nextTr === -1 ? tampered.length : nextTr + 1);
    expect(stdout).toMatch(
      /what: {5}(transition #\d+ of session \S+ differs|the replay made \d+ transitions for session \S+, the log recorded \d+)/,
    );
    expect(stdout).toContain('"from":"stopped","to":"running"');
    expect(stdout).toMatch(/\(the log recorded \d+ transitions\)/);
  });

  it('refuses a file that is not an event log, a missing file and a missing argument (exit 2)', async () => {
    const notALog = join(tmp(), 'notes.txt');
    writeFileSync(notALog, 'hello\nworld\n');
    let r = await run(['replay', notALog]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/not an event log/);

    const jsonButNotLog = join(tmp(), 'other.jsonl');
    writeFileSync(jsonButNotLog, '{"k":"call"}\n');
    r = await run(['replay', jsonButNotLog]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not an event log/);

    r = await run(['replay', join(tmp(), 'missing.log')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*missing\.log/);

    r = await run(['replay']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/replay FILE/);
  });

  it('refuses a log whose header is fine but whose body is corrupt (exit 2)', async () => {
    const { lines } = await recordLog();
    const broken = [...lines];
    broken[3] = '{"k":"call",';
    const path = writeLog(broken);
    const { code, stderr } = await run(['replay', path]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/:4: not a JSON line/);
  });

  it('draws a progress bar on stderr only when it is a terminal and the log is long', async () => {
    const { logPath, lines } = await recordLog();
    // A long log: the run's records, then thousands of read-only calls (no effect to replay).
    const header = lines[0]!;
    const body = lines.slice(1, -1);
    const filler: string[] = [];
    for (let c = 1000; filler.length < 12_000; c++) {
      filler.push(`{"k":"call","c":${c},"m":"getSession","a":["sess-1"],"at":${Date.UTC(2026, 0, 1)}}`);
      filler.push(`{"k":"ret","c":${c},"ok":true}`);
    }
    const path = writeLog([header, ...body, ...filler]);
    const tty = await run(['replay', path], true);
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/replaying \[#+\.*\] \d+% \d+\/\d+ records/);
    expect(tty.stderr.endsWith('\r\u001b[2K')).toBe(true);
    const piped = await run(['replay', path], false);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    // A short log: no bar even on a terminal.
    expect((await run(['replay', logPath], true)).stderr).toBe('');
    expect(existsSync(path)).toBe(true);
  });
});
