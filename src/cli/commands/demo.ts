/**
 * `session-actors demo`: the scripted orchestrator of src/demo, end to end with real agents. With
 * `--dashboard` it serves the live dashboard of the demo's runtime, starts the script when a page
 * connects (or after `DASHBOARD_WAIT_MS`), and keeps serving after the script until interrupted
 * (test/dashboard/cli.test.ts).
 */
import { runDemo } from '../../demo/demo.js';
import type { Dashboard } from '../../dashboard/server.js';
import { defineCommand, UsageError } from '../command.js';
import { openDashboard, parsePort, PORT_OPTION, untilInterrupted } from '../serve-dashboard.js';

/** How long `demo --dashboard` waits for a page to connect before the script starts anyway. */
const DASHBOARD_WAIT_MS = 15_000;

export const demo = defineCommand({
  name: 'demo',
  summary: 'Runs a scripted orchestrator end to end: three channels, the bundled agent, an event log.',
  options: {
    data: { type: 'string', value: 'DIR', description: 'data directory (default .session-actors-demo, recreated)' },
    log: { type: 'string', value: 'FILE', description: 'event log path (default DIR.events.log)' },
    dashboard: { type: 'boolean', description: 'serve the live dashboard; keep serving after the script until Ctrl-C' },
    port: PORT_OPTION,
  },
  async run({ values }, { io }) {
    const port = parsePort(values.port);
    if (values.port !== undefined && !values.dashboard) throw new UsageError('--port needs --dashboard');
    let served: Dashboard | undefined;
    const result = await runDemo({
      dataDir: values.data,
      logPath: values.log,
      write: (text) => io.stdout.write(text),
      tty: io.stdout.isTTY === true,
      ...(values.dashboard
        ? {
            onRuntime: async (rt) => {
              served = await openDashboard(rt, { port, title: 'session-actors demo' }, io);
              io.stdout.write(`open it to watch: the script starts when the page connects (or in 15 s)\n\n`);
              let timer: ReturnType<typeof setTimeout> | undefined;
              await Promise.race([
                served.connected,
                new Promise<void>((resolve) => (timer = setTimeout(resolve, DASHBOARD_WAIT_MS))),
              ]);
              clearTimeout(timer);
            },
            beforeClose: async () => {
              io.stdout.write(`\nscript done; the dashboard keeps serving at ${served!.url} until Ctrl-C\n`);
              await untilInterrupted();
              await served!.close();
            },
          }
        : {}),
    });
    return result.delivered > 0 ? 0 : 1;
  },
});
