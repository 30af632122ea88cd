/**
 * The log-driven suite: every test/fixtures/logs/<name>.jsonl was recorded from a real run (the
 * reference agent as child processes, real session folders; scripts/record-fixture-logs.ts) and
 * is replayed here with no process at all. Each must replay without divergence, to the
 * transitions and the digest the live run produced (<name>.expected.json).
 *
 * Re-record with `node --import tsx scripts/record-fixture-logs.ts [name…]`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import type { Transition } from '../../src/eventlog/format.js';
import { readLog } from '../../src/eventlog/read-log.js';
import { replayLog } from '../../src/eventlog/replay.js';
import { useTmpDir } from '../helpers/tmp.js';

// Replay must never start a container: any attempt to spawn a process fails the test.
vi.mock('node:child_process', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:child_process')>();
  const refuse = (): never => {
    throw new Error('a fixture replay tried to start a process');
  };
  return { ...actual, spawn: refuse, fork: refuse, exec: refuse, execFile: refuse, spawnSync: refuse };
});

const LOGS = fileURLToPath(new URL('../fixtures/logs/', import.meta.url));
const MAX_LOG_BYTES = 200 * 1024;

/** What the issue asks the fixtures to cover, by fixture name. */
const REQUIRED = [
  'mode-shared',
  'mode-per-thread',
  'mode-agent-shared',
  'concurrent-resolutions',
  'attachments',
  'duplicate-ids',
  'crash-retry',
  'retries-exhausted',
  'idle-timeout',
  'close-reresolve',
  'outbound-direct',
  'bad-input',
];

interface Expected {
  scenario: string;
  transitions: Transition[];
  digest: string;
}

const names = readdirSync(LOGS)
  .filter((f) => f.endsWith('.jsonl'))
  .map((f) => f.slice(0, -'.jsonl'.length))
  .sort();

const tmp = useTmpDir('sa-fixture-replay-');

function expectedOf(name: string): Expected {
  return JSON.parse(readFileSync(join(LOGS, `${name}.expected.json`), 'utf8')) as Expected;
}

describe('fixture logs', () => {
  it('cover every scenario the suite needs, each with its expected file, each small', () => {
    expect(names).toEqual(expect.arrayContaining(REQUIRED));
    for (const name of names) {
      expect(statSync(join(LOGS, `${name}.expected.json`)).isFile(), name).toBe(true);
      expect(statSync(join(LOGS, `${name}.jsonl`)).size, name).toBeLessThan(MAX_LOG_BYTES);
    }
    const orphans = readdirSync(LOGS)
      .filter((f) => f.endsWith('.expected.json'))
      .map((f) => f.slice(0, -'.expected.json'.length))
      .filter((n) => !names.includes(n));
    expect(orphans).toEqual([]);
  });
});

describe.each(names)('replaying %s', (name) => {
  it('matches the live run: no divergence, same transitions, same digest', async () => {
    const logPath = join(LOGS, `${name}.jsonl`);
    const expected = expectedOf(name);
    const result = await replayLog(logPath, { dataDir: join(tmp(), 'data') });

    expect(result.divergence).toBeNull();
    expect(result.transitions).toEqual(expected.transitions);
    expect(result.digest).toBe(expected.digest);
    // The log itself agrees with what the live run reported next to it.
    expect(result.expected.transitions).toEqual(expected.transitions);
    expect(result.expected.digest).toBe(expected.digest);
    expect(result.events).toEqual(readLog(logPath).records);
  });
});
