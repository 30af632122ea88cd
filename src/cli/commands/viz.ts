/** `session-actors viz`: prints a statechart as Mermaid, JSON or SVG (rendered offline). */
import { registryMachine } from '../../../machines/registry.machine.js';
import { sessionMachine } from '../../../machines/session.machine.js';
import { toJSON, toMermaid, toSVG } from '../../viz/index.js';
import { defineCommand } from '../command.js';

const MACHINES = { session: sessionMachine, registry: registryMachine };

export const viz = defineCommand({
  name: 'viz',
  summary: 'Prints a statechart of the runtime (Mermaid stateDiagram-v2, JSON or SVG).',
  options: {
    format: { type: 'string', choices: ['mermaid', 'json', 'svg'], default: 'mermaid', description: 'output format' },
    machine: { type: 'string', choices: ['session', 'registry'], default: 'session', description: 'which machine' },
  },
  async run({ values }, { io }) {
    const machine = MACHINES[values.machine as keyof typeof MACHINES];
    if (values.format === 'svg') io.stdout.write(await toSVG(machine));
    else if (values.format === 'json') io.stdout.write(`${JSON.stringify(toJSON(machine), null, 2)}\n`);
    else io.stdout.write(`${toMermaid(machine)}\n`);
    return 0;
  },
});
