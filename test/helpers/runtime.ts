import { SimulatedClock } from 'xstate';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime/runtime.js';
import { sequentialIds } from '../../src/runtime/clock.js';

export const T0 = Date.UTC(2026, 0, 1);

/** A runtime on a simulated clock with sequential ids and no containers, plus two groups. */
export async function testRuntime(dataDir: string, options: Partial<RuntimeOptions> = {}) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const rt: Runtime = await createRuntime({ dataDir, driver: 'none', clock, ids: sequentialIds(), ...options });
  await rt.upsertAgentGroup({ id: 'ag-main', name: 'Main' });
  await rt.upsertMessagingGroup({ id: 'mg-slack', channelType: 'slack', platformId: 'C123' });
  return { rt, clock };
}

export function chat(id: string, text: string, extra: Record<string, unknown> = {}) {
  return { id, kind: 'chat', timestamp: new Date(T0).toISOString(), content: JSON.stringify({ text }), ...extra };
}
