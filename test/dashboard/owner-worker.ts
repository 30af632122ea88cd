/**
 * Child process owning a data directory for the read-only dashboard test. It creates one session
 * and prints `session <id>`; then, per line on stdin, `wake` starts its container (printing
 * `running`), `stop` stops it (`stopped`), `exit` closes the runtime and exits.
 */
import { createInterface } from 'node:readline';
import type { ContainerDriver } from '../../src/container/driver.js';
import { createRuntime } from '../../src/runtime/runtime.js';

const [dataDir] = process.argv.slice(2) as [string];
const say = (text: string) => process.stdout.write(`${text}\n`);

/** A container that lives until it is stopped. */
const driver: ContainerDriver = {
  start: async () => {
    const exits: ((info: { code: number | null; signal: string | null }) => void)[] = [];
    return {
      stop: async () => {
        for (const cb of exits.splice(0)) cb({ code: 0, signal: null });
      },
      onExit: (cb) => void exits.push(cb),
    };
  },
};

const rt = await createRuntime({ dataDir, driver, pollMs: 60_000, autoWake: false });
await rt.upsertAgentGroup({ id: 'ag-owner', name: 'Owner' });
const { session } = await rt.resolveSession({
  agentGroupId: 'ag-owner',
  messagingGroupId: null,
  threadId: null,
  mode: 'shared',
});
say(`session ${session.id}`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'wake') {
    await rt.wake(session.id);
    say(rt.containerStatus(session.id));
  } else if (line === 'stop') {
    await rt.stop(session.id);
    say(rt.containerStatus(session.id));
  } else if (line === 'exit') {
    break;
  }
}
await rt.close();
process.exit(0);
