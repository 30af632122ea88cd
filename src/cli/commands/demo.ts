/** `session-actors demo`: the scripted orchestrator of src/demo, end to end with real agents. */
import { runDemo } from '../../demo/demo.js';
import { defineCommand } from '../command.js';

export const demo = defineCommand({
  name: 'demo',
  summary: 'Runs a scripted orchestrator end to end: three channels, the bundled agent, an event log.',
  options: {
    data: { type: 'string', value: 'DIR', description: 'data directory (default .session-actors-demo, recreated)' },
    log: { type: 'string', value: 'FILE', description: 'event log path (default DIR.events.log)' },
  },
  async run({ values }, { io }) {
    const result = await runDemo({
      dataDir: values.data,
      logPath: values.log,
      write: (text) => io.stdout.write(text),
      tty: io.stdout.isTTY === true,
    });
    return result.delivered > 0 ? 0 : 1;
  },
});
