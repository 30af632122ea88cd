/**
 * Crash consistency of session creation: a child process owning a data directory resolves new
 * keys as fast as it can (new threads, new messaging groups, new agent groups; several in flight)
 * and is SIGKILLed at a moment chosen by a seeded generator. After each kill a fresh runtime in
 * this process takes the directory over, and the directory is checked: every acknowledged session
 * has its central row, its folder and both DBs; no folder under `v2-sessions/<ag>/` lacks a central
 * row (empty leftovers removed, leftovers holding rows moved to `v2-sessions/.orphaned/`); no
 * central row lacks its folder; resolving the same keys again returns the acknowledged sessions.
 *
 * CRASH_TRIALS (default 10) sets the number of kills, CRASH_SEED (default 9) the first trial's seed;
 * trial i uses seed CRASH_SEED + i (the kill lands wherever the child has got to at that moment).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedClock } from 'xstate';
import { beforeAll, describe, expect, it } from 'vitest';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { BASE_AGENT_GROUPS, BASE_MESSAGING_GROUPS, plannedKey } from '../fixtures/crash/create-plan.js';
import {
  centralSessions,
  integrityOf,
  openForCheck,
  ORPHANED_DIR,
  parityProblems,
  sessionFolders,
} from '../helpers/disk-state.js';
import { runAndKill, type ChildLine, type KillAt } from '../helpers/killable-child.js';
import { chat, T0, testRuntime } from '../helpers/runtime.js';
import { envInt, seededRandom } from '../helpers/seeded-random.js';
import { useTmpDir } from '../helpers/tmp.js';

const TRIALS = envInt('CRASH_TRIALS', 10);
const SEED = envInt('CRASH_SEED', 9, 0);
const CHILD = fileURLToPath(new URL('../fixtures/crash/create-child.ts', import.meta.url));

type Property = 'harness' | 'acknowledged' | 'orphans' | 'rows' | 'reresolve';
const ALL: Property[] = ['harness', 'acknowledged', 'orphans', 'rows', 'reresolve'];

interface Trial {
  label: string;
  acks: number;
  /** Folders without a central row as the kill left them (how often a kill hit a creation). */
  orphansAtKill: number;
  problems: Record<Property, string[]>;
  unchecked: Property[];
}

const tmp = useTmpDir('sa-create-crash-');

const describeError = (e: unknown) =>
  `${String((e as { code?: unknown }).code)} ${e instanceof Error ? e.message : String(e)}`;

/** Rows in every table of the SQLite file at `path` (none when it is missing or has no table). */
function rowsIn(path: string, scratch: string): number {
  if (!existsSync(path)) return 0;
  const { db } = openForCheck(path, scratch);
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    return tables.reduce((sum, t) => sum + (db.prepare(`SELECT count(*) FROM "${t}"`).pluck().get() as number), 0);
  } finally {
    db.close();
  }
}

/** Folders under `v2-sessions/.orphaned/` (at any depth) whose DBs hold no row in any table. */
function emptyOrphansKept(dataDir: string, scratch: string): string[] {
  const root = join(dataDir, 'v2-sessions', ORPHANED_DIR);
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('inbound.db')) continue;
    const dir = join(root, rel, '..');
    if (rowsIn(join(dir, 'inbound.db'), scratch) + rowsIn(join(dir, 'outbound.db'), scratch) === 0)
      out.push(`${ORPHANED_DIR}/${rel} holds no rows: an empty leftover must be removed, not kept`);
  }
  return out;
}

async function runTrial(trial: number): Promise<Trial> {
  const seed = SEED + trial;
  const random = seededRandom(seed);
  const mode = random.next();
  const killAt: KillAt =
    mode < 0.45
      ? { afterAcks: random.int(1, 40) }
      : mode < 0.9
        ? { afterFirstAckMs: random.int(0, 600) }
        : { afterReadyMs: random.int(0, 300) };
  const inFlight = random.int(1, 6);
  const label = `trial ${trial} (CRASH_SEED=${seed}, kill ${JSON.stringify(killAt)}, ${inFlight} in flight)`;
  const problems = Object.fromEntries(ALL.map((p) => [p, [] as string[]])) as Record<Property, string[]>;
  const root = tmp();
  const dataDir = join(root, 'data');
  const scratch = join(root, 'scratch');
  mkdirSync(scratch);
  let orphansAtKill = 0;
  const result = (unchecked: Property[], acks: number): Trial => ({
    label,
    acks,
    orphansAtKill,
    problems,
    unchecked,
  });

  const run = await runAndKill(CHILD, [dataDir, String(inFlight)], killAt);
  const acks = run.lines.filter((l) => l.t === 'ack') as (ChildLine & { n: number; id: string; created: boolean })[];
  if (run.signal !== 'SIGKILL' || !run.killedLive)
    problems.harness.push(`the child was not killed live (code ${run.code}, signal ${run.signal}): ${run.stderr}`);
  if (!run.lines.some((l) => l.t === 'ready')) problems.harness.push(`the child never got ready: ${run.stderr}`);
  for (const l of run.lines.filter((l) => l.t === 'error'))
    problems.harness.push(`a resolution rejected: ${JSON.stringify(l)}`);
  for (const a of acks)
    if (!a.created) problems.harness.push(`key ${a.n} was new but not created: ${JSON.stringify(a)}`);
  if (problems.harness.length > 0) return result(ALL.slice(1), acks.length);
  if (existsSync(join(dataDir, 'v2.db'))) {
    const rows = new Set(centralSessions(dataDir).map((r) => r.id));
    orphansAtKill = sessionFolders(dataDir).filter((f) => !rows.has(f.sessionId)).length;
  }

  // A fresh owner takes over at once and cleans up what the crash left.
  const clock = new SimulatedClock();
  clock.set(T0);
  let rt: Runtime;
  try {
    rt = await createRuntime({ dataDir, driver: 'none', autoWake: false, clock, ids: sequentialIds() });
    await rt.whenIdle();
  } catch (error) {
    problems.acknowledged.push(`createRuntime on the killed owner's directory: ${describeError(error)}`);
    return result(['orphans', 'rows', 'reresolve'], acks.length);
  }
  /** Folders and rows one to one; nothing empty kept aside in `.orphaned`. */
  const checkParity = (when: string) => {
    for (const p of parityProblems(dataDir))
      (p.kind === 'folder without row' ? problems.orphans : problems.rows).push(`${when}: ${p.text}`);
    problems.orphans.push(...emptyOrphansKept(dataDir, scratch).map((p) => `${when}: ${p}`));
  };
  try {
    // Every acknowledged session: its central row, folder and both DBs.
    const rows = new Map(centralSessions(dataDir).map((r) => [r.id, r]));
    for (const a of acks) {
      const key = plannedKey(a.n);
      const row = rows.get(a.id);
      if (row === undefined) {
        problems.acknowledged.push(`key ${a.n}: acknowledged session ${a.id} has no central row`);
        continue;
      }
      const expected = {
        agent_group_id: key.agentGroupId,
        messaging_group_id: key.messagingGroupId,
        thread_id: key.threadId,
        status: 'active',
      };
      const { id: _id, ...actual } = row;
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        problems.acknowledged.push(`key ${a.n}: row ${JSON.stringify(row)} is not ${JSON.stringify(expected)}`);
      const dir = join(dataDir, 'v2-sessions', key.agentGroupId, a.id);
      for (const [file, table] of [
        ['inbound.db', 'messages_in'],
        ['outbound.db', 'messages_out'],
      ] as const) {
        try {
          const { db } = openForCheck(join(dir, file), scratch);
          try {
            const integrity = integrityOf(db);
            if (integrity !== 'ok') problems.acknowledged.push(`key ${a.n}: ${file}: ${integrity}`);
            db.prepare(`SELECT count(*) FROM ${table}`).get();
          } finally {
            db.close();
          }
        } catch (error) {
          problems.acknowledged.push(`key ${a.n}: ${a.id}/${file} cannot be read: ${describeError(error)}`);
        }
      }
    }

    checkParity('at start-up');

    // Resolving the same keys again: the acknowledged sessions, and one session per key.
    const byKey = new Map(acks.map((a) => [a.n, a.id]));
    const attempted = Math.max(-1, ...acks.map((a) => a.n)) + inFlight + 1;
    for (const g of BASE_AGENT_GROUPS) await rt.upsertAgentGroup(g);
    for (const g of BASE_MESSAGING_GROUPS) await rt.upsertMessagingGroup(g);
    for (let n = 0; n < attempted; n++) {
      const { agentGroup, messagingGroup, ...key } = plannedKey(n);
      try {
        if (agentGroup !== undefined) await rt.upsertAgentGroup(agentGroup);
        if (messagingGroup !== undefined) await rt.upsertMessagingGroup(messagingGroup);
        const { session, created } = await rt.resolveSession(key);
        const acked = byKey.get(n);
        if (acked !== undefined && (session.id !== acked || created))
          problems.reresolve.push(`key ${n}: resolved ${session.id} (created ${created}), acknowledged ${acked}`);
      } catch (error) {
        problems.reresolve.push(`key ${n}: ${describeError(error)}`);
      }
    }
    const perKey = new Map<string, number>();
    for (const r of centralSessions(dataDir)) {
      const k = `${r.agent_group_id}|${r.messaging_group_id}|${r.thread_id}`;
      perKey.set(k, (perKey.get(k) ?? 0) + 1);
    }
    for (const [k, count] of perKey) if (count > 1) problems.reresolve.push(`${count} sessions for key ${k}`);
    checkParity('after resolving again');
  } finally {
    await rt.close();
  }
  return result([], acks.length);
}

/** A trial whose checking code itself threw: every property unchecked, the error as a harness problem. */
function thrown(trial: number, error: unknown): Trial {
  const problems = Object.fromEntries(ALL.map((p) => [p, [] as string[]])) as Record<Property, string[]>;
  problems.harness.push(`the trial threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return {
    label: `trial ${trial} (CRASH_SEED=${SEED + trial})`,
    acks: 0,
    orphansAtKill: 0,
    problems,
    unchecked: ALL.slice(1),
  };
}

describe(`session creation survives SIGKILL at random moments (${TRIALS} trials)`, () => {
  const trials: Trial[] = [];

  beforeAll(
    async () => {
      for (let t = 0; t < TRIALS; t++) trials.push(await runTrial(t).catch((error: unknown) => thrown(t, error)));
      if (process.env.CRASH_VERBOSE === '1') {
        for (const t of trials) console.info(`${t.label}: ${t.acks} acks, ${t.orphansAtKill} folders without a row`);
      }
    },
    60_000 + TRIALS * 15_000,
  );

  const failures = (property: Property) => [
    ...(trials.length < TRIALS ? [`only ${trials.length} of ${TRIALS} trials ran`] : []),
    ...trials.flatMap((t) => [
      ...t.problems[property].slice(0, 8).map((p) => `${t.label}: ${p}`),
      ...(t.unchecked.includes(property) ? [`${t.label}: not checked, the trial stopped before it`] : []),
    ]),
  ];

  it('kills a live resolver in every trial, after it acknowledged new sessions in most', () => {
    expect(failures('harness')).toEqual([]);
    expect(trials.filter((t) => t.acks > 0).length).toBeGreaterThanOrEqual(Math.ceil(TRIALS / 2));
  });

  it('keeps every acknowledged session: its central row, its folder and both DBs readable and intact', () => {
    expect(failures('acknowledged')).toEqual([]);
  });

  it('leaves no central session row without its folder', () => {
    expect(failures('rows')).toEqual([]);
  });

  it('resolves the same keys again to the acknowledged sessions, one session per key', () => {
    expect(failures('reresolve')).toEqual([]);
  });

  it('leaves no folder under v2-sessions/<ag>/ without a central row once the next runtime has started', () => {
    expect(failures('orphans')).toEqual([]);
  });
});

describe('start-up cleanup of session folders without a central row', () => {
  /**
   * A session created and closed normally, then every central row naming it dropped (as if its
   * creation never committed, or v2.db came back from an older copy): a folder no row names.
   */
  async function orphanedSession(dataDir: string, messages: number): Promise<{ sessionId: string; dir: string }> {
    const { rt } = await testRuntime(dataDir);
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    for (let i = 0; i < messages; i++) await rt.writeMessage(session.id, chat(`m${i}`, `kept ${i}`));
    await rt.close();
    const central = new Database(join(dataDir, 'v2.db'));
    const tables = central.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    for (const table of tables) {
      const columns = (central.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
      const column = table === 'sessions' ? 'id' : columns.includes('session_id') ? 'session_id' : undefined;
      if (column !== undefined) central.prepare(`DELETE FROM ${table} WHERE ${column} = ?`).run(session.id);
    }
    central.close();
    return { sessionId: session.id, dir: join(dataDir, 'v2-sessions', 'ag-main', session.id) };
  }

  it('removes a leftover folder that holds no rows', async () => {
    const dataDir = tmp();
    const { dir } = await orphanedSession(dataDir, 0);
    expect(existsSync(join(dir, 'inbound.db'))).toBe(true);
    const { rt } = await testRuntime(dataDir);
    await rt.whenIdle();
    await rt.close();
    expect(existsSync(dir)).toBe(false);
    expect(emptyOrphansKept(dataDir, tmp())).toEqual([]);
  });

  it('moves a leftover folder that holds rows to v2-sessions/.orphaned/ with its rows, and reports it', async () => {
    const dataDir = tmp();
    const { sessionId, dir } = await orphanedSession(dataDir, 3);
    const logged: string[] = [];
    const log = (obj: unknown, msg?: string) => logged.push(`${msg ?? ''} ${JSON.stringify(obj) ?? ''}`);
    const logger = { debug: log, info: log, warn: log, error: log };
    const { rt } = await testRuntime(dataDir, { logger });
    await rt.whenIdle();
    await rt.close();
    expect(existsSync(dir)).toBe(false);
    const orphaned = join(dataDir, 'v2-sessions', ORPHANED_DIR);
    const moved = readdirSync(orphaned, { recursive: true, encoding: 'utf8' }).filter(
      (rel) => rel.endsWith(`${sessionId}/inbound.db`) || rel === `${sessionId}/inbound.db`,
    );
    expect(moved).toHaveLength(1);
    const { db } = openForCheck(join(orphaned, moved[0]!), tmp());
    const ids = (db.prepare('SELECT id FROM messages_in ORDER BY seq').all() as { id: string }[]).map((r) => r.id);
    db.close();
    expect(ids).toEqual(['m0', 'm1', 'm2']);
    expect(logged.some((line) => line.includes(sessionId))).toBe(true);
  });
});
