/**
 * `FakeContainer`: a session's container running in-process on the injected clock, writing the
 * session folder exactly as a real container does (docs/agent.md), driven by a script.
 *
 * Invariants (test/testing/fake-container.test.ts):
 * 1. It polls once when started and then every `pollMs` of the injected clock; each poll touches
 *    `.heartbeat` (modification time = the clock's time) and claims the due batch in
 *    `processing_ack` before running the script ("claims before it answers").
 * 2. Replies of a batch and the outcomes of its rows are written in one transaction; outbox files
 *    are written before their row ("replies with files").
 * 3. `crash` and `hang` leave every claim of the batch `processing` and write nothing else;
 *    `crash` exits with its code, `hang` never polls again until stopped ("crash leaves claims").
 * 4. The exit is reported once, to every `onExit` callback, also one registered after it. An exit
 *    the container takes itself (crash, exit, idle exit, kill) is reported on a later event-loop
 *    turn, as a child process's exit event is, so the host has always seen the start first; one
 *    asked for by `stop()`, or with `{ reportNow: true }`, is reported before the call returns
 *    ("exit is reported after the start", "reportNow reports the exit before the call returns").
 * 5. A `work` turn keeps its claims `processing` and claims nothing else until the clock reaches
 *    its end, touching `.heartbeat` at every poll meanwhile, then carries out its `then` turn
 *    ("work holds the claim while beating").
 * 6. `setTool`/`clearTool` write `container_state` as docs/agent.md says, also while hung
 *    ("declares a long tool in container_state").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerExitInfo, ContainerHandle, ContainerStartContext } from '../container/driver.js';
import type { Clock } from '../runtime/clock.js';
import {
  findAckedIds,
  findPendingRows,
  findRouting,
  hasOutboundId,
  insertOutbound,
  maxSeq,
  nextOddAbove,
  pickDueBatch,
  replyAddress,
  setAck,
  touchHeartbeat,
  withOutbound,
  writeContainerState,
  withReadOnly,
  type InboundRow,
  type OutboundInsert,
} from './container-files.js';
import {
  echoContent,
  type Address,
  type FakeAgentScript,
  type FakeMessage,
  type FakeReply,
  type FakeTurn,
} from './fake-agent.js';

export interface FakeContainerOptions {
  clock: Clock;
  /** Runs `report` on a later event-loop turn (the driver tracks it, for `settle`); default setImmediate. */
  defer?: (report: () => void) => void;
  script: FakeAgentScript;
  /** Between polls, on the injected clock; default 100 ms. */
  pollMs?: number;
  /** Exit 0 after this long without work; 0 (default) never. */
  idleExitMs?: number;
}

/** A message the container sends on its own (not in reply to a claimed one). */
export interface FakeSend extends FakeReply {
  /** Where to; default `session_routing`. */
  address?: Address;
  /** Its id; default `out-<n>`. */
  id?: string;
}

export type FakeContainerState = 'running' | 'hung' | 'exited';

/** How an exit the test causes reaches the host. */
export interface FakeExitOptions {
  /**
   * `true`: the exit is reported before the call returns, so the host hears of it before
   * anything else the container did (a reply it wrote just before, which a folder watch would
   * otherwise report first). Default: on a later event-loop turn, as a child's exit event.
   */
  reportNow?: boolean;
}

interface Decided {
  row: InboundRow;
  turn: FakeTurn;
}

const SAFE_SEGMENT = /^(?!\.{1,2}$)[^/\\\0]{1,128}$/;

function parseContent(content: string): { json: unknown; text: string } {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    // Not JSON: the text itself.
    return { json: content, text: content };
  }
  const text =
    typeof json === 'object' && json !== null && typeof (json as { text?: unknown }).text === 'string'
      ? (json as { text: string }).text
      : typeof json === 'string'
        ? json
        : '';
  return { json, text };
}

function toMessage(row: InboundRow): FakeMessage {
  return {
    id: row.id,
    seq: row.seq,
    kind: row.kind,
    channelType: row.channel_type,
    platformId: row.platform_id,
    threadId: row.thread_id,
    content: row.content,
    ...parseContent(row.content),
  };
}

export class FakeContainer implements ContainerHandle {
  readonly sessionId: string;
  readonly agentGroupId: string;
  /** Ids of every message this container claimed, in claim order. */
  readonly claimed: string[] = [];
  /** Ids of the messages it wrote to `messages_out`, in order. */
  readonly sent: string[] = [];
  /** Reasons given to `stop()`. */
  readonly stopReasons: string[] = [];
  private currentState: FakeContainerState = 'running';
  private exitInfo: ContainerExitInfo | undefined;
  private readonly listeners: ((info: ContainerExitInfo) => void)[] = [];
  private timer: unknown;
  private firstPoll = true;
  private lastWorkMs: number;
  private sends = 0;
  private polls = 0;
  /** A `work` turn in progress: its batch, the turns to carry out at its end, and when. */
  private working: { batch: readonly InboundRow[]; decided: Decided[]; until: number } | undefined;

  constructor(
    readonly ctx: ContainerStartContext,
    private readonly options: FakeContainerOptions,
  ) {
    this.sessionId = ctx.sessionId;
    this.agentGroupId = ctx.agentGroupId;
    this.lastWorkMs = options.clock.now();
  }

  get state(): FakeContainerState {
    return this.currentState;
  }

  /** How it exited, once it has. */
  get exit(): ContainerExitInfo | undefined {
    return this.exitInfo;
  }

  /** Polls done so far. */
  get pollCount(): number {
    return this.polls;
  }

  /** Begins: the first poll at once, the next ones on the clock. */
  begin(): void {
    this.poll();
  }

  /** One poll now, as the timer would run it. A container that is not running ignores it. */
  poll(): void {
    if (this.currentState !== 'running') return;
    this.clearTimer();
    this.polls++;
    const now = this.options.clock.now();
    const nowIso = new Date(now).toISOString();
    const working = this.working;
    if (working !== undefined) {
      touchHeartbeat(this.ctx.heartbeatPath, now);
      this.lastWorkMs = now;
      if (now < working.until) return this.schedule(working.until - now);
      this.working = undefined;
      return this.carryOut(working.batch, working.decided, now);
    }
    const rows = withReadOnly(this.ctx.inboundDbPath, (db) => findPendingRows(db, nowIso));
    const acked = withReadOnly(this.ctx.outboundDbPath, findAckedIds);
    touchHeartbeat(this.ctx.heartbeatPath, now);
    const batch = pickDueBatch(rows, acked, this.firstPoll);
    this.firstPoll = false;
    if (batch.length === 0) {
      const idleExitMs = this.options.idleExitMs ?? 0;
      if (idleExitMs > 0 && now - this.lastWorkMs >= idleExitMs) return this.exitNow(0);
      return this.schedule();
    }
    this.lastWorkMs = now;
    withOutbound(this.ctx.outboundDbPath, (db) => {
      for (const row of batch) setAck(db, row.id, 'processing', nowIso);
    });
    this.claimed.push(...batch.map((r) => r.id));
    this.runTurn(batch, now);
  }

  /** Writes a message of its own (not a reply), e.g. output that answers nothing. */
  send(message: FakeSend): string {
    if (this.currentState === 'exited') throw new Error(`the container of ${this.sessionId} has exited`);
    const nowIso = new Date(this.options.clock.now()).toISOString();
    const id = message.id ?? `out-${++this.sends}`;
    const { maxIn, routing } = withReadOnly(this.ctx.inboundDbPath, (db) => ({
      maxIn: maxSeq(db, 'messages_in'),
      routing: findRouting(db),
    }));
    const address = message.address ?? routing ?? { channel_type: null, platform_id: null, thread_id: null };
    const row = this.prepareRow(id, null, message, address);
    withOutbound(this.ctx.outboundDbPath, (db) => {
      insertOutbound(db, row, nextOddAbove(Math.max(maxIn, maxSeq(db, 'messages_out'))), nowIso);
    });
    this.sent.push(id);
    return id;
  }

  /** Dies now with exit `code`, leaving every claim as it is. */
  crash(code = 1, options: FakeExitOptions = {}): void {
    this.terminate({ code, signal: null }, options.reportNow !== true);
  }

  /** Killed from outside (the OOM killer, `docker kill`): exits now on `signal`, claims left as they are. */
  kill(signal = 'SIGKILL', options: FakeExitOptions = {}): void {
    this.terminate({ code: null, signal }, options.reportNow !== true);
  }

  /**
   * Declares a long tool in `container_state` (docs/agent.md "Long tools"), as a container does
   * before the tool starts; the host then tolerates silence up to `timeoutMs` plus its margin.
   * A `null` writes that column NULL (a partial row, as a faulty container might leave). Allowed
   * while running or hung (the usual case: declare, then go silent in the tool).
   */
  setTool(name: string | null, timeoutMs: number | null): void {
    if (this.currentState === 'exited') throw new Error(`the container of ${this.sessionId} has exited`);
    const nowIso = new Date(this.options.clock.now()).toISOString();
    withOutbound(this.ctx.outboundDbPath, (db) => writeContainerState(db, name, timeoutMs, nowIso));
  }

  /** The tool is over: `container_state` is cleared, as a container does when its tool ends. */
  clearTool(): void {
    this.setTool(null, null);
  }

  /** Stops answering: no more polls or heartbeats until stopped. */
  hang(): void {
    if (this.currentState !== 'running') return;
    this.clearTimer();
    this.currentState = 'hung';
  }

  /** Exits on its own with `code` (0: a clean idle exit). */
  exitNow(code = 0, options: FakeExitOptions = {}): void {
    this.terminate({ code, signal: null }, options.reportNow !== true);
  }

  async stop(reason: string): Promise<void> {
    this.stopReasons.push(reason);
    // A running container exits 0 on SIGTERM; a hung one is killed by it.
    this.terminate(this.currentState === 'hung' ? { code: null, signal: 'SIGTERM' } : { code: 0, signal: null });
  }

  onExit(cb: (info: ContainerExitInfo) => void): void {
    if (this.exitInfo !== undefined) cb(this.exitInfo);
    else this.listeners.push(cb);
  }

  private runTurn(batch: readonly InboundRow[], now: number): void {
    const decided: Decided[] = [];
    for (const row of batch) {
      if (row.trigger !== 1) continue;
      const message = toMessage(row);
      const scripted = this.options.script(message, this);
      decided.push({ row, turn: scripted ?? { type: 'reply', replies: [{ content: echoContent(message) }] } });
    }
    this.carryOut(batch, decided, now);
  }

  /** Carries out the decided turns of a claimed batch: a `work` first waits, the others act now. */
  private carryOut(batch: readonly InboundRow[], decided: Decided[], now: number): void {
    // The script may have broken or stopped the container meanwhile: then it writes nothing more.
    if (this.currentState !== 'running') return;
    let workMs: number | undefined;
    for (const d of decided) if (d.turn.type === 'work') workMs = Math.max(workMs ?? 0, d.turn.ms);
    if (workMs !== undefined) {
      const then = decided.map((d) => (d.turn.type === 'work' ? { row: d.row, turn: d.turn.then } : d));
      if (workMs === 0) return this.carryOut(batch, then, now);
      this.working = { batch, decided: then, until: now + workMs };
      return this.schedule(workMs);
    }
    const nowIso = new Date(now).toISOString();
    const crash = decided.find((d) => d.turn.type === 'crash');
    if (crash !== undefined) return this.crash((crash.turn as { code: number }).code);
    if (decided.some((d) => d.turn.type === 'hang')) return this.hang();

    const failed = new Set(decided.filter((d) => d.turn.type === 'fail').map((d) => d.row.id));
    const { maxIn, addresses } = withReadOnly(this.ctx.inboundDbPath, (db) => {
      const routing = findRouting(db);
      return {
        maxIn: maxSeq(db, 'messages_in'),
        addresses: new Map(decided.map((d) => [d.row.id, replyAddress(db, d.row, routing)])),
      };
    });
    const rows: OutboundInsert[] = [];
    withReadOnly(this.ctx.outboundDbPath, (db) => {
      const taken = new Set<string>();
      for (const { row, turn } of decided) {
        if (turn.type !== 'reply') continue;
        for (const reply of turn.replies) {
          const content = reply.content === undefined ? echoContent(toMessage(row)) : reply.content;
          const id = this.replyId(row, (candidate) => taken.has(candidate) || hasOutboundId(db, candidate));
          taken.add(id);
          rows.push(this.prepareRow(id, row.id, { ...reply, content }, addresses.get(row.id)!));
        }
      }
    });
    withOutbound(this.ctx.outboundDbPath, (db) => {
      let seq = nextOddAbove(Math.max(maxIn, maxSeq(db, 'messages_out')));
      for (const row of rows) {
        insertOutbound(db, row, seq, nowIso);
        seq += 2;
      }
      for (const row of batch) setAck(db, row.id, failed.has(row.id) ? 'failed' : 'completed', nowIso);
    });
    this.sent.push(...rows.map((r) => r.id));
    const exit = decided.find((d) => d.turn.type === 'exit');
    if (exit !== undefined) return this.exitNow((exit.turn as { code: number }).code);
    this.schedule();
  }

  /** `<inboundId>-r<n>`, the first n free; `reply-<seq>-<n>` when that is not a safe path segment. */
  private replyId(row: InboundRow, taken: (id: string) => boolean): string {
    for (let n = 1; ; n++) {
      const preferred = `${row.id}-r${n}`;
      const id = SAFE_SEGMENT.test(preferred) ? preferred : `reply-${row.seq}-${n}`;
      if (!taken(id)) return id;
    }
  }

  /** The row to insert; its files are written to `outbox/<id>/` now, before the row exists. */
  private prepareRow(id: string, inReplyTo: string | null, reply: FakeReply, address: Address): OutboundInsert {
    let content = reply.content;
    const files = Object.entries(reply.files ?? {});
    if (files.length > 0) {
      if (!SAFE_SEGMENT.test(id)) throw new Error(`a message with files needs a safe id, not ${JSON.stringify(id)}`);
      const dir = join(this.ctx.sessionDir, 'outbox', id);
      mkdirSync(dir, { recursive: true });
      for (const [name, data] of files) {
        if (!SAFE_SEGMENT.test(name)) throw new Error(`unsafe outbox file name ${JSON.stringify(name)}`);
        writeFileSync(join(dir, name), data);
      }
      const base =
        typeof content === 'object' && content !== null && !Array.isArray(content)
          ? content
          : typeof content === 'string'
            ? { text: content }
            : {};
      content = { ...base, files: files.map(([name]) => name) };
    }
    return {
      id,
      inReplyTo,
      kind: reply.kind ?? 'chat',
      content: typeof content === 'string' ? content : JSON.stringify(content),
      deliverAfter: reply.deliverAfter ?? null,
      ...address,
    };
  }

  /** The next poll, after `pollMs` or sooner (`withinMs`, the end of a `work` turn). */
  private schedule(withinMs?: number): void {
    this.clearTimer();
    const pollMs = this.options.pollMs ?? 100;
    this.timer = this.options.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.poll();
      },
      withinMs === undefined ? pollMs : Math.min(pollMs, withinMs),
    );
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops everything now; the exit is reported now or, when `deferred`, on a later turn. */
  private terminate(info: ContainerExitInfo, deferred = false): void {
    if (this.currentState === 'exited') return;
    this.clearTimer();
    this.currentState = 'exited';
    const report = () => {
      this.exitInfo = info;
      for (const cb of this.listeners.splice(0)) cb(info);
    };
    if (!deferred) return report();
    const defer = this.options.defer ?? ((fn: () => void) => void setImmediate(fn));
    defer(report);
  }
}
