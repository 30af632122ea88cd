/**
 * Long tools are not killed (issue 10 item 6): while the container's `container_state` declares a
 * `current_tool` with a `tool_declared_timeout_ms`, a silent container is tolerated for that
 * timeout plus a margin (`TOOL_MARGIN_MS`), both while it holds a claim and under the heartbeat
 * ceiling, as NanoClaw's host sweep does for its Bash tool. The test plays the container: it
 * claims the message and writes `container_state` itself; the heartbeat never moves.
 *
 * Before this, `container_state` was not read: a container running a declared ten-minute tool
 * was killed after `claimSilenceMs` of silence.
 */
import { describe, expect, it } from 'vitest';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { TOOL_MARGIN_MS } from '../../src/runtime/supervisor.js';
import { withOutbound } from '../../src/testing/container-files.js';
import { TestClock } from '../../src/testing/index.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { T0 } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

const POLL_MS = 5000;
const CLAIM_SILENCE_MS = 20_000;
const TOOL_TIMEOUT_MS = 60_000;
/** What a declared tool extends both tolerances to. */
const EXTENDED_MS = TOOL_TIMEOUT_MS + TOOL_MARGIN_MS;

async function setup(options: { heartbeatCeilingMs?: number; claim?: boolean } = {}) {
  const clock = new TestClock(T0);
  const driver = fakeDriver();
  const rt = await createRuntime({
    dataDir: tmp(),
    clock,
    driver,
    ids: sequentialIds(),
    pollMs: POLL_MS,
    claimSilenceMs: CLAIM_SILENCE_MS,
    heartbeatCeilingMs: options.heartbeatCeilingMs ?? 3_600_000,
    idleStopMs: 3_600_000,
  });
  await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  const { session } = await rt.resolveSession({
    agentGroupId: 'ag',
    messagingGroupId: null,
    threadId: null,
    mode: 'shared',
  });
  const outbound = rt.paths.outboundDbPath('ag', session.id);
  if (options.claim === false) {
    await rt.wake(session.id);
  } else {
    await rt.writeMessage(session.id, { id: 'm1', kind: 'chat', timestamp: new Date(T0).toISOString(), content: '{}' });
  }
  await rt.whenIdle();
  expect(driver.started).toHaveLength(1);
  if (options.claim !== false) {
    withOutbound(outbound, (db) =>
      db.prepare("INSERT INTO processing_ack VALUES ('m1', 'processing', '2026-01-01 00:00:00')").run(),
    );
  }
  /** Plays the container declaring (or clearing) its current tool. */
  const tool = (currentTool: string | null, timeoutMs: number | null) =>
    withOutbound(outbound, (db) =>
      db
        .prepare(
          `INSERT INTO container_state (id, current_tool, tool_declared_timeout_ms, tool_started_at, updated_at)
           VALUES (1, ?, ?, '2026-01-01 00:00:00', '2026-01-01 00:00:00')
           ON CONFLICT(id) DO UPDATE SET current_tool = excluded.current_tool,
             tool_declared_timeout_ms = excluded.tool_declared_timeout_ms`,
        )
        .run(currentTool, timeoutMs),
    );
  /** Polls until the clock reads T0 + `ms`; returns the container status then. */
  const until = async (ms: number) => {
    while (clock.now() < T0 + ms) {
      clock.set(Math.min(clock.now() + POLL_MS, T0 + ms));
      await rt.whenIdle();
    }
    return rt.containerStatus(session.id);
  };
  return { rt, driver, tool, until };
}

async function closing(rt: Runtime, fn: () => Promise<void>) {
  try {
    await fn();
  } finally {
    await rt.close();
  }
}

describe('a silent container holding a claim', () => {
  it('while it declares a tool with a timeout: kept until that timeout plus the margin, then killed', async () => {
    const { rt, driver, tool, until } = await setup();
    await closing(rt, async () => {
      tool('Bash', TOOL_TIMEOUT_MS);
      expect(await until(EXTENDED_MS - POLL_MS)).not.toBe('stopped');
      expect(await until(EXTENDED_MS)).toBe('stopped');
      expect(driver.started[0]!.stopReasons).toEqual([expect.stringMatching(/holding claimed work/)]);
    });
  });

  it('without container_state: killed after claimSilenceMs, as before', async () => {
    const { rt, driver, until } = await setup();
    await closing(rt, async () => {
      expect(await until(CLAIM_SILENCE_MS - POLL_MS)).not.toBe('stopped');
      expect(await until(CLAIM_SILENCE_MS)).toBe('stopped');
      expect(driver.started[0]!.stopReasons).toEqual([expect.stringMatching(/holding claimed work/)]);
    });
  });

  it('a tool without a declared timeout, or a timeout without a tool, changes nothing', async () => {
    for (const [name, timeout] of [
      ['Bash', null],
      [null, TOOL_TIMEOUT_MS],
    ] as const) {
      const { rt, tool, until } = await setup();
      await closing(rt, async () => {
        tool(name, timeout);
        expect(await until(CLAIM_SILENCE_MS - POLL_MS)).not.toBe('stopped');
        expect(await until(CLAIM_SILENCE_MS)).toBe('stopped');
      });
    }
  });

  it('once the tool is over, the usual tolerance applies again: killed at the next poll', async () => {
    const { rt, tool, until } = await setup();
    await closing(rt, async () => {
      tool('Bash', TOOL_TIMEOUT_MS);
      expect(await until(40_000)).not.toBe('stopped');
      tool(null, null);
      expect(await until(40_000 + POLL_MS)).toBe('stopped');
    });
  });
});

describe('the heartbeat ceiling', () => {
  it('extends to a declared tool timeout plus the margin', async () => {
    const { rt, driver, tool, until } = await setup({ heartbeatCeilingMs: 20_000, claim: false });
    await closing(rt, async () => {
      tool('Bash', TOOL_TIMEOUT_MS);
      expect(await until(EXTENDED_MS - POLL_MS)).not.toBe('stopped');
      expect(await until(EXTENDED_MS)).toBe('stopped');
      expect(driver.started[0]!.stopReasons).toEqual([expect.stringMatching(/no heartbeat/)]);
    });
  });

  it('without a declared tool: killed after heartbeatCeilingMs, as before', async () => {
    const { rt, until } = await setup({ heartbeatCeilingMs: 20_000, claim: false });
    await closing(rt, async () => {
      expect(await until(20_000 - POLL_MS)).not.toBe('stopped');
      expect(await until(20_000)).toBe('stopped');
    });
  });
});
