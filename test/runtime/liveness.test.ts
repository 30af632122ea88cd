/**
 * Long tools are not killed (issue 10 item 6): while the container's `container_state` declares a
 * `current_tool` with a `tool_declared_timeout_ms`, a silent container is tolerated for that
 * timeout plus a margin (`TOOL_MARGIN_MS`), both while it holds a claim and under the heartbeat
 * ceiling, as NanoClaw's host sweep does for its Bash tool. The test kit's fake container claims
 * the message and goes silent (`turn.hang()`: its heartbeat never moves again); the test declares
 * and clears its tool with `setTool`/`clearTool`.
 *
 * Before this, `container_state` was not read: a container running a declared ten-minute tool
 * was killed after `claimSilenceMs` of silence.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TOOL_MARGIN_MS } from '../../src/runtime/supervisor.js';
import { createTestRuntime, TEST_START, turn, type TestRuntime } from '../../src/testing/index.js';

const POLL_MS = 5000;
const CLAIM_SILENCE_MS = 20_000;
const TOOL_TIMEOUT_MS = 60_000;
/** What a declared tool extends both tolerances to. */
const EXTENDED_MS = TOOL_TIMEOUT_MS + TOOL_MARGIN_MS;

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A silent container: it claimed `m1` (unless `claim` is false) and went quiet at TEST_START. */
async function setup(options: { heartbeatCeilingMs?: number; claim?: boolean } = {}) {
  const claim = options.claim !== false;
  t = await createTestRuntime({
    agent: () => turn.hang(),
    pollMs: POLL_MS,
    claimSilenceMs: CLAIM_SILENCE_MS,
    heartbeatCeilingMs: options.heartbeatCeilingMs ?? 3_600_000,
    idleStopMs: 3_600_000,
  });
  const kit = t;
  await kit.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  const { session } = await kit.runtime.resolveSession({
    agentGroupId: 'ag',
    messagingGroupId: null,
    threadId: null,
    mode: 'shared',
  });
  if (claim) await kit.runtime.writeMessage(session.id, kit.chat('m1', 'a long job'));
  else await kit.runtime.wake(session.id);
  await kit.settle();
  const container = kit.driver.running(session.id)!;
  // With nothing to claim it would keep polling and beating: silence it by hand.
  if (!claim) container.hang();
  expect(container.state).toBe('hung');
  expect(container.claimed).toEqual(claim ? ['m1'] : []);
  /** Moves the clock to TEST_START + `ms`; returns the silent container's state then ('exited' once killed). */
  const until = async (ms: number) => {
    await kit.clock.advance(TEST_START + ms - kit.clock.now());
    return container.state;
  };
  return { container, until };
}

describe('a silent container holding a claim', () => {
  it('while it declares a tool with a timeout: kept until that timeout plus the margin, then killed', async () => {
    const { container, until } = await setup();
    container.setTool('Bash', TOOL_TIMEOUT_MS);
    expect(await until(EXTENDED_MS - POLL_MS)).toBe('hung');
    expect(await until(EXTENDED_MS)).toBe('exited');
    expect(container.stopReasons).toEqual([expect.stringMatching(/holding claimed work/)]);
  });

  it('without container_state: killed after claimSilenceMs, as before', async () => {
    const { container, until } = await setup();
    expect(await until(CLAIM_SILENCE_MS - POLL_MS)).toBe('hung');
    expect(await until(CLAIM_SILENCE_MS)).toBe('exited');
    expect(container.stopReasons).toEqual([expect.stringMatching(/holding claimed work/)]);
  });

  it('a tool without a declared timeout, or a timeout without a tool, changes nothing', async () => {
    for (const [name, timeout] of [
      ['Bash', null],
      [null, TOOL_TIMEOUT_MS],
    ] as const) {
      const { container, until } = await setup();
      container.setTool(name, timeout);
      expect(await until(CLAIM_SILENCE_MS - POLL_MS)).toBe('hung');
      expect(await until(CLAIM_SILENCE_MS)).toBe('exited');
      await t!.close();
    }
  });

  it('once the tool is over, the usual tolerance applies again: killed at the next poll', async () => {
    const { container, until } = await setup();
    container.setTool('Bash', TOOL_TIMEOUT_MS);
    expect(await until(40_000)).toBe('hung');
    container.clearTool();
    expect(await until(40_000 + POLL_MS)).toBe('exited');
    expect(container.stopReasons).toEqual([expect.stringMatching(/holding claimed work/)]);
  });
});

describe('the heartbeat ceiling', () => {
  it('extends to a declared tool timeout plus the margin', async () => {
    const { container, until } = await setup({ heartbeatCeilingMs: 20_000, claim: false });
    container.setTool('Bash', TOOL_TIMEOUT_MS);
    expect(await until(EXTENDED_MS - POLL_MS)).toBe('hung');
    expect(await until(EXTENDED_MS)).toBe('exited');
    expect(container.stopReasons).toEqual([expect.stringMatching(/no heartbeat/)]);
  });

  it('without a declared tool: killed after heartbeatCeilingMs, as before', async () => {
    const { container, until } = await setup({ heartbeatCeilingMs: 20_000, claim: false });
    expect(await until(20_000 - POLL_MS)).toBe('hung');
    expect(await until(20_000)).toBe('exited');
    expect(container.stopReasons).toEqual([expect.stringMatching(/no heartbeat/)]);
  });
});
