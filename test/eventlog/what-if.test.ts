/**
 * What-if replay: recorded histories replayed against a changed session machine report, per
 * session, the first record where the new machine's behaviour departs from the recorded one; an
 * unchanged machine departs nowhere. The replay itself is not affected by the comparison.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assign, createMachine, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { sessionMachine } from '../../machines/session.machine.js';
import type { LogRecord } from '../../src/eventlog/format.js';
import { readLog } from '../../src/eventlog/read-log.js';
import { replayLog } from '../../src/eventlog/replay.js';
import { recordTime } from '../../src/eventlog/timeline.js';
import { formatWhatIf } from '../../src/eventlog/what-if.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const LOGS = fileURLToPath(new URL('../fixtures/logs/', import.meta.url));
const IDLE_LOG = join(LOGS, 'idle-timeout.jsonl');
const names = readdirSync(LOGS)
  .filter((f) => f.endsWith('.jsonl'))
  .map((f) => f.slice(0, -'.jsonl'.length))
  .sort();
const tmp = useTmpDir('sa-what-if-');

type States = Record<string, Record<string, unknown>>;

/** The session machine with some of its container states replaced (same implementations). */
function withContainerStates(change: (states: States) => States): AnyStateMachine {
  const config = sessionMachine.config as unknown as { states: { container: { states: States } } };
  const container = config.states.container;
  return createMachine(
    {
      ...config,
      states: { ...config.states, container: { ...container, states: change(container.states) } },
    } as never,
    sessionMachine.implementations as never,
  );
}

/** The 1-based log line of the first record matching `match`. */
function lineOf(records: LogRecord[], match: (r: LogRecord) => boolean, from = 0): number {
  const index = records.findIndex((r, i) => i >= from && match(r));
  expect(index).toBeGreaterThanOrEqual(0);
  return index + 2;
}

const isEvent = (type: string, s?: string) => (r: LogRecord) =>
  r.k === 'ev' && r.e.type === type && (s === undefined || r.s === s);

describe('what-if replay', () => {
  it.each(names)('an unchanged machine departs nowhere in %s, and the replay is the plain one', async (name) => {
    const log = join(LOGS, `${name}.jsonl`);
    const expected = JSON.parse(readFileSync(join(LOGS, `${name}.expected.json`), 'utf8')) as { digest: string };
    const result = await replayLog(log, { dataDir: join(tmp(), 'data'), machine: sessionMachine });
    const sessions = new Set(readLog(log).records.flatMap((r) => (r.k === 'activate' ? [r.s] : [])));
    expect(result.divergence).toBeNull();
    expect(result.digest).toBe(expected.digest);
    expect(result.whatIf).toEqual({ sessions: [...sessions], departures: [] });
    expect(sessions.size).toBeGreaterThan(0);
  });

  it('a shorter idle path (idle → stopped at the timeout) departs at the recorded idle timeout', async () => {
    const shorter = withContainerStates((states) => ({
      ...states,
      idle: {
        ...states.idle,
        after: { idleStopMs: { target: 'stopped', actions: assign({ reason: 'idle timeout' }) } },
      },
    }));
    const { records } = readLog(IDLE_LOG);
    const result = await replayLog(IDLE_LOG, { dataDir: join(tmp(), 'data'), machine: shorter });
    expect(result.divergence).toBeNull();
    const sessionId = (records.find((r) => r.k === 'activate') as { s: string }).s;
    const line = lineOf(records, isEvent('xstate.after.idleStopMs.session.container.idle'));
    expect(result.whatIf?.departures).toEqual([
      {
        sessionId,
        index: line - 2,
        line,
        record: `idle timeout sess…${sessionId.slice(-4)}`,
        what: 'the container status changes after xstate.after.idleStopMs.session.container.idle differ',
        expected: [],
        actual: ['emit container.status idle → stopped (idle timeout)'],
      },
    ]);
    const text = formatWhatIf(result.whatIf!, 'idle-timeout.jsonl');
    expect(text[0]).toBe('what-if replay of idle-timeout.jsonl: 1 of 1 session departs from the recorded behaviour');
    expect(text[1]).toBe(`  sess…${sessionId.slice(-4)}  line ${line}: idle timeout sess…${sessionId.slice(-4)}`);
  });

  it('an idle state that waits for a new event instead of its timer departs where the recorded timer fired', async () => {
    const waits = withContainerStates((states) => ({
      ...states,
      idle: { ...states.idle, after: undefined, on: { ...(states.idle!.on as object), 'container.retire': 'stopped' } },
    }));
    const { records } = readLog(IDLE_LOG);
    const result = await replayLog(IDLE_LOG, { dataDir: join(tmp(), 'data'), machine: waits });
    const line = lineOf(records, isEvent('xstate.after.idleStopMs.session.container.idle'));
    expect(result.whatIf?.departures).toMatchObject([
      {
        line,
        what: expect.stringMatching(
          /^the recorded timer xstate\.after\.idleStopMs\.session\.container\.idle fired at \+\d+\.\d{3}s; the new machine has no such timer$/,
        ),
        expected: [expect.stringMatching(/^xstate\.after\.idleStopMs\.session\.container\.idle after 200 ms, due /)],
      },
    ]);
  });

  it('a different after: a shorter delay departs where it would fire, a longer one where the recorded one fired', async () => {
    const { header, records } = readLog(IDLE_LOG);
    const idleAt = lineOf(records, (r) => r.k === 'tr' && r.to === 'idle');
    const timeout = lineOf(records, isEvent('xstate.after.idleStopMs.session.container.idle'));

    const sooner = sessionMachine.provide({ delays: { idleStopMs: 100 } });
    const early = await replayLog(IDLE_LOG, { dataDir: join(tmp(), 'a'), machine: sooner });
    const [d] = early.whatIf!.departures;
    expect(early.whatIf!.departures).toHaveLength(1);
    expect(d!.what).toMatch(
      /^the new machine's timer xstate\.after\.idleStopMs\.session\.container\.idle \(after 100 ms\) would fire before this record, at \+\d+\.\d{3}s$/,
    );
    // After the session went idle, before the recorded timeout: at the first record that proves
    // 100 ms have passed (its own clock reading, or the due time of a recorded timer).
    expect(d!.line).toBeGreaterThan(idleAt);
    expect(d!.line).toBeLessThan(timeout);
    const due = Number(/at \+(\d+\.\d{3})s$/.exec(d!.what)![1]) * 1000 + header.startedAt;
    const before = records.slice(idleAt - 2, d!.index).map(recordTime);
    expect(before.every((t) => t === null || t < due)).toBe(true);

    const later = sessionMachine.provide({ delays: { idleStopMs: 5000 } });
    const late = await replayLog(IDLE_LOG, { dataDir: join(tmp(), 'b'), machine: later });
    expect(late.whatIf!.departures).toMatchObject([
      { line: timeout, what: expect.stringMatching(/the new machine's is due only at \+\d+\.\d{3}s$/) },
    ]);
  });

  it('a running state that no longer accepts container.observed departs at the first observation it refuses', async () => {
    const deaf = withContainerStates((states) => {
      const { 'container.observed': _dropped, ...on } = states.running!.on as Record<string, unknown>;
      return { ...states, running: { ...states.running, on } };
    });
    const { records } = readLog(IDLE_LOG);
    const result = await replayLog(IDLE_LOG, { dataDir: join(tmp(), 'data'), machine: deaf });
    const observedIdle = (r: LogRecord) => r.k === 'ev' && r.e.type === 'container.observed' && r.e.busy === false;
    expect(result.whatIf?.departures).toMatchObject([
      {
        line: lineOf(records, observedIdle),
        what: 'the new machine does not accept container.observed in container.running, poller.polling, mailbox.idle',
        expected: { container: 'idle' },
        actual: { container: 'running' },
      },
    ]);
    expect(result.divergence).toBeNull();
  });

  it('a machine that throws is reported as a departure, not a crash', async () => {
    const throws = withContainerStates((states) => ({
      ...states,
      idle: {
        ...states.idle,
        entry: [
          states.idle!.entry,
          () => {
            throw new Error('boom');
          },
        ],
      },
    }));
    const result = await replayLog(IDLE_LOG, { dataDir: join(tmp(), 'data'), machine: throws });
    expect(result.divergence).toBeNull();
    expect(result.whatIf?.departures).toMatchObject([
      { what: 'the new machine failed after container.observed: boom', actual: null },
    ]);
  });

  it('refuses a machine option that is not a state machine, before creating the data directory', async () => {
    const dataDir = join(tmp(), 'data');
    await expect(replayLog(IDLE_LOG, { dataDir, machine: {} as AnyStateMachine })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    const unprovidable = {
      provide: () => {
        throw new Error('not this xstate');
      },
      transition: () => undefined,
    } as unknown as AnyStateMachine;
    await expect(replayLog(IDLE_LOG, { dataDir, machine: unprovidable })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: "the machine does not take the replay's implementations: not this xstate",
    });
    expect(existsSync(dataDir)).toBe(false);
  });

  describe('two sessions, one idle for long, one given work soon', () => {
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
      expect(done()).toBe(true);
    };

    /** Session A idles ~1.2 s; session B idles ~0.15 s, then has work (the fake container never takes it). */
    async function record(): Promise<{ log: string; a: string; b: string }> {
      const dir = tmp();
      const log = join(dir, 'events.jsonl');
      const { rt, clock } = await testRuntime(join(dir, 'data'), {
        eventLog: log,
        driver: fakeDriver(),
        pollMs: 50,
        idleStopMs: 10_000,
      });
      const open = async (threadId: string) =>
        (
          await rt.resolveSession({
            agentGroupId: 'ag-main',
            messagingGroupId: 'mg-slack',
            threadId,
            mode: 'per-thread',
          })
        ).session.id;
      const [a, b] = [await open('tA'), await open('tB')];
      /** Advances the clock one poll at a time; a mailbox round trip per session lets each poll commit. */
      const tick = async (ms: number) => {
        for (let t = 0; t < ms; t += 50) {
          clock.increment(50);
          await Promise.all([rt.messageCounts(a), rt.messageCounts(b)]);
        }
      };
      await Promise.all([rt.wake(a), rt.wake(b)]);
      await tick(50);
      await until(() => rt.containerStatus(a) === 'idle' && rt.containerStatus(b) === 'idle');
      await tick(100);
      await rt.writeMessage(b, chat('m1', 'work for B'));
      await tick(50);
      await until(() => rt.containerStatus(b) === 'running');
      await tick(1000);
      expect(rt.containerStatus(a)).toBe('idle');
      await Promise.all([rt.stop(a, 'done'), rt.stop(b, 'done')]);
      await rt.close();
      return { log, a, b };
    }

    it('a shorter idle timeout departs for the session that idled longer than it, only', async () => {
      const { log, a } = await record();
      const plain = await replayLog(log, { dataDir: join(tmp(), 'plain') });
      expect(plain.divergence).toBeNull();

      const half = await replayLog(log, {
        dataDir: join(tmp(), 'half'),
        machine: sessionMachine.provide({ delays: { idleStopMs: 500 } }),
      });
      expect(half.divergence).toBeNull();
      expect(half.whatIf!.sessions).toHaveLength(2);
      expect(half.whatIf!.departures).toMatchObject([
        { sessionId: a, what: expect.stringMatching(/^the new machine's timer .*container\.idle \(after 500 ms\)/) },
      ]);

      const longer = await replayLog(log, {
        dataDir: join(tmp(), 'longer'),
        machine: sessionMachine.provide({ delays: { idleStopMs: 2000 } }),
      });
      expect(longer.whatIf!.departures).toEqual([]);
    });
  });
});
