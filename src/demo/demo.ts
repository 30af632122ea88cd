/**
 * `session-actors demo`: a scripted orchestrator, end to end, on a fresh data directory.
 *
 * Three channels in the three session modes send messages (one with an attachment, one asking
 * for a file back); the bundled reference agent answers as a real child process; replies are
 * delivered to console channels; container status changes are shown as they happen; a summary
 * table closes the run. The runtime records its event log (JSONL, replayable with
 * `session-actors replay`) at the path it prints.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { processDriver } from '../container/process-driver.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import type { ChannelAdapter, SessionMode } from '../runtime/types.js';

export interface DemoOptions {
  dataDir?: string;
  logPath?: string;
  /** Where lines go (default stdout). */
  write?: (text: string) => void;
  /** Whether `write` is a terminal that can redraw a status line. */
  tty?: boolean;
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** Awaited once the runtime is up, before the script runs (`demo --dashboard` serves it here). */
  onRuntime?: (rt: Runtime) => Promise<void> | void;
  /** Awaited after the script, before the runtime closes (`demo --dashboard` keeps serving here). */
  beforeClose?: (rt: Runtime) => Promise<void> | void;
}

export interface DemoResult {
  dataDir: string;
  logPath: string;
  delivered: number;
  sessions: { id: string; mode: SessionMode | undefined; messagesIn: number; messagesOut: number; status: string }[];
}

interface Wire {
  channel: string;
  agentGroupId: string;
  messagingGroupId: string;
  platformId: string;
  threadId: string | null;
  mode: SessionMode;
}

const WIRES: Wire[] = [
  {
    channel: 'slack',
    agentGroupId: 'assistant',
    messagingGroupId: 'slack-general',
    platformId: 'C-general',
    threadId: null,
    mode: 'shared',
  },
  {
    channel: 'telegram',
    agentGroupId: 'assistant',
    messagingGroupId: 'tg-family',
    platformId: 'chat-42',
    threadId: 'topic-1',
    mode: 'per-thread',
  },
  {
    channel: 'telegram',
    agentGroupId: 'assistant',
    messagingGroupId: 'tg-family',
    platformId: 'chat-42',
    threadId: 'topic-2',
    mode: 'per-thread',
  },
  {
    channel: 'github',
    agentGroupId: 'reviewer',
    messagingGroupId: 'gh-api',
    platformId: 'acme/api',
    threadId: 'pr-7',
    mode: 'agent-shared',
  },
  {
    channel: 'github',
    agentGroupId: 'reviewer',
    messagingGroupId: 'gh-web',
    platformId: 'acme/web',
    threadId: 'pr-9',
    mode: 'agent-shared',
  },
];

/** What each wire sends: text, plus an attachment or a request for a file back. */
const SCRIPT: { wire: number; id: string; content: object }[] = [
  {
    wire: 0,
    id: 'slack-1',
    content: {
      text: 'hello team, notes attached',
      attachments: [
        { name: 'notes.txt', mimeType: 'text/plain', data: Buffer.from('standup at 10\n').toString('base64') },
      ],
    },
  },
  { wire: 0, id: 'slack-2', content: { text: 'second message, same shared session' } },
  {
    wire: 1,
    id: 'tg-1',
    content: { text: 'plan the trip', replyFile: { name: 'itinerary.txt', text: 'day 1: museum\n' } },
  },
  { wire: 2, id: 'tg-2', content: { text: 'groceries?' } },
  { wire: 3, id: 'gh-1', content: { text: 'review PR 7 please' } },
  { wire: 4, id: 'gh-2', content: { text: 'and PR 9 in the other repo' } },
];

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => pad(cell, widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

function short(sessionId: string): string {
  return sessionId.length > 14 ? `…${sessionId.slice(-10)}` : sessionId;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const tty = options.tty ?? process.stdout.isTTY === true;
  const dataDir = resolve(options.dataDir ?? '.session-actors-demo');
  const logPath = resolve(options.logPath ?? `${dataDir}.events.log`);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dirname(logPath), { recursive: true });
  const started = Date.now();
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(2).padStart(5, '0')}]`;

  let statusLine = '';
  const println = (text: string) => {
    if (tty && statusLine !== '') write('\r\u001b[2K');
    write(`${text}\n`);
    if (tty && statusLine !== '') write(statusLine);
  };

  // Each reply is printed with the address it was delivered to: channel type, platform id, thread.
  const channel = (name: string): ChannelAdapter => ({
    async deliver(msg) {
      const content = msg.content as { text?: unknown };
      const files = msg.files?.map((f) => `${f.filename} (${f.data.length} B)`).join(', ');
      const where = `${pad(msg.channelType ?? '?', 8)} ${pad(msg.platformId ?? '?', 9)} ${msg.threadId === null ? '(no thread)' : `thread ${msg.threadId}`}`;
      println(`${stamp()} → ${where}: ${String(content.text ?? '')}${files ? `  [file: ${files}]` : ''}`);
      return { platformMessageId: `${name}-${msg.messageId}` };
    },
  });

  const rt: Runtime = await createRuntime({
    dataDir,
    driver: processDriver({ env: { AGENT_POLL_MS: '50', AGENT_IDLE_EXIT_MS: '0' } }),
    channels: { slack: channel('slack'), telegram: channel('telegram'), github: channel('github') },
    pollMs: 50,
    idleStopMs: 800,
    passivateMs: 60_000,
    eventLog: logPath,
  });

  const statuses = new Map<string, string>();
  let delivered = 0;
  const expected = SCRIPT.length;
  const redraw = () => {
    if (!tty) return;
    const counts = { running: 0, idle: 0, stopped: 0 } as Record<string, number>;
    for (const s of statuses.values()) counts[s] = (counts[s] ?? 0) + 1;
    const bar = '#'.repeat(delivered) + '.'.repeat(Math.max(0, expected - delivered));
    statusLine = `  replies [${bar}] ${delivered}/${expected}   containers: ${counts.running} running, ${counts.idle} idle, ${counts.stopped} stopped`;
    write(`\r\u001b[2K${statusLine}`);
  };

  rt.on('container.status', (e) => {
    statuses.set(e.sessionId, e.to);
    println(`${stamp()} ${short(e.sessionId)}  ${pad(e.from, 7)} → ${pad(e.to, 7)} (${e.reason})`);
    redraw();
  });
  rt.on('error', (e) => println(`${stamp()} error: ${e.error.message}`));

  const allDelivered = new Promise<void>((done) => {
    rt.on('outbound.delivered', () => {
      delivered++;
      redraw();
      if (delivered === expected) done();
    });
  });

  write(`session-actors demo\n  data dir:  ${dataDir}\n  event log: ${logPath}\n\n`);
  try {
    await options.onRuntime?.(rt);
  } catch (error) {
    await rt.close();
    throw error;
  }
  await rt.upsertAgentGroup({ id: 'assistant', name: 'Assistant' });
  await rt.upsertAgentGroup({ id: 'reviewer', name: 'Code reviewer' });
  const sessionOf: string[] = [];
  for (const w of WIRES) {
    await rt.upsertMessagingGroup({ id: w.messagingGroupId, channelType: w.channel, platformId: w.platformId });
    const { session, created } = await rt.resolveSession({
      agentGroupId: w.agentGroupId,
      messagingGroupId: w.messagingGroupId,
      threadId: w.threadId,
      mode: w.mode,
    });
    sessionOf.push(session.id);
    println(
      `  ${pad(w.channel, 8)} ${pad(`${w.platformId}${w.threadId ? `/${w.threadId}` : ''}`, 18)} ${pad(w.mode, 12)} → ${short(session.id)}${created ? '' : '  (same session)'}`,
    );
  }
  println('');

  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error('demo timed out')), options.timeoutMs ?? 60_000);
    t.unref();
  });
  try {
    await Promise.all(
      SCRIPT.map((m) => {
        const w = WIRES[m.wire]!;
        return rt.writeMessage(sessionOf[m.wire]!, {
          id: m.id,
          kind: 'chat',
          timestamp: new Date().toISOString(),
          content: JSON.stringify(m.content),
          channelType: w.channel,
          platformId: w.platformId,
          threadId: w.threadId,
        });
      }),
    );
    await Promise.race([allDelivered, timeout]);
    // Let the idle timeout stop every container, to show the whole cycle.
    const allStopped = new Promise<void>((done) => {
      const check = () => {
        if ([...new Set(sessionOf)].every((id) => rt.containerStatus(id) === 'stopped')) done();
      };
      rt.on('container.status', check);
      check();
    });
    await Promise.race([allStopped, timeout]);
  } finally {
    if (tty) write('\r\u001b[2K');
  }

  const sessions: DemoResult['sessions'] = [];
  for (const id of [...new Set(sessionOf)]) {
    const counts = await rt.messageCounts(id);
    sessions.push({
      id,
      mode: rt.sessionMode(id),
      messagesIn: counts.messagesIn,
      messagesOut: counts.messagesOut,
      status: rt.containerStatus(id),
    });
  }
  await options.beforeClose?.(rt);
  await rt.close();
  write(
    `\n${table([
      ['session', 'mode', 'messages in', 'messages out', 'container'],
      ...sessions.map((s) => [s.id, s.mode ?? '?', String(s.messagesIn), String(s.messagesOut), s.status]),
    ])}\n\n${delivered} replies delivered. Event log: ${logPath}\n`,
  );
  return { dataDir, logPath, delivered, sessions };
}
