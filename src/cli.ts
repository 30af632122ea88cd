#!/usr/bin/env node
/**
 * The `session-actors` command: demo, status, viz (and replay, see src/eventlog).
 */
import { parseArgs } from 'node:util';
import { registryMachine } from '../machines/registry.machine.js';
import { sessionMachine } from '../machines/session.machine.js';
import { runDemo } from './demo/demo.js';
import { createRuntime } from './runtime/runtime.js';
import { toJSON, toMermaid } from './viz/index.js';

const USAGE = `usage:
  session-actors demo [--data DIR] [--log FILE]
  session-actors status [--data DIR]
  session-actors viz [--format mermaid|json] [--machine session|registry]`;

async function status(dataDir: string): Promise<void> {
  const rt = await createRuntime({ dataDir, driver: 'none' });
  try {
    const sessions = rt.listSessions();
    if (sessions.length === 0) {
      process.stdout.write(`no sessions in ${dataDir}\n`);
      return;
    }
    const rows = [['session', 'agent group', 'mode', 'status', 'container', 'in', 'out', 'last active']];
    for (const s of sessions) {
      const counts = await rt.messageCounts(s.id);
      rows.push([
        s.id,
        s.agentGroupId,
        rt.sessionMode(s.id) ?? '?',
        s.status,
        s.containerStatus,
        String(counts.messagesIn),
        String(counts.messagesOut),
        s.lastActive ?? '-',
      ]);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}\n`);
  } finally {
    await rt.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string' },
      log: { type: 'string' },
      format: { type: 'string', default: 'mermaid' },
      machine: { type: 'string', default: 'session' },
    },
    allowPositionals: true,
  });
  switch (command) {
    case 'demo': {
      const result = await runDemo({ dataDir: values.data, logPath: values.log });
      return result.delivered > 0 ? 0 : 1;
    }
    case 'status':
      await status(values.data ?? '.session-actors-demo');
      return 0;
    case 'viz': {
      const machine =
        values.machine === 'registry' ? registryMachine : values.machine === 'session' ? sessionMachine : undefined;
      if (machine === undefined || (values.format !== 'mermaid' && values.format !== 'json')) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      process.stdout.write(
        values.format === 'json' ? `${JSON.stringify(toJSON(machine), null, 2)}\n` : `${toMermaid(machine)}\n`,
      );
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`session-actors: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
