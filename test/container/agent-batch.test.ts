/**
 * Pure helpers of the reference agent: batch selection, scripts, reply ids, seq parity, config.
 */
import { describe, expect, it } from 'vitest';
import {
  configFromEnv,
  isSafeSegment,
  nextOddAbove,
  parseScript,
  pickDueBatch,
  replyIdFor,
  type CandidateRow,
} from '../../src/container/agent/agent.js';

function row(id: string, seq: number, extra: Partial<CandidateRow> = {}): CandidateRow {
  return { id, seq, status: 'pending', due: 1, trigger: 1, on_wake: 0, ...extra };
}

const none = new Set<string>();
const ids = (rows: CandidateRow[]): string[] => rows.map((r) => r.id);

describe('pickDueBatch', () => {
  it('picks every pending, due row in seq order', () => {
    expect(ids(pickDueBatch([row('b', 4), row('a', 2)], none, false))).toEqual(['a', 'b']);
  });

  it('skips rows that are not due yet (process_after in the future)', () => {
    expect(ids(pickDueBatch([row('later', 2, { due: 0 }), row('now', 4)], none, false))).toEqual(['now']);
    expect(pickDueBatch([row('later', 2, { due: 0 })], none, false)).toEqual([]);
  });

  it('skips rows that are not pending', () => {
    const rows = [row('done', 2, { status: 'completed' }), row('paused', 4, { status: 'paused' }), row('p', 6)];
    expect(ids(pickDueBatch(rows, none, false))).toEqual(['p']);
  });

  it('takes on_wake rows only on the first poll', () => {
    const rows = [row('wake', 2, { on_wake: 1 }), row('m', 4)];
    expect(ids(pickDueBatch(rows, none, true))).toEqual(['wake', 'm']);
    expect(ids(pickDueBatch(rows, none, false))).toEqual(['m']);
    expect(pickDueBatch([row('wake', 2, { on_wake: 1 })], none, false)).toEqual([]);
  });

  it('never claims trigger=0 rows alone, and carries them with the next trigger=1 row', () => {
    const context = [row('c1', 2, { trigger: 0 }), row('c2', 4, { trigger: 0 })];
    expect(pickDueBatch(context, none, false)).toEqual([]);
    expect(pickDueBatch(context, none, true)).toEqual([]);
    expect(ids(pickDueBatch([...context, row('t', 6)], none, false))).toEqual(['c1', 'c2', 't']);
  });

  it('skips rows already in processing_ack, whatever their status', () => {
    const rows = [row('a', 2), row('b', 4), row('c', 6)];
    expect(ids(pickDueBatch(rows, new Set(['a', 'c']), false))).toEqual(['b']);
    expect(pickDueBatch(rows, new Set(['a', 'b', 'c']), false)).toEqual([]);
  });

  it('does not let an acked trigger row carry context rows', () => {
    const rows = [row('c', 2, { trigger: 0 }), row('t', 4)];
    expect(pickDueBatch(rows, new Set(['t']), false)).toEqual([]);
  });
});

describe('parseScript', () => {
  it('reads text and the scripted behaviours', () => {
    const script = parseScript(
      JSON.stringify({
        text: 'hi',
        sleepMs: 50,
        tool: { name: 'Bash', timeoutMs: 600_000, sleepMs: 20 },
        fail: true,
        replyFile: { name: 'r.txt', text: 'x' },
        attachments: [
          { name: 'a.png', localPath: 'inbox/m/a.png' },
          { localPath: 'inbox/m/b.bin' },
          { name: 'no-path' },
        ],
      }),
    );
    expect(script).toEqual({
      text: 'hi',
      sleepMs: 50,
      tool: { name: 'Bash', timeoutMs: 600_000, sleepMs: 20 },
      fail: true,
      replyFile: { name: 'r.txt', text: 'x' },
      attachments: [
        { name: 'a.png', localPath: 'inbox/m/a.png' },
        { name: 'b.bin', localPath: 'inbox/m/b.bin' },
      ],
    });
  });

  it('echoes content that is not JSON as it is, and ignores malformed fields', () => {
    expect(parseScript('plain words').text).toBe('plain words');
    expect(parseScript('"a json string"').text).toBe('a json string');
    expect(parseScript('[1,2]')).toMatchObject({ text: '', fail: false, sleepMs: 0, tool: null });
    expect(parseScript('{"text":5,"fail":"yes","sleepMs":-3,"replyFile":{"name":1}}')).toEqual({
      text: '',
      sleepMs: 0,
      tool: null,
      fail: false,
      replyFile: null,
      attachments: [],
    });
  });
});

describe('parseScript tool', () => {
  it('takes a tool only with a non-empty name, a whole non-negative timeout and a non-negative sleep', () => {
    const tool = (value: unknown) => parseScript(JSON.stringify({ tool: value })).tool;
    expect(tool({ name: 'Bash', timeoutMs: 0, sleepMs: 0 })).toEqual({ name: 'Bash', timeoutMs: 0, sleepMs: 0 });
    for (const bad of [
      'Bash',
      { timeoutMs: 1, sleepMs: 1 },
      { name: '', timeoutMs: 1, sleepMs: 1 },
      { name: 'Bash', timeoutMs: 1.5, sleepMs: 1 },
      { name: 'Bash', timeoutMs: -1, sleepMs: 1 },
      { name: 'Bash', timeoutMs: '1', sleepMs: 1 },
      { name: 'Bash', timeoutMs: 1, sleepMs: -1 },
      { name: 'Bash', timeoutMs: 1 },
    ])
      expect(tool(bad)).toBeNull();
  });
});

describe('reply ids and seq', () => {
  it('uses <inboundId>-r<n> with the first free n', () => {
    expect(replyIdFor('m1', () => false)).toBe('m1-r1');
    const taken = new Set(['m1-r1', 'm1-r2']);
    expect(replyIdFor('m1', (id) => taken.has(id))).toBe('m1-r3');
  });

  it('falls back to a random safe id when <inboundId>-r1 would be too long', () => {
    const id = replyIdFor('x'.repeat(127), () => false);
    expect(id).toMatch(/^reply-[0-9a-f]{16}$/);
    expect(isSafeSegment(id)).toBe(true);
  });

  it('nextOddAbove gives the smallest odd number above the max', () => {
    expect([0, 1, 2, 7, 10].map(nextOddAbove)).toEqual([1, 3, 3, 9, 11]);
  });

  it('isSafeSegment follows the FORMAT.md segment rule', () => {
    for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\0b', 'x'.repeat(129)]) expect(isSafeSegment(bad)).toBe(false);
    for (const good of ['a', 'photo.png', '..a', 'x'.repeat(128)]) expect(isSafeSegment(good)).toBe(true);
  });
});

describe('configFromEnv', () => {
  it('defaults the paths into SESSION_DIR and the timings to 200 / 30000 ms', () => {
    expect(configFromEnv({ SESSION_DIR: '/s', SESSION_ID: 'sess-1' })).toEqual({
      sessionDir: '/s',
      inboundDb: '/s/inbound.db',
      outboundDb: '/s/outbound.db',
      heartbeatPath: '/s/.heartbeat',
      pollMs: 200,
      idleExitMs: 30_000,
      sessionId: 'sess-1',
      agentGroupId: null,
    });
  });

  it('takes every variable of the contract', () => {
    const config = configFromEnv({
      SESSION_DIR: '/s',
      INBOUND_DB: '/x/in.db',
      OUTBOUND_DB: '/x/out.db',
      HEARTBEAT_PATH: '/x/hb',
      AGENT_POLL_MS: '50',
      AGENT_IDLE_EXIT_MS: '0',
      AGENT_GROUP_ID: 'ag',
    });
    expect(config).toMatchObject({
      inboundDb: '/x/in.db',
      outboundDb: '/x/out.db',
      heartbeatPath: '/x/hb',
      pollMs: 50,
      idleExitMs: 0,
      agentGroupId: 'ag',
    });
  });

  it('refuses a missing SESSION_DIR and malformed numbers', () => {
    expect(() => configFromEnv({})).toThrow(/SESSION_DIR/);
    expect(() => configFromEnv({ SESSION_DIR: '/s', AGENT_POLL_MS: 'fast' })).toThrow(/AGENT_POLL_MS/);
    expect(() => configFromEnv({ SESSION_DIR: '/s', AGENT_IDLE_EXIT_MS: '-1' })).toThrow(/AGENT_IDLE_EXIT_MS/);
  });
});
