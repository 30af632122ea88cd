import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';
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
    expect(out).toMatch(/\| session +\| mode +\| messages in \| messages out \| container \|/);
    const log = readFileSync(join(dir, 'events.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(log.filter((e) => e.event === 'outbound.delivered')).toHaveLength(6);
    expect(log.filter((e) => e.event === 'container.status').length).toBeGreaterThanOrEqual(12);
  });
});
