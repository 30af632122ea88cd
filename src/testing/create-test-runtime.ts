/**
 * `createTestRuntime(options)`: a runtime set up for deterministic tests of an orchestrator — a
 * simulated clock at a fixed start, sequential ids, a temporary data directory, recording channel
 * adapters and a scripted in-process container driver.
 *
 * Invariants (test/testing/create-test-runtime.test.ts):
 * 1. Nothing depends on wall time: every timestamp and timer of the runtime and of the fake
 *    containers comes from `clock` ("the same script gives the same data directory").
 * 2. `close()` closes the runtime and removes the temporary data directory (a `dataDir` given in
 *    the options is left in place); calling it twice is harmless.
 * 3. `settle()` and `clock.advance()` wait with `runtime.whenIdle()` and for the fake containers'
 *    exits to be reported, firing the timers that fall due meanwhile.
 * 4. `reopen()` closes the runtime and opens another on the same data directory with the same
 *    id source, the clock going on from where it stood; the directory is then the new one's to
 *    remove ("reopen continues on the same data directory").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRuntimeError } from '../errors.js';
import { sequentialIds } from '../runtime/clock.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../runtime/runtime.js';
import type { IdSource } from '../runtime/clock.js';
import type { ChannelAdapter, InboundMessage, RuntimeEvents } from '../runtime/types.js';
import type { FakeAgentScript } from './fake-agent.js';
import { fakeContainerDriver, type FakeContainerDriver } from './fake-driver.js';
import { recordingChannels, type RecordingChannels } from './recording-channels.js';
import { TestClock } from './test-clock.js';

/** 2026-01-01T00:00:00.000Z, where the clock starts unless told otherwise. */
export const TEST_START = Date.UTC(2026, 0, 1);

export interface TestRuntimeOptions extends Omit<RuntimeOptions, 'dataDir' | 'clock' | 'driver' | 'channels'> {
  /** Where the clock starts (ms since the epoch, or a Date); default `TEST_START`. */
  start?: number | Date;
  /** The data directory; default a fresh temporary one, removed by `close()`. */
  dataDir?: string;
  /** What the fake agent does with each message it claims; default: echo. */
  agent?: FakeAgentScript;
  /** The fake containers' poll interval on the clock; default 100 ms. */
  agentPollMs?: number;
  /** A fake container exits 0 after this long without work; default never. */
  agentIdleExitMs?: number;
  /** Another driver instead of the fake one (`'none'`, `'process'`, your own). */
  driver?: RuntimeOptions['driver'];
  /**
   * Your own channel adapters instead of the recording ones; `null` gives none, so the runtime's
   * default applies (the console adapter prints every delivery).
   */
  channels?: Record<string, ChannelAdapter> | null;
  /**
   * Record only these channel types: the others have no adapter, so a delivery to them fails
   * "no adapter", as with a misspelt type in a real configuration. Default: every type.
   */
  channelTypes?: readonly string[];
}

/** The payload of runtime event `E`. */
export type EventPayload<E extends keyof RuntimeEvents> = Parameters<RuntimeEvents[E]>[0];

export interface TestRuntime {
  readonly runtime: Runtime;
  readonly clock: TestClock;
  /** What the channels received (empty when `channels` was given). */
  readonly channels: RecordingChannels;
  /** The fake driver (its containers, its script), also when another driver was given. */
  readonly driver: FakeContainerDriver;
  readonly dataDir: string;
  /** Every `error` event of the runtime, in order. */
  readonly errors: Error[];
  /** A chat message stamped with the clock's time: content `{"text": text}`, then `extra`. */
  chat(id: string, text: string, extra?: Partial<InboundMessage>): InboundMessage;
  /** The payload of the next `event` (optionally the next one `where` accepts). */
  next<E extends keyof RuntimeEvents>(
    event: E,
    where?: (payload: EventPayload<E>) => boolean,
  ): Promise<EventPayload<E>>;
  /**
   * A list the runtime's `event`s fill from now on (those `where` accepts), in emission order:
   * assert on it after `settle()` or `clock.advance()`, and on what did not happen too.
   *
   * ```ts
   * const statuses = t.record('container.status');
   * await t.clock.advance(5_000);
   * expect(statuses.map((e) => e.to)).toEqual(['running', 'idle', 'stopped']);
   * ```
   */
  record<E extends keyof RuntimeEvents>(event: E, where?: (payload: EventPayload<E>) => boolean): EventPayload<E>[];
  /** Fires the timers due now and waits until the runtime has nothing left to do. */
  settle(): Promise<void>;
  /**
   * The orchestrator restarts: closes this runtime (when the test has not already) and opens
   * another on the same data directory, with this one's options overridden by `options`, the same
   * id source (no id minted twice), fresh recording channels and fake driver, and a clock starting
   * where this one stands (or at `options.start`). The data directory is then the new runtime's:
   * its `close()` removes it (when temporary), this one's no longer does. Between `runtime.close()`
   * and `reopen()` a test may change what the next process finds on disk.
   *
   * ```ts
   * await t.runtime.close();
   * const after = await t.reopen({ start: t.clock.now() + 60_000 });
   * ```
   */
  reopen(options?: Omit<TestRuntimeOptions, 'dataDir'>): Promise<TestRuntime>;
  /** Closes the runtime and removes the temporary data directory. */
  close(): Promise<void>;
}

/**
 * Creates the runtime. Example:
 *
 * ```ts
 * const t = await createTestRuntime({ agent: (m) => turn.reply({ text: `hi ${m.text}` }) });
 * ```
 */
export async function createTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const { dataDir, ...rest } = options;
  const ids = options.ids ?? sequentialIds();
  if (dataDir !== undefined) return open({ ...rest, ids }, dataDir, false);
  return open({ ...rest, ids }, mkdtempSync(join(tmpdir(), 'session-actors-test-')), true);
}

/** Opens a test runtime on `dataDir`; `ownsDir`: the directory is removed on close (and on failure). */
async function open(
  options: Omit<TestRuntimeOptions, 'dataDir'> & { ids: IdSource },
  dataDir: string,
  ownsDir: boolean,
): Promise<TestRuntime> {
  const { start, agent, agentPollMs, agentIdleExitMs, driver, channels, channelTypes, ...rest } = options;
  let owns = ownsDir;
  const clock = new TestClock(start ?? TEST_START);
  const recording = recordingChannels(channelTypes);
  const fake = fakeContainerDriver({ clock, script: agent, pollMs: agentPollMs, idleExitMs: agentIdleExitMs });
  let runtime: Runtime;
  try {
    runtime = await createRuntime({
      ...rest,
      dataDir,
      clock,
      driver: driver ?? fake,
      ...(channels === null ? {} : { channels: channels ?? recording.adapters }),
    });
  } catch (error) {
    if (owns) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const errors: Error[] = [];
  runtime.on('error', (e) => errors.push(e.error));

  const settle = async (): Promise<void> => {
    for (let round = 0; round < 1000; round++) {
      clock.fireDue();
      await fake.quiet();
      // whenIdle waits for the runtime's own due timers; a fake container's 0 ms timer is ours to fire.
      let stopWaiting = (): void => undefined;
      const dueNow = new Promise<void>((resolve) => (stopWaiting = clock.onDueNow(resolve) as () => void));
      await Promise.race([runtime.whenIdle(), dueNow]);
      stopWaiting();
      const next = clock.nextDue();
      if ((next === undefined || next > clock.now()) && fake.unreportedExits === 0) return;
    }
    throw new Error('the runtime never settled: timers keep falling due at the same instant');
  };
  clock.setSettle(settle);

  const closeRuntime = async (): Promise<void> => {
    try {
      await runtime.close();
    } catch (error) {
      // Closed already by the test itself: nothing left to do.
      if (!isRuntimeError(error) || error.code !== 'RUNTIME_CLOSED') throw error;
    }
  };

  let closed: Promise<void> | undefined;
  return {
    runtime,
    clock,
    channels: recording,
    driver: fake,
    dataDir,
    errors,
    chat: (id, text, extra = {}) => ({
      id,
      kind: 'chat',
      timestamp: new Date(clock.now()).toISOString(),
      content: JSON.stringify({ text }),
      ...extra,
    }),
    next: (event, where) =>
      new Promise((resolve) => {
        const listener = (payload: never) => {
          if (where !== undefined && !where(payload)) return;
          runtime.off(event, listener as never);
          resolve(payload);
        };
        runtime.on(event, listener as never);
      }),
    record(event, where) {
      const seen: EventPayload<typeof event>[] = [];
      runtime.on(event, ((payload: EventPayload<typeof event>) => {
        if (where === undefined || where(payload)) seen.push(payload);
      }) as never);
      return seen;
    },
    settle,
    async reopen(overrides = {}) {
      if (closed !== undefined) throw new Error('reopen() after close(): the data directory is gone');
      await closeRuntime();
      const next = await open({ ...options, start: clock.now(), ...overrides }, dataDir, owns);
      owns = false;
      return next;
    },
    close() {
      closed ??= (async () => {
        try {
          await closeRuntime();
        } finally {
          if (owns) rmSync(dataDir, { recursive: true, force: true });
        }
      })();
      return closed;
    },
  };
}
