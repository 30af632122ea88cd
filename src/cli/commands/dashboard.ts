/**
 * `session-actors dashboard --data DIR [--port N]`: the dashboard over a data directory, through
 * a read-only observer runtime, so it can watch another process's live orchestrator.
 *
 * Invariants (test/dashboard/cli.test.ts):
 * 1. Never creates or changes anything: a path without a data directory is refused (exit 2)
 *    before any open; the runtime is an observer (`readOnly: true`, driver `none`).
 * 2. Serves until interrupted, then closes the dashboard and the observer and exits 0.
 */
import { resolve } from 'node:path';
import { createRuntime } from '../../runtime/runtime.js';
import { defineCommand } from '../command.js';
import { assertExistingDataDir } from '../data-dir.js';
import { openDashboard, parsePort, PORT_OPTION, untilInterrupted } from '../serve-dashboard.js';

export const dashboard = defineCommand({
  name: 'dashboard',
  summary: 'Serves the live dashboard of a data directory, read-only (watches a running orchestrator).',
  options: {
    data: { type: 'string', value: 'DIR', default: '.session-actors-demo', description: 'data directory' },
    port: PORT_OPTION,
    host: { type: 'string', value: 'ADDR', default: '127.0.0.1', description: 'address to listen on' },
  },
  async run({ values }, { io }) {
    const dataDir = resolve(values.data);
    const port = parsePort(values.port);
    assertExistingDataDir(dataDir);
    const rt = await createRuntime({ dataDir, driver: 'none', readOnly: true });
    try {
      const served = await openDashboard(rt, { port, host: values.host, title: `session-actors · ${dataDir}` }, io);
      io.stdout.write(`read-only view of ${dataDir}; Ctrl-C stops\n`);
      await untilInterrupted();
      await served.close();
    } finally {
      await rt.close();
    }
    return 0;
  },
});
