/** `session-actors viz`: prints a statechart as Mermaid or JSON. */
import { registryMachine } from '../../../machines/registry.machine.js';
import { sessionMachine } from '../../../machines/session.machine.js';
import { toJSON, toMermaid } from '../../viz/index.js';
import { defineCommand } from '../command.js';

const MACHINES = { session: sessionMachine, registry: registryMachine };

export const viz = defineCommand({
  name: 'viz',
  summary: 'Prints a statechart of the runtime (Mermaid stateDiagram-v2 or JSON).',
  options: {
    format: { type: 'string', choices: ['mermaid', 'json'], default: 'mermaid', description: 'output format' },
    machine: { type: 'string', choices: ['session', 'registry'], default: 'session', description: 'which machine' },
  },
  async run({ values }, { io }) {
    const machine = MACHINES[values.machine as keyof typeof MACHINES];
    io.stdout.write(
      values.format === 'json' ? `${JSON.stringify(toJSON(machine), null, 2)}\n` : `${toMermaid(machine)}\n`,
    );
    return 0;
  },
});
