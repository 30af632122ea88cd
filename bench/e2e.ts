/**
 * End-to-end benchmark (issue 12 item 7): write → `outbound.delivered` through the whole loop,
 * with the bundled reference agent as real child processes (`createRuntime`'s default
 * `driver: 'process'`, i.e. `processDriver()` with its defaults: the agent's own poll is
 * AGENT_POLL_MS from the environment, else its default) and a recording channel adapter.
 *
 * Per run, for each host setting (`pollMs` default, then `pollMs: 50`), on a fresh data dir:
 * 10 per-thread sessions are created and woken; each container is warm before timing (`wake`
 * resolved, status `running` or `idle`, and one message answered and delivered per session).
 * - Latency: each session sends L messages, each after the previous one's reply was delivered;
 *   the 10 sessions run at once. Latency = `outbound.delivered` of the reply − the write call.
 * - Throughput: B messages per session fired without waiting (bench/burst.ts); messages/s =
 *   10 × B ÷ (first write call → last reply delivered).
 * Floor of the latency (the limit it approaches): the CPU the loop needs. During the latency
 * phase the CPU time of the host process (all its threads) and of every agent process is taken
 * (Linux `/proc`); the 10 loops share the cores, so a message waits for about
 * 10 × (CPU per message) ÷ cores. The disk floor — three durable commits in sequence, the host's
 * inbound write, the agent's claim, the agent's reply, at the QD1 rate of bench/disk.ts — is
 * measured in the same run and reported beside it.
 *
 * Invariants:
 * 1. Every message is answered exactly once: one delivery per message, of the reply `<id>-r1`
 *    with content `{ text: 'echo: …' }` of that message's text, to the `bench` adapter; no
 *    `outbound.failed`, no `error` event. A failed check throws: no number is reported.
 * 2. No phase waits forever: each is bounded (`withTimeout`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  createRuntime,
  type ChannelAdapter,
  type InboundMessage,
  type OutboundDelivery,
  type Runtime,
} from '../src/index.js';
import { Acks, fireBurst } from './burst.js';
import { measureSqliteQd1 } from './disk.js';
import { Runs, type FigureDef } from './figures.js';
import { buildMessages } from './messages.js';
import {
  check,
  DEFAULT_RUNS,
  finishReport,
  log,
  percentile,
  withTimeout,
  type BenchReport,
  type CommonBenchOptions,
} from './util.js';

export const E2E_TARGETS = { maxP50Ms: 25, maxP99Ms: 100, minMsgPerSec: 1000 } as const;

const SESSIONS = 10;
const AG = 'ag-e2e';
const MG = 'mg-e2e';
const CHANNEL = 'bench';
const PLATFORM = 'C-e2e';
const COMMITS_IN_FLOOR = 3;
const PHASE_TIMEOUT_MS = 180_000;

interface Setting {
  name: string;
  label: string;
  pollMs?: number;
}

const SETTINGS: readonly Setting[] = [
  { name: 'default', label: 'pollMs default (250)' },
  { name: 'poll50', label: 'pollMs 50', pollMs: 50 },
];

function figureDefs(): FigureDef[] {
  const floor = `CPU floor: ${SESSIONS} loops × CPU per message ÷ cores`;
  return SETTINGS.flatMap((s) => [
    {
      key: `e2e.p50.${s.name}`,
      label: `write → delivered p50, ${s.label}`,
      unit: 'ms',
      better: 'lower' as const,
      limit: floor,
      target: { on: 'value' as const, op: '<=' as const, threshold: E2E_TARGETS.maxP50Ms },
    },
    {
      key: `e2e.p99.${s.name}`,
      label: `write → delivered p99, ${s.label}`,
      unit: 'ms',
      better: 'lower' as const,
      limit: floor,
      target: { on: 'value' as const, op: '<=' as const, threshold: E2E_TARGETS.maxP99Ms },
    },
    {
      key: `e2e.cpu.${s.name}`,
      label: `CPU per message in the latency phase, host + agents, ${s.label}`,
      unit: 'ms',
      better: 'lower' as const,
    },
    {
      key: `e2e.disk.${s.name}`,
      label: `disk floor of one message: ${COMMITS_IN_FLOOR} sequential durable commits, ${s.label}`,
      unit: 'ms',
      better: 'lower' as const,
    },
    {
      key: `e2e.msgps.${s.name}`,
      label: `messages/s through the whole loop, ${s.label}`,
      unit: 'msg/s',
      better: 'higher' as const,
      target: { on: 'value' as const, op: '>=' as const, threshold: E2E_TARGETS.minMsgPerSec },
    },
  ]);
}

/** CPU time (user + system, ms) of this process, all threads. */
function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * CPU time (user + system, ms) of this process's live child processes, from `/proc` (Linux);
 * `undefined` where there is none. Clock ticks are taken as 100 Hz (USER_HZ on Linux).
 */
function childrenCpuMs(): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after "pid (comm) ": state ppid … utime(14) stime(15), counted from 1.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== process.pid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10;
}

/** Waits for replies by id; records when each was delivered. */
class Deliveries {
  private readonly waiters = new Map<string, () => void>();
  readonly at = new Map<string, number>();
  readonly received: OutboundDelivery[] = [];
  readonly failures: unknown[] = [];

  readonly adapter: ChannelAdapter = {
    deliver: async (m) => {
      this.received.push(m);
      return { platformMessageId: `p-${this.received.length}` };
    },
  };

  attach(rt: Runtime): void {
    rt.on('outbound.delivered', (e) => {
      this.at.set(e.messageId, performance.now());
      const w = this.waiters.get(e.messageId);
      if (w !== undefined) {
        this.waiters.delete(e.messageId);
        w();
      }
    });
    rt.on('outbound.failed', (e) => this.failures.push(e.error));
    rt.on('error', (e) => this.failures.push(e.error));
  }

  /** Resolves when `replyId` has been delivered (at once if it already was). */
  next(replyId: string): Promise<void> {
    if (this.at.has(replyId)) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.set(replyId, resolve));
  }
}

const replyOf = (m: InboundMessage) => `${m.id}-r1`;

function checkAnswered(d: Deliveries, sent: readonly InboundMessage[]): void {
  check(d.failures.length === 0, `${d.failures.length} failure(s), first: ${String(d.failures[0])}`);
  check(d.received.length === sent.length, `${d.received.length} deliveries for ${sent.length} messages`);
  const byId = new Map(d.received.map((r) => [r.messageId, r]));
  check(byId.size === d.received.length, 'a reply was delivered twice');
  for (const m of sent) {
    const r = byId.get(replyOf(m));
    const text = (JSON.parse(m.content) as { text: string }).text;
    check(r !== undefined, `no reply delivered for ${m.id}`);
    check(
      r.channelType === CHANNEL && (r.content as { text?: unknown }).text === `echo: ${text}`,
      `reply to ${m.id} is ${JSON.stringify(r.content)} on ${String(r.channelType)}`,
    );
  }
}

interface E2eRun {
  latencies: number[];
  msgps: number;
  /** Host and agents' CPU per message of the latency phase (ms), when it can be read. */
  cpu?: { host: number; agents: number };
}

async function e2eRun(
  root: string,
  setting: Setting,
  perSessionLatency: number,
  perSessionBurst: number,
): Promise<E2eRun> {
  const dataDir = mkdtempSync(join(root, `sa-bench-e2e-${setting.name}-`));
  const d = new Deliveries();
  const rt = await createRuntime({
    dataDir,
    channels: { [CHANNEL]: d.adapter },
    ...(setting.pollMs === undefined ? {} : { pollMs: setting.pollMs }),
  });
  d.attach(rt);
  const sent: InboundMessage[] = [];
  let closed = false;
  try {
    await rt.upsertAgentGroup({ id: AG, name: 'E2E' });
    await rt.upsertMessagingGroup({ id: MG, channelType: CHANNEL, platformId: PLATFORM, name: 'e2e' });
    const ids: string[] = [];
    for (let s = 0; s < SESSIONS; s++) {
      const { session } = await rt.resolveSession({
        agentGroupId: AG,
        messagingGroupId: MG,
        threadId: `t-${s}`,
        mode: 'per-thread',
      });
      ids.push(session.id);
    }
    const address = (s: number) => ({ channelType: CHANNEL, platformId: PLATFORM, threadId: `t-${s}` });
    const roundTrip = async (s: number, m: InboundMessage): Promise<number> => {
      sent.push(m);
      const t0 = performance.now();
      const delivered = d.next(replyOf(m));
      await rt.writeMessage(ids[s]!, m);
      await delivered;
      return d.at.get(replyOf(m))! - t0;
    };

    // Warm containers: woken, up, and one message answered per session.
    await withTimeout(Promise.all(ids.map((id) => rt.wake(id))), PHASE_TIMEOUT_MS, 'e2e wake');
    for (const id of ids)
      check(['running', 'idle'].includes(rt.containerStatus(id)), `container of ${id} is ${rt.containerStatus(id)}`);
    const warm = buildMessages(SESSIONS, 1, address, 'w');
    await withTimeout(Promise.all(warm.map((l, s) => roundTrip(s, l[0]!))), PHASE_TIMEOUT_MS, 'e2e warm-up');

    // Latency: each session one message at a time, the sessions at once.
    const lat = buildMessages(SESSIONS, perSessionLatency, address, 'l');
    const latencies: number[] = [];
    const host0 = ownCpuMs();
    const agents0 = childrenCpuMs();
    await withTimeout(
      Promise.all(
        lat.map(async (list, s) => {
          for (const m of list) latencies.push(await roundTrip(s, m));
        }),
      ),
      PHASE_TIMEOUT_MS,
      'e2e latency',
    );
    const host1 = ownCpuMs();
    const agents1 = childrenCpuMs();
    const cpu =
      agents0 === undefined || agents1 === undefined
        ? undefined
        : { host: (host1 - host0) / latencies.length, agents: (agents1 - agents0) / latencies.length };

    // Throughput: every message fired at once, until the last reply is delivered.
    const burst = buildMessages(SESSIONS, perSessionBurst, address, 'b');
    const all = burst.flat();
    sent.push(...all);
    const acks = new Acks(all.length);
    const replies = Promise.all(all.map((m) => d.next(replyOf(m))));
    const t0 = performance.now();
    await fireBurst(rt, ids, burst, acks, true);
    await withTimeout(Promise.all([acks.done, replies]), PHASE_TIMEOUT_MS, 'e2e throughput');
    const last = Math.max(...all.map((m) => d.at.get(replyOf(m))!));
    check(acks.errors.length === 0, `${acks.errors.length} write(s) rejected: ${String(acks.errors[0])}`);
    const msgps = all.length / ((last - t0) / 1000);
    closed = true;
    await rt.close();
    checkAnswered(d, sent);
    return { latencies, msgps, ...(cpu === undefined ? {} : { cpu }) };
  } finally {
    if (!closed) await rt.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runE2eBench(opts: CommonBenchOptions = {}): Promise<BenchReport> {
  const quick = opts.quick === true;
  const runCount = opts.runs ?? DEFAULT_RUNS;
  const perSessionLatency = quick ? 3 : 20;
  const perSessionBurst = quick ? 10 : 100;
  const root = opts.tmpRoot ?? tmpdir();
  const runs = new Runs();
  const details: unknown[] = [];
  for (let run = 1; run <= runCount; run++) {
    const qd1 = await measureSqliteQd1(root, quick ? 300 : 1000);
    const floorMs = (COMMITS_IN_FLOOR * 1000) / qd1.perSec;
    const detail: Record<string, unknown> = { qd1CommitsPerSec: qd1.perSec, floorMs };
    for (const setting of SETTINGS) {
      log(opts.verbose, `e2e: run ${run}/${runCount}, ${setting.label} …`);
      const r = await e2eRun(root, setting, perSessionLatency, perSessionBurst);
      const p50 = percentile(r.latencies, 50);
      const p99 = percentile(r.latencies, 99);
      const cpuMs = r.cpu === undefined ? undefined : r.cpu.host + r.cpu.agents;
      const cpuFloorMs = cpuMs === undefined ? undefined : (SESSIONS * cpuMs) / availableParallelism();
      const floor = cpuFloorMs === undefined ? {} : { limit: cpuFloorMs };
      runs.add(`e2e.p50.${setting.name}`, { value: p50, ...floor });
      runs.add(`e2e.p99.${setting.name}`, { value: p99, ...floor });
      if (cpuMs !== undefined) runs.add(`e2e.cpu.${setting.name}`, { value: cpuMs });
      runs.add(`e2e.disk.${setting.name}`, { value: floorMs });
      runs.add(`e2e.msgps.${setting.name}`, { value: r.msgps });
      detail[setting.name] = {
        samples: r.latencies.length,
        p50Ms: p50,
        p99Ms: p99,
        maxMs: Math.max(...r.latencies),
        msgps: r.msgps,
        cpuPerMessageMs: r.cpu,
        cpuFloorMs,
      };
      log(
        opts.verbose,
        `e2e: ${setting.label}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ${Math.round(r.msgps)} msg/s` +
          (r.cpu === undefined
            ? ''
            : `; CPU per message: host ${r.cpu.host.toFixed(2)} ms, agents ${r.cpu.agents.toFixed(2)} ms`),
      );
    }
    details.push(detail);
  }
  return finishReport(
    opts,
    {
      bench: 'e2e',
      quick,
      runs: runCount,
      method: {
        setup: `createRuntime({ dataDir, channels: { bench: recording adapter } }) with the default driver 'process' (processDriver(), the bundled reference agent; its poll: AGENT_POLL_MS=${process.env.AGENT_POLL_MS ?? 'unset, its default'}); ${SESSIONS} per-thread sessions, woken (wake resolved, status running or idle), one message answered per session before timing`,
        latency: `${perSessionLatency} messages per session, each written after the previous reply was delivered, the ${SESSIONS} sessions at once; latency = outbound.delivered of <id>-r1 − writeMessage call`,
        throughput: `${perSessionBurst} messages per session fired without waiting (one setImmediate between sessions); ${SESSIONS * perSessionBurst} ÷ (first call → last reply delivered)`,
        settings: 'pollMs default (250), then pollMs 50, each on a fresh data dir with fresh containers',
        floor: `CPU: ${SESSIONS} × (host + agents CPU per message in the latency phase, /proc) ÷ ${availableParallelism()} cores; disk: ${COMMITS_IN_FLOOR} × one durable SQLite commit at QD1 (bench/disk.ts), measured in the same run: host inbound write, agent claim, agent reply`,
        checks:
          'every message answered by exactly one delivered reply <id>-r1 with "echo: <text>"; no outbound.failed, no error event',
      },
      figures: runs.figures(figureDefs()),
      details,
    },
    [
      `"of limit" for a latency: its CPU floor (${SESSIONS} loops share ${availableParallelism()} cores: ${SESSIONS} × CPU per message ÷ cores) ÷ the measured latency.`,
    ],
  );
}
