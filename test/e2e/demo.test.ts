import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';
import { digestDataDir } from '../../src/eventlog/digest.js';
import { replayLog } from '../../src/eventlog/replay.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

describe('session-actors demo', () => {
  it('runs the three session modes end to end and ends with a summary table', async () => {
    const dir = tmp();
    let out = '';
    const result = await runDemo({
      dataDir: join(dir, 'data'),
      logPath: join(dir, 'events.log'),
      write: (t) => (out += t),
      tty: false,
    });
    expect(result.delivered).toBe(6);
    expect(result.sessions.map((s) => [s.mode, s.messagesIn, s.messagesOut, s.status])).toEqual([
      ['shared', 2, 2, 'stopped'],
      ['per-thread', 1, 1, 'stopped'],
      ['per-thread', 1, 1, 'stopped'],
      ['agent-shared', 2, 2, 'stopped'],
    ]);
    expect(out).toContain('[file: notes.txt (14 B)]');
    expect(out).toContain('[file: itinerary.txt (14 B)]');
    // The agent-shared session answers each repo in the channel, platform and thread it came from.
    expect(out).toMatch(/→ github +acme\/api +thread pr-7: echo: review PR 7 please\n/);
    expect(out).toMatch(/→ github +acme\/web +thread pr-9: echo: and PR 9 in the other repo\n/);
    expect(out).toMatch(/→ slack +C-general +\(no thread\): echo: second message, same shared session\n/);
    expect(out).toMatch(/\| session +\| mode +\| messages in \| messages out \| container \|/);
    const log = readFileSync(join(dir, 'events.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { k: string; to?: string });
    expect(log[0]).toMatchObject({ k: 'header', format: 'session-actors/eventlog' });
    expect(log.filter((r) => r.k === 'tr' && r.to === 'running')).toHaveLength(4);
    expect(log.at(-1)).toMatchObject({ k: 'end' });
  });

  it("the demo's event log replays, with no process, to the same transitions and digest", async () => {
    const dir = tmp();
    const logPath = join(dir, 'events.log');
    await runDemo({ dataDir: join(dir, 'data'), logPath, write: () => undefined, tty: false });
    const replay = await replayLog(logPath, { dataDir: join(dir, 'replayed') });
    expect(replay.divergence).toBeNull();
    expect(replay.digest).toBe(digestDataDir(join(dir, 'data')));
    expect(replay.digest).toBe(replay.expected.digest);
    expect(replay.transitions).toEqual(replay.expected.transitions);
    expect(replay.transitions.filter((t) => t.to === 'running')).toHaveLength(4);
  });
});
