import { describe, expect, it } from 'vitest';
import type { LogHeader, LogRecord } from '../../src/eventlog/format.js';
import {
  compactJSON,
  describeRecord,
  formatDivergence,
  formatEntry,
  formatOffset,
  shortId,
  summarizeTransitions,
} from '../../src/eventlog/timeline.js';

const T0 = 1_800_000_000_000;
const header: LogHeader = {
  k: 'header',
  format: 'session-actors/eventlog',
  version: 2,
  startedAt: T0,
  settings: {
    pollMs: 250,
    idleStopMs: 600_000,
    passivateMs: 60_000,
    maxBatch: 500,
    maxAttachmentBytes: 1,
    maxMessageBytes: 1,
    maxTries: 5,
    retryBackoffMs: 5000,
  },
};
const S = 'sess-1795536173778-k6ijab12';

const describe1 = (record: unknown, methodOf?: (c: number) => string | undefined) =>
  describeRecord(record as LogRecord, header, methodOf === undefined ? {} : { methodOf });

const commit = (results: unknown[], at = T0 + 1500): unknown => ({
  k: 'ev',
  s: S,
  e: { type: 'mailbox.committed', at, results },
});

describe('shortId and formatting helpers', () => {
  it('shortens long ids to prefix…last4 and keeps short ones', () => {
    expect(shortId(S)).toBe('sess…ab12');
    expect(shortId('sess-1')).toBe('sess-1');
    expect(shortId('abcdefghijklmnop')).toBe('abcd…mnop');
    expect(shortId(42)).toBe('42');
  });

  it('formats offsets in seconds with a sign, and nothing for null', () => {
    expect(formatOffset(62)).toBe('+0.062s');
    expect(formatOffset(3_600_000)).toBe('+3600.000s');
    expect(formatOffset(-500)).toBe('-0.500s');
    expect(formatOffset(null)).toBe('');
  });

  it('cuts compact JSON at the limit', () => {
    expect(compactJSON({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(compactJSON('x'.repeat(50), 10)).toBe(`"${'x'.repeat(8)}…`);
    expect(compactJSON(undefined)).toBe('undefined');
  });

  it('lays out line number, time and text', () => {
    const entry = { offsetMs: 62, sessionId: S, text: 'call writeMessage sess…ab12 m1', noise: false };
    expect(formatEntry(42, entry, 4)).toBe('  42     +0.062s  call writeMessage sess…ab12 m1');
    expect(formatEntry(7, { ...entry, offsetMs: null }, 2)).toBe(' 7              call writeMessage sess…ab12 m1');
  });
});

describe('describeRecord', () => {
  it('calls: method, short session id, the argument that identifies the operation; time from the header', () => {
    expect(describe1({ k: 'call', c: 3, m: 'writeMessage', a: [S, { id: 'm1', kind: 'chat' }], at: T0 + 62 })).toEqual({
      offsetMs: 62,
      sessionId: S,
      text: 'call writeMessage sess…ab12 m1',
      noise: false,
    });
    expect(
      describe1({
        k: 'call',
        c: 1,
        m: 'resolveSession',
        a: [{ agentGroupId: 'ag', messagingGroupId: 'mg', threadId: 't1', mode: 'per-thread' }],
        at: T0,
      }).text,
    ).toBe('call resolveSession ag/mg thread t1 (per-thread)');
    expect(
      describe1({
        k: 'call',
        c: 1,
        m: 'upsertMessagingGroup',
        a: [{ id: 'mg', channelType: 'slack', platformId: 'C1' }],
        at: T0,
      }),
    ).toMatchObject({ sessionId: null, text: 'call upsertMessagingGroup mg (slack C1)' });
    expect(describe1({ k: 'call', c: 9, m: 'stop', a: [S, 'bye'], at: T0 }).text).toBe('call stop sess…ab12 (bye)');
    expect(describe1({ k: 'call', c: 9, m: 'wake', a: [S], at: T0 }).text).toBe('call wake sess…ab12');
    // Arguments are whatever the caller passed, valid or not.
    expect(describe1({ k: 'call', c: 9, m: 'writeMessage', a: [null, 7], at: T0 }).text).toBe(
      'call writeMessage null undefined',
    );
  });

  it('returns: named after their call when known, values summarised, failures with their code', () => {
    expect(describe1({ k: 'ret', c: 3, ok: true, v: { seq: 4, duplicate: false } }, () => 'writeMessage').text).toBe(
      'ret writeMessage #3: seq 4',
    );
    expect(describe1({ k: 'ret', c: 3, ok: true, v: { seq: 4, duplicate: true } }, () => 'writeMessage').text).toBe(
      'ret writeMessage #3: seq 4 (duplicate)',
    );
    expect(
      describe1({ k: 'ret', c: 4, ok: true, v: { session: { id: S }, created: true } }, () => 'resolveSession').text,
    ).toBe('ret resolveSession #4: sess…ab12 (created)');
    expect(describe1({ k: 'ret', c: 5, ok: true }).text).toBe('ret #5: ok');
    expect(
      describe1({ k: 'ret', c: 6, ok: false, err: { code: 'SESSION_CLOSED', message: 'closed' } }, () => 'wake').text,
    ).toBe('ret wake #6 failed: SESSION_CLOSED closed');
  });

  it('transitions: container status changes and session lifecycle', () => {
    expect(describe1({ k: 'tr', sessionId: S, from: 'stopped', to: 'running', reason: 'message m1' })).toEqual({
      offsetMs: null,
      sessionId: S,
      text: '→ sess…ab12 stopped → running (message m1)',
      noise: false,
    });
    expect(describe1({ k: 'tr', sessionId: S, from: 'none', to: 'created', reason: 'shared' }).text).toBe(
      '→ sess…ab12 created (shared)',
    );
    expect(describe1({ k: 'tr', sessionId: S, from: 'active', to: 'closed', reason: 'closeSession' }).text).toBe(
      '→ sess…ab12 closed (closeSession)',
    );
  });

  it('commits: op count and kinds, deliveries found, failures; quiet polls are noise', () => {
    const wm = (n: number) => ({ requestId: `${S}:${n}`, kind: 'writeMessage', ok: true, value: { seq: 2 * n } });
    const poll = (undelivered: unknown[] = []) => ({
      requestId: 'poll:1',
      kind: 'pollOutbound',
      ok: true,
      value: { undelivered, claimed: 0, due: 0, heartbeatMtimeMs: null, snapshot: {} },
    });
    expect(describe1(commit([wm(1), wm(2), poll()]))).toEqual({
      offsetMs: 1500,
      sessionId: S,
      text: 'commit sess…ab12: 3 ops (writeMessage×2, pollOutbound)',
      noise: false,
    });
    expect(describe1(commit([poll()]))).toMatchObject({ text: 'commit sess…ab12: 1 op (pollOutbound)', noise: true });
    expect(describe1(commit([poll([{ id: 'r1' }, { id: 'r2' }])]))).toMatchObject({
      text: 'commit sess…ab12: 1 op (pollOutbound), 2 outbound to deliver',
      noise: false,
    });
    expect(
      describe1(
        commit([
          wm(1),
          { requestId: 'x', kind: 'writeMessage', ok: false, error: { $error: 'TOO_LARGE', message: 'big' } },
        ]),
      ).text,
    ).toBe('commit sess…ab12: 2 ops (writeMessage×2), 1 failed (TOO_LARGE)');
  });

  it('session events: exits, wakes, stops, starts, timers, enqueues', () => {
    const ev = (e: Record<string, unknown>) => describe1({ k: 'ev', s: S, e });
    expect(ev({ type: 'container.exited', code: 0, signal: null, at: T0 + 2000 })).toEqual({
      offsetMs: 2000,
      sessionId: S,
      text: 'exited sess…ab12 code 0',
      noise: false,
    });
    expect(ev({ type: 'container.exited', code: null, signal: 'SIGKILL' }).text).toBe('exited sess…ab12 on SIGKILL');
    expect(ev({ type: 'container.wake', reason: 'message m1' }).text).toBe('wake sess…ab12 (message m1)');
    expect(ev({ type: 'container.stop', reason: 'idle' }).text).toBe('stop sess…ab12 (idle)');
    expect(ev({ type: 'xstate.done.actor.0.session.container.starting', output: { at: T0 + 10 } })).toMatchObject({
      offsetMs: 10,
      text: 'started sess…ab12: container up',
    });
    expect(
      ev({ type: 'xstate.error.actor.0.session.container.starting', error: { $error: 'ERROR', message: 'no image' } })
        .text,
    ).toBe('start failed sess…ab12: no image');
    expect(ev({ type: 'xstate.after.idleStopMs.session.container.idle' })).toMatchObject({
      text: 'idle timeout sess…ab12',
      noise: false,
    });
    expect(ev({ type: 'xstate.after.pollMs.session.poller.polling' }).noise).toBe(true);
    expect(ev({ type: 'mailbox.turn' })).toMatchObject({ text: 'commit turn sess…ab12', noise: true });
    expect(ev({ type: 'container.observed', busy: false }).noise).toBe(true);
    const op = (n: number) => ({
      requestId: `${S}:${n}`,
      kind: 'writeMessage',
      payload: { kind: 'writeMessage', message: { id: `m${n}` }, at: T0 + 5 },
    });
    expect(ev({ type: 'mailbox.enqueue', op: op(1) })).toMatchObject({
      offsetMs: 5,
      text: 'enqueue sess…ab12 writeMessage m1',
    });
    expect(ev({ type: 'mailbox.enqueue', ops: [op(1), op(2)] }).text).toBe(
      'enqueue sess…ab12 2 ops: writeMessage m1, writeMessage m2',
    );
    expect(
      ev({
        type: 'mailbox.enqueue',
        op: {
          kind: 'recordDelivery',
          payload: { kind: 'recordDelivery', record: { messageOutId: 'r1', status: 'delivered' } },
        },
      }).text,
    ).toBe('enqueue sess…ab12 recordDelivery r1 delivered');
  });

  it('the other records: ids, activation, reconciliation, end', () => {
    expect(describe1({ k: 'id', p: 'sess', v: S }).text).toBe(`minted sess id ${S}`);
    expect(describe1({ k: 'activate', s: S, ag: 'ag-main' })).toMatchObject({
      sessionId: S,
      text: 'activate sess…ab12 (agent group ag-main)',
    });
    expect(describe1({ k: 'passivate', s: S }).text).toBe('passivate sess…ab12');
    expect(describe1({ k: 'reconcile', s: S, from: 'running' }).text).toBe(
      'reconcile sess…ab12: running → stopped (no live container)',
    );
    expect(describe1({ k: 'end', digest: 'abc' }).text).toBe('end of run: digest abc');
    expect(describe1({ k: 'weird' }).text).toBe('unknown record {"k":"weird"}');
  });

  it('is pure: the same record gives the same entry', () => {
    const record = commit([{ requestId: 'a', kind: 'sweep', ok: true, value: {} }]);
    expect(describe1(record)).toEqual(describe1(structuredClone(record)));
  });
});

describe('summaries', () => {
  it('summarises transitions by kind and per session', () => {
    const lines = summarizeTransitions([
      { sessionId: 's-a', from: 'none', to: 'created', reason: 'shared' },
      { sessionId: 's-a', from: 'stopped', to: 'running', reason: 'wake' },
      { sessionId: 's-b', from: 'none', to: 'created', reason: 'per-thread' },
      { sessionId: 's-a', from: 'running', to: 'idle', reason: 'no work' },
      { sessionId: 's-a', from: 'idle', to: 'stopped', reason: 'idle timeout' },
    ]);
    expect(lines).toEqual([
      'transitions: 5 (created ×2, stopped → running ×1, running → idle ×1, idle → stopped ×1)',
      '  s-a  created (shared), stopped → running → idle → stopped',
      '  s-b  created (per-thread)',
    ]);
    expect(summarizeTransitions([])).toEqual(['transitions: 0']);
    const many = Array.from({ length: 5 }, (_, i) => ({
      sessionId: `s${i}`,
      from: 'none',
      to: 'created',
      reason: 'x',
    }));
    expect(summarizeTransitions(many, 2).at(-1)).toBe('  … and 3 more sessions');
  });

  it('reports a divergence with its line, expected and actual as compact JSON', () => {
    expect(
      formatDivergence(
        { line: 51, what: 'transition #2 differs', expected: { to: 'idle' }, actual: { to: 'stopped' } },
        'x.log',
        '{"k":"tr"}',
      ),
    ).toEqual([
      'replay DIVERGES from the recorded run at line 51 of x.log',
      '  what:     transition #2 differs',
      '  expected: {"to":"idle"}',
      '  actual:   {"to":"stopped"}',
      '  line 51: {"k":"tr"}',
    ]);
  });
});
