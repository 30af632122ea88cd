import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

describe('the package entry point', () => {
  it('exports every value API.md names', () => {
    const names = [
      'createRuntime',
      'RuntimeError',
      'processDriver',
      'dockerDriver',
      'replayLog',
      'digestDataDir',
      'toMermaid',
      'toJSON',
      'sessionMachine',
      'registryMachine',
      'readLog',
      'sessionEnv',
    ] as const;
    for (const name of names) expect(typeof api[name], name).toMatch(/function|object/);
    expect(api.ERROR_CODES).toEqual([
      'INVALID_ID',
      'INVALID_INPUT',
      'UNKNOWN_SESSION',
      'UNKNOWN_AGENT_GROUP',
      'SESSION_CLOSED',
      'CONTAINER_RUNNING',
      'TOO_LARGE',
      'RUNTIME_CLOSED',
      'STORAGE',
      'DATA_DIR_LOCKED',
      'READ_ONLY',
      'BUSY',
    ]);
  });

  it('rejects createRuntime without a data dir with a RuntimeError, not a throw', async () => {
    const result = api.createRuntime({} as never);
    await expect(result).rejects.toBeInstanceOf(api.RuntimeError);
    await expect(result).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('prints both machines as Mermaid and JSON', () => {
    expect(api.toMermaid(api.sessionMachine)).toMatch(/^stateDiagram-v2/);
    expect(api.toJSON(api.registryMachine).root.states.map((s) => s.key)).toEqual(['ready', 'resolving']);
  });

  it('gives a custom driver the session environment of the container contract', () => {
    const ctx = {
      sessionId: 'sess-1',
      agentGroupId: 'ag',
      sessionDir: '/data/s',
      inboundDbPath: '/data/s/inbound.db',
      outboundDbPath: '/data/s/outbound.db',
      heartbeatPath: '/data/s/.heartbeat',
    };
    expect(api.sessionEnv(ctx)).toEqual({
      SESSION_DIR: '/data/s',
      INBOUND_DB: '/data/s/inbound.db',
      OUTBOUND_DB: '/data/s/outbound.db',
      HEARTBEAT_PATH: '/data/s/.heartbeat',
      SESSION_ID: 'sess-1',
      AGENT_GROUP_ID: 'ag',
    });
  });
});
