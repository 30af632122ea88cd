/**
 * Attaching Stately's inspector (`@statelyai/inspect`) to a runtime, offline.
 *
 * The runtime is one XState system: the registry actor is `registry`, each session actor is
 * `session:<sessionId>` (the same id after it is passivated and activated again), so an inspector
 * can follow every actor of the process through one stream: `rt.inspect(observer)` at any time,
 * or `createRuntime({ inspect: observer })` from the start.
 *
 * `createInspector(adapter)` turns XState's inspection events into Stately's serialisable ones and
 * hands them to your adapter's `send`: write them to a file, a socket, your own UI. Here they are
 * printed as JSON lines. (`createWebSocketInspector` needs Stately's relay server running and
 * retries every 5 s forever without one; `createBrowserInspector` does nothing in Node.)
 *
 *   node --import tsx examples/inspect.ts > inspection.jsonl
 *
 * test/dashboard/inspect-example.test.ts runs `inspectRun` and checks what arrives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createRuntime, type Runtime } from '../src/index.js';

/** Connects an inspector with your own transport to a running runtime; returns how to detach it. */
export function attachInspector(rt: Runtime, send: (event: StatelyInspectionEvent) => void): { detach(): void } {
  const inspector = createInspector({ send });
  const subscription = rt.inspect(inspector.inspect);
  return {
    detach() {
      subscription.unsubscribe();
      inspector.stop();
    },
  };
}

/**
 * A short run with an inspector attached: one agent group, one session, one message. Resolves
 * with every event the inspector sent, once they have all arrived (the inspector converts events
 * on a later turn of the event loop).
 */
export async function inspectRun(
  dataDir: string,
  send: (event: StatelyInspectionEvent) => void = () => undefined,
): Promise<{ sessionId: string; events: StatelyInspectionEvent[] }> {
  const events: StatelyInspectionEvent[] = [];
  const rt = await createRuntime({ dataDir, driver: 'none' });
  const inspector = attachInspector(rt, (event) => {
    events.push(event);
    send(event);
  });
  let sessionId: string;
  try {
    await rt.upsertAgentGroup({ id: 'ag-main', name: 'Main' });
    await rt.upsertMessagingGroup({ id: 'mg-slack', channelType: 'slack', platformId: 'C123' });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    sessionId = session.id;
    await rt.writeMessage(session.id, {
      id: 'msg-1',
      kind: 'chat',
      timestamp: new Date().toISOString(),
      content: JSON.stringify({ text: 'hello' }),
    });
  } finally {
    // The inspector converts each event in its own setTimeout(0); timers of equal delay run in the
    // order they were set, so one more after them runs once all of them have delivered.
    await new Promise((resolve) => setTimeout(resolve, 0));
    inspector.detach();
    await rt.close();
  }
  return { sessionId, events };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dataDir = mkdtempSync(join(tmpdir(), 'inspect-example-'));
  try {
    await inspectRun(dataDir, (event) => process.stdout.write(`${JSON.stringify(event)}\n`));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
