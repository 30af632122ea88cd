/**
 * `session-actors status`: the sessions of a data directory, read-only.
 *
 * Invariants (test/cli/status.test.ts):
 * 1. Never creates anything: a path that does not exist or holds no `v2.db` is refused (exit 2)
 *    before any open ("never creates a data directory").
 * 2. Opens the directory as an observer (`readOnly: true`, driver `none`): no container is
 *    started or stopped, and the runtime is closed on every path.
 * 3. `--json` prints one JSON document, `{ dataDir, sessions: [...] }`, and nothing else.
 */
import { resolve } from 'node:path';
import { createRuntime } from '../../runtime/runtime.js';
import type { SessionInfo, SessionMode } from '../../runtime/types.js';
import type { Style } from '../color.js';
import { defineCommand } from '../command.js';
import { assertExistingDataDir } from '../data-dir.js';
import { textTable } from '../text-table.js';

/** One session as `status --json` prints it. */
export interface StatusSession extends SessionInfo {
  mode: SessionMode | null;
  messageCounts: { messagesIn: number; messagesOut: number; delivered: number; failed: number };
}

const STATUS_COLOR: Record<string, keyof Omit<Style, 'enabled'>> = {
  running: 'green',
  idle: 'yellow',
  stopped: 'dim',
  closed: 'dim',
};

export const status = defineCommand({
  name: 'status',
  summary: 'Lists the sessions of a data directory: mode, container status, message counts (read-only).',
  options: {
    data: { type: 'string', value: 'DIR', default: '.session-actors-demo', description: 'data directory' },
    json: { type: 'boolean', description: 'print JSON instead of a table' },
  },
  async run({ values }, { io, style }) {
    const dataDir = resolve(values.data);
    assertExistingDataDir(dataDir);
    const rt = await createRuntime({ dataDir, driver: 'none', readOnly: true });
    const sessions: StatusSession[] = [];
    try {
      for (const s of rt.listSessions()) {
        const counts = await rt.messageCounts(s.id);
        sessions.push({
          ...s,
          mode: rt.sessionMode(s.id) ?? null,
          messageCounts: {
            messagesIn: counts.messagesIn,
            messagesOut: counts.messagesOut,
            delivered: counts.delivered,
            failed: counts.failed,
          },
        });
      }
    } finally {
      await rt.close();
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ dataDir, sessions }, null, 2)}\n`);
      return 0;
    }
    if (sessions.length === 0) {
      io.stdout.write(`no sessions in ${dataDir}\n`);
      return 0;
    }
    const rows = [['session', 'agent group', 'mode', 'status', 'container', 'in', 'out', 'last active']];
    for (const s of sessions) {
      rows.push([
        s.id,
        s.agentGroupId,
        s.mode ?? '?',
        s.status,
        s.containerStatus,
        String(s.messageCounts.messagesIn),
        String(s.messageCounts.messagesOut),
        s.lastActive ?? '-',
      ]);
    }
    const lines = textTable(rows, (row, column, cell) => {
      if (row === 0) return style.bold(cell);
      const color = column === 3 || column === 4 ? STATUS_COLOR[cell.trim()] : undefined;
      return color === undefined ? cell : style[color](cell);
    });
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
});
