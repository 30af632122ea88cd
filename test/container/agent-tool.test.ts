/**
 * The scripted long tool of the reference agent: `container_state` tells the host which tool runs,
 * with what declared timeout, since when — while the heartbeat stays silent — and is cleared after.
 */
import { describe, expect, it } from 'vitest';
import type { ToolInFlight } from '../../src/container/agent/tool-state.js';
import { readOutbound } from '../../src/store/session-db.js';
import { useAgentSessions, waitFor, type TestSession } from './helpers.js';

const { session, start } = useAgentSessions();

function toolState(s: TestSession): ToolInFlight | undefined {
  return readOutbound(
    s.ctx.outboundDbPath,
    (db) =>
      db
        .prepare(
          'SELECT current_tool, tool_declared_timeout_ms, tool_started_at, updated_at FROM container_state WHERE id = 1',
        )
        .get() as ToolInFlight | undefined,
  );
}

const longTool = (sleepMs: number) =>
  JSON.stringify({ text: 'build', tool: { name: 'Bash', timeoutMs: 900_000, sleepMs } });

describe('reference agent long tool', () => {
  it('container_state holds the tool while it runs and is cleared after; no heartbeat meanwhile', async () => {
    const s = session();
    s.write({ id: 'long', content: longTool(1500) });
    const before = Date.now();
    const { lines } = await start(s);
    const running = await waitFor(() => toolState(s)?.current_tool === 'Bash' && toolState(s), 'tool recorded');
    expect(running.tool_declared_timeout_ms).toBe(900_000);
    expect(running.tool_started_at).not.toBeNull();
    expect(Date.parse(running.tool_started_at ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(running.updated_at).toBe(running.tool_started_at);
    // Claimed before the tool, answered only after it.
    expect(s.acks().get('long')).toBe('processing');
    expect(s.outbound()).toEqual([]);

    // Each sample reads the heartbeat first, then the state: a state still naming the tool proves
    // the heartbeat was read while the tool ran.
    const beat = s.heartbeatMtimeMs();
    expect(beat).toBeDefined();
    let samples = 0;
    const cleared = await waitFor(() => {
      const mtime = s.heartbeatMtimeMs();
      const state = toolState(s);
      if (state?.current_tool === 'Bash') {
        expect(mtime).toBe(beat);
        samples++;
        return false;
      }
      return state;
    }, 'tool cleared');
    expect(samples).toBeGreaterThanOrEqual(5);
    expect(cleared).toMatchObject({ current_tool: null, tool_declared_timeout_ms: null, tool_started_at: null });
    expect(Date.parse(cleared.updated_at)).toBeGreaterThanOrEqual(Date.parse(running.updated_at));

    await waitFor(() => s.acks().get('long') === 'completed', 'turn finished');
    expect(s.outbound().map((r) => [r.in_reply_to, r.content])).toEqual([['long', '{"text":"echo: build"}']]);
    // Log lines travel through a pipe: the turn's last line follows the tool's.
    await waitFor(() => lines.some((l) => l.includes('answered long')), 'turn logged');
    expect(lines.filter((l) => l.includes('tool Bash'))).toEqual([
      expect.stringContaining('tool Bash running (declared timeout 900000 ms)'),
      expect.stringContaining('tool Bash done'),
    ]);
  });

  it('a container stopped mid-tool leaves the tool set; the next container clears it before its first poll', async () => {
    const s = session();
    s.write({ id: 'long', content: longTool(30_000) });
    const first = await start(s);
    await waitFor(() => toolState(s)?.current_tool === 'Bash', 'tool recorded');
    await first.handle.stop('test');
    expect(await first.exit).toEqual({ code: 0, signal: null });
    expect(toolState(s)?.current_tool).toBe('Bash');

    const hb = s.heartbeatMtimeMs() ?? 0;
    const second = await start(s);
    // The clear happens before the first poll, which touches the heartbeat.
    await waitFor(() => (s.heartbeatMtimeMs() ?? 0) > hb, 'first poll of the second container');
    expect(toolState(s)).toMatchObject({ current_tool: null, tool_declared_timeout_ms: null, tool_started_at: null });
    await waitFor(() => second.lines.some((l) => l.includes('cleared a tool left in flight')), 'clear logged');
    expect(s.outbound()).toEqual([]);
  });
});
