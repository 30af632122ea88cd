/**
 * Fuzz of every public method of `Runtime`: fast-check sequences of calls (test/fuzz/api-calls.ts)
 * with valid arguments and hostile ones (test/fuzz/hostile-values.ts), some started together, on a
 * test runtime (simulated clock, sequential ids, fake containers that answer, recording channels)
 * whose data directory sits in a sandbox folder beside a secret, with the process's working
 * directory inside the sandbox too. For every call:
 * 1. a synchronous method never throws and returns a value of its type;
 * 2. an async method never throws synchronously, returns a promise that settles, and rejects only
 *    with a `RuntimeError` whose code is in `ERROR_CODES`;
 * 3. a call whose arguments are all valid does what the model says (resolves, or rejects with the
 *    one code that fits: unknown session, closed session, unknown agent group);
 * 4. comparing the sandbox before and after (test/helpers/tree-stat.ts), nothing changed outside
 *    `v2.db*` and the folders of existing sessions, and a call naming a session changed no other
 *    session's folder.
 * After each sequence the runtime still serves a normal write, `close()` settles, nothing polluted
 * `Object.prototype` and no traversal name reached the canary outside the sandbox.
 *
 * FUZZ_RUNS (default 40) sequences of about FUZZ_CALLS (default 60) steps each. A failure names its
 * step and stops at once; FUZZ_SEED and FUZZ_PATH (fast-check prints both) replay it, and with
 * FUZZ_SHRINK=1 fast-check shrinks it to the few steps that matter.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, RuntimeError } from '../../src/errors.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { createTestRuntime, turn, type FakeAgentScript, type TestRuntime } from '../../src/testing/index.js';
import { envInt } from '../helpers/seeded-random.js';
import { useTmpDir } from '../helpers/tmp.js';
import { changedPaths, statTree, type TreeStat } from '../helpers/tree-stat.js';
import { callArb, Model, prepare, type Call, type Prepared } from './api-calls.js';
import { canaryPath } from './hostile-values.js';

const RUNS = envInt('FUZZ_RUNS', 40);
/** Mean steps per sequence: lengths run from 1 to twice this, so a failure shrinks to a short one. */
const CALLS = envInt('FUZZ_CALLS', 60);
/** Generating plus shrinking stops here; a failure found by then is reported shrunk as far as it got. */
const LIMIT_MS = envInt('FUZZ_TIME_LIMIT_MS', 150_000);
const SEED = envInt('FUZZ_SEED', 20260101, 0);
/**
 * Real time a promise gets to settle once the runtime is idle (nothing in flight, no timer due on the
 * simulated clock) before it counts as hung: nothing it could wait for is left.
 */
const SETTLE_MS = 2_000;

const tmp = useTmpDir('sa-fuzz-');
/** Outcomes by method (`resolved`, a rejection code, ...), printed with FUZZ_VERBOSE=1 to show what the runs reached. */
const tally = new Map<string, number>();
const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

const STATUSES = new Set(['stopped', 'running', 'idle']);
const MODES = new Set(['shared', 'per-thread', 'agent-shared', undefined]);

/** The fake agent: answers with a file when asked for files, fails m-3, crashes on m-4, echoes the rest. */
const agent: FakeAgentScript = (m) => {
  if (m.text.includes('with files'))
    return turn.reply({ text: 'files back' }, { files: { 'reply.txt': 'reply bytes' } });
  if (m.id === 'm-3') return turn.fail();
  if (m.id === 'm-4') return turn.crash(1);
  return undefined;
};

/** Every sequence starts with two agent groups, the messaging groups and a session in each mode (ag-3 stays unknown). */
const PRELUDE: Call[] = [
  { m: 'upsertAgentGroup', ag: 0, spoil: null },
  { m: 'upsertAgentGroup', ag: 1, spoil: null },
  ...[0, 1, 2].map((mg): Call => ({ m: 'upsertMessagingGroup', mg, spoil: null })),
  { m: 'resolveSession', ag: 0, mg: 0, thread: null, mode: 0, spoil: null },
  { m: 'resolveSession', ag: 0, mg: 1, thread: 0, mode: 1, spoil: null },
  { m: 'resolveSession', ag: 1, mg: null, thread: null, mode: 2, spoil: null },
];

type Outcome =
  | { kind: 'threw'; error: unknown }
  | { kind: 'returned'; value: unknown }
  | { kind: 'resolved'; value: unknown }
  | { kind: 'rejected'; error: unknown }
  | { kind: 'hung' };

const show = (v: unknown): string => {
  if (v instanceof Error)
    return `${v.name}${(v as { code?: unknown }).code ? ` ${String((v as { code?: unknown }).code)}` : ''}: ${v.message}`;
  try {
    return JSON.stringify(v)?.slice(0, 200) ?? String(v);
  } catch {
    // A value JSON cannot show (a cycle, a BigInt): its type is enough for the report.
    return typeof v;
  }
};

/** Problems with a synchronous method's return value, or undefined. */
function syncResultProblem(method: string, value: unknown, arg: unknown): string | undefined {
  switch (method) {
    case 'getSession':
      if (value === undefined) return undefined;
      return typeof value === 'object' && value !== null && (value as { id?: unknown }).id === arg
        ? undefined
        : `returned ${show(value)}`;
    case 'containerStatus':
      return STATUSES.has(value as string) ? undefined : `returned ${show(value)}`;
    case 'sessionMode':
      return MODES.has(value as string) ? undefined : `returned ${show(value)}`;
    case 'listSessions':
      return Array.isArray(value) ? undefined : `returned ${show(value)}`;
    case 'stats':
      return typeof value === 'object' &&
        value !== null &&
        Object.values(value).every((n) => typeof n === 'number' && Number.isFinite(n))
        ? undefined
        : `returned ${show(value)}`;
    default:
      return undefined;
  }
}

interface Started {
  prepared: Prepared;
  outcome: Promise<Outcome>;
}

function start(prepared: Prepared): Started {
  let result: unknown;
  try {
    result = prepared.invoke();
  } catch (error) {
    return { prepared, outcome: Promise.resolve({ kind: 'threw', error }) };
  }
  if (prepared.sync) return { prepared, outcome: Promise.resolve({ kind: 'returned', value: result }) };
  if (!(result instanceof Promise)) {
    return {
      prepared,
      outcome: Promise.resolve({ kind: 'threw', error: new Error(`returned ${show(result)}, not a promise`) }),
    };
  }
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'hung' }), SETTLE_MS);
  });
  const settled = result.then(
    (value: unknown): Outcome => ({ kind: 'resolved', value }),
    (error: unknown): Outcome => ({ kind: 'rejected', error }),
  );
  return { prepared, outcome: Promise.race([settled, hung]).finally(() => clearTimeout(timer)) };
}

/** Contract and model problems of one settled call. */
function callProblems(p: Prepared, o: Outcome, arg: unknown): string[] {
  const out: string[] = [];
  if (o.kind === 'threw') return [`${p.sync ? 'threw' : 'threw synchronously'}: ${show(o.error)}`];
  if (o.kind === 'hung') return [`never settled (${SETTLE_MS} ms after the runtime was idle)`];
  if (o.kind === 'returned') {
    const problem = syncResultProblem(p.method, o.value, arg);
    return problem === undefined ? [] : [problem];
  }
  if (o.kind === 'rejected') {
    const e = o.error;
    if (!(e instanceof RuntimeError)) out.push(`rejected with a non-RuntimeError: ${show(e)}`);
    else if (!(ERROR_CODES as readonly string[]).includes(e.code)) out.push(`rejected with unknown code ${e.code}`);
  }
  const expectation = p.expect;
  if (expectation !== undefined) {
    if ('rejects' in expectation) {
      const code = o.kind === 'rejected' ? (o.error as { code?: unknown }).code : undefined;
      if (code !== expectation.rejects)
        out.push(
          `should reject ${expectation.rejects}, ${o.kind === 'resolved' ? `resolved ${show(o.value)}` : `rejected ${show(o.error)}`}`,
        );
    } else if (o.kind !== 'resolved') {
      out.push(`should resolve, rejected ${show(o.error)}`);
    } else {
      const problem = expectation.check?.(o.value);
      if (problem !== undefined) out.push(problem);
    }
  }
  return out;
}

interface SessionKey {
  id: string;
  ag: string;
}

function sessionsOnDisk(central: Database.Database): SessionKey[] {
  return central.prepare('SELECT id, agent_group_id AS ag FROM sessions').all() as SessionKey[];
}

/**
 * Why the change at sandbox path `rel` is not allowed, or undefined: `data/v2.db*`, the
 * `v2-sessions` folders leading to existing sessions, and inside an existing session's folder when
 * the step may touch it (`touched === 'any'`, the session named, or created by the step).
 */
function disallowed(rel: string, sessions: SessionKey[], touched: Set<string> | 'any'): string | undefined {
  const parts = rel.split('/');
  if (parts[0] !== 'data') return 'outside the data directory';
  if (parts.length === 2 && parts[1]!.startsWith('v2.db')) return undefined;
  if (parts[1] !== 'v2-sessions') return 'in the data directory, outside v2-sessions/ and v2.db*';
  if (parts.length === 2) return sessions.length > 0 ? undefined : 'v2-sessions/ with no session';
  if (parts.length === 3)
    return sessions.some((s) => s.ag === parts[2]) ? undefined : 'an agent group folder with no session';
  const session = sessions.find((s) => s.ag === parts[2] && s.id === parts[3]);
  if (session === undefined) return 'not inside the folder of an existing session';
  if (touched !== 'any' && !touched.has(session.id)) return `the folder of ${session.id}, which the call did not name`;
  return undefined;
}

interface Run {
  sandbox: string;
  t: TestRuntime;
  central: Database.Database;
  model: Model;
  tree: TreeStat;
  calls: number;
}

/** Compares the sandbox with the last snapshot; returns the disallowed changes. */
function treeProblems(run: Run, touched: Set<string> | 'any', before: SessionKey[]): string[] {
  const after = statTree(run.sandbox);
  const sessions = sessionsOnDisk(run.central);
  const fresh = new Set(sessions.filter((s) => !before.some((b) => b.id === s.id)).map((s) => s.id));
  const allowed = touched === 'any' ? 'any' : new Set([...touched, ...fresh]);
  const problems = changedPaths(run.tree, after).flatMap((rel) => {
    let why = disallowed(rel, sessions, allowed);
    // A journal in the last snapshot: that session was mid-commit when the runtime said it was idle.
    const journal = /^(.*)\/(inbound|outbound)\.db(-journal)?$/.exec(rel);
    if (why !== undefined && journal !== null && run.tree.has(`${journal[1]}/${journal[2]}.db-journal`))
      why += ' (its journal was there when the runtime was last idle: a commit outlived whenIdle)';
    return why === undefined
      ? []
      : [`changed ${rel} (${run.tree.get(rel) ?? 'absent'} -> ${after.get(rel) ?? 'absent'}): ${why}`];
  });
  run.tree = after;
  return problems;
}

async function step(run: Run, call: Call): Promise<string[]> {
  const rt = run.t.runtime;
  const before = sessionsOnDisk(run.central);
  if (call.m === 'tick') {
    await run.t.clock.advance(call.ms);
    return treeProblems(run, 'any', before);
  }
  const calls = call.m === 'burst' ? call.calls : [call];
  const api = rt as unknown as Record<string, unknown>;
  const started: Started[] = [];
  const args: unknown[] = [];
  for (const c of calls) {
    const prepared = prepare(rt, run.model, c);
    // repairSession is called only where the runtime has it.
    if (typeof api[prepared.method] !== 'function') continue;
    // Calls started together see each other's effects in an order the model does not follow: only
    // what no other call can change is expected of them (an id no session has stays unknown).
    if (
      call.m === 'burst' &&
      !(prepared.expect !== undefined && 'rejects' in prepared.expect && prepared.expect.rejects === 'UNKNOWN_SESSION')
    )
      prepared.expect = undefined;
    started.push(start(prepared));
    args.push(
      's' in c && 'ref' in c.s ? run.model.sessions[c.s.ref % Math.max(1, run.model.sessions.length)]?.id : undefined,
    );
    run.calls++;
  }
  await run.t.settle();
  const outcomes = await Promise.all(started.map((s) => s.outcome));
  await run.t.settle();
  const problems: string[] = [];
  const touched = new Set<string>();
  let anySession = false;
  started.forEach(({ prepared }, i) => {
    const o = outcomes[i]!;
    count(`${prepared.method} ${o.kind === 'rejected' ? String((o.error as { code?: unknown }).code) : o.kind}`);
    const on = typeof args[i] === 'string' ? `(${String(args[i])})` : '';
    for (const p of callProblems(prepared, o, args[i])) problems.push(`${prepared.method}${on}: ${p}`);
    for (const id of prepared.sessions) touched.add(id);
    if (prepared.method === 'whenIdle') anySession = true;
    if (o.kind === 'resolved') {
      prepared.learn?.(o.value);
      const session = (o.value as { session?: { id?: unknown } } | undefined)?.session;
      if (prepared.method === 'resolveSession' && typeof session?.id === 'string') touched.add(session.id);
    }
  });
  problems.push(...treeProblems(run, anySession ? 'any' : touched, before));
  return problems;
}

/** After the sequence: a normal write is served, close() settles, later calls reject RUNTIME_CLOSED. */
async function finish(run: Run): Promise<string[]> {
  const rt: Runtime = run.t.runtime;
  const problems: string[] = [];
  const before = sessionsOnDisk(run.central);
  try {
    await rt.upsertAgentGroup({ id: 'ag-final', name: 'Final' });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-final',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    const written = await rt.writeMessage(session.id, {
      id: 'final-1',
      kind: 'chat',
      timestamp: '2026-01-01T00:00:00.000Z',
      content: JSON.stringify({ text: 'still serving' }),
    });
    if (written.duplicate || written.seq < 2 || written.seq % 2 !== 0)
      problems.push(`final write gave ${show(written)}`);
  } catch (error) {
    problems.push(`the runtime no longer serves a normal write: ${show(error)}`);
  }
  await run.t.settle();
  const closed = start({ method: 'close', sync: false, invoke: () => rt.close(), sessions: [] });
  const o = await closed.outcome;
  if (o.kind !== 'resolved')
    problems.push(`close() did not resolve: ${o.kind === 'rejected' ? show(o.error) : o.kind}`);
  problems.push(...treeProblems(run, 'any', before));
  const late = start({
    method: 'writeMessage',
    sync: false,
    invoke: () => rt.writeMessage('sess-1', { id: 'x', kind: 'chat', timestamp: 't', content: '{}' }),
    sessions: [],
    expect: { rejects: 'RUNTIME_CLOSED' },
  });
  problems.push(
    ...callProblems(late.prepared, await late.outcome, undefined).map((p) => `after close, writeMessage: ${p}`),
  );
  for (const [method, invoke] of [
    ['getSession', () => rt.getSession('sess-1')],
    ['listSessions', () => rt.listSessions()],
    ['containerStatus', () => rt.containerStatus('sess-1')],
    ['sessionMode', () => rt.sessionMode('sess-1')],
    ['stats', () => rt.stats()],
  ] as const) {
    const s = start({ method, sync: true, invoke, sessions: [] });
    problems.push(...callProblems(s.prepared, await s.outcome, 'sess-1').map((p) => `after close, ${method}: ${p}`));
  }
  return problems;
}

async function runSequence(calls: Call[]): Promise<number> {
  const sandbox = tmp();
  const dataDir = join(sandbox, 'data');
  mkdirSync(join(sandbox, 'outside'));
  writeFileSync(join(sandbox, 'outside', 'secret'), 'never read, never written');
  mkdirSync(join(sandbox, 'cwd'));
  const cwd = process.cwd();
  process.chdir(join(sandbox, 'cwd'));
  const t = await createTestRuntime({
    dataDir,
    agent,
    limits: { maxMessageBytes: 64 * 1024, maxAttachmentBytes: 16 * 1024 },
    // Timers far enough apart that a tick of a minute fires a few polls, an idle stop and passivations.
    pollMs: 5_000,
    agentPollMs: 5_000,
    idleStopMs: 30_000,
    passivateMs: 20_000,
  });
  const central = new Database(join(dataDir, 'v2.db'), { readonly: true, fileMustExist: true });
  const run: Run = { sandbox, t, central, model: new Model(), tree: statTree(sandbox), calls: 0 };
  try {
    for (const [i, call] of [...PRELUDE, ...calls].entries()) {
      const problems = await step(run, call);
      const at = i < PRELUDE.length ? `prelude step ${i}` : `step ${i - PRELUDE.length}`;
      if (problems.length > 0) throw new Error(`${at} ${show(call)}:\n  ${problems.join('\n  ')}`);
    }
    const problems = await finish(run);
    if (t.errors.length > 0) problems.push(...t.errors.map((e) => `error event: ${show(e)}`));
    if (Object.keys(Object.prototype).length > 0 || ({} as { polluted?: unknown }).polluted !== undefined)
      problems.push(`Object.prototype polluted: ${Object.keys(Object.prototype).join(', ')}`);
    if (existsSync(canaryPath())) problems.push(`a traversal name reached ${canaryPath()}`);
    if (problems.length > 0) throw new Error(`after the sequence:\n  ${problems.join('\n  ')}`);
    return run.calls;
  } finally {
    process.chdir(cwd);
    central.close();
    // Closed already unless a step failed: then close it without judging how.
    await t.runtime.close().catch(() => undefined);
  }
}

describe('every public method holds its contract for any input', () => {
  // The focused tests beside it pin down what it found: a text argument read outside readArgs
  // (throwing-arguments.test.ts), a closed session reopened by a read
  // (closed-session-stays-closed.test.ts), a wake that never settles when a stop comes with it
  // (wake-stop-race.test.ts).
  it(
    `runs ${RUNS} sequences of calls, valid and hostile: no throw, only RuntimeErrors, nothing written outside the sessions`,
    async () => {
      let total = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 2 * CALLS, size: 'max' }), async (calls) => {
          total += await runSequence(calls);
        }),
        {
          numRuns: RUNS,
          seed: SEED,
          path: process.env.FUZZ_PATH,
          // Shrinking reruns whole sequences: asked for, it reduces a failure to its few relevant steps.
          endOnFailure: process.env.FUZZ_SHRINK !== '1',
          interruptAfterTimeLimit: LIMIT_MS,
        },
      );
      if (process.env.FUZZ_VERBOSE === '1')
        console.info(
          [...tally]
            .sort()
            .map(([k, n]) => `${k}: ${n}`)
            .join('\n'),
          `\n${total} calls`,
        );
      expect(total).toBeGreaterThanOrEqual(Math.min(2000, (RUNS * CALLS) / 2));
    },
    LIMIT_MS + 60_000,
  );
});
