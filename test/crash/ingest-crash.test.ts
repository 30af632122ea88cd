/**
 * Crash consistency of ingest: a child process owning a data directory writes messages with
 * attachments to three sessions, several writes in flight per session, and is SIGKILLed at a
 * moment chosen by a seeded generator (after its n-th acknowledgement, or a delay after its first
 * acknowledgement or after it is ready). After each kill, the files are checked as left (test/crash/ingest-state.ts), then a fresh
 * runtime in this process takes the directory over, writes to every session, re-sends messages
 * that were never acknowledged, closes, and the files are checked again.
 *
 * CRASH_TRIALS (default 10) sets the number of kills, CRASH_SEED (default 9) the first trial's seed;
 * trial i uses seed CRASH_SEED + i, so a reported trial replays with CRASH_SEED=<its seed> CRASH_TRIALS=1
 * (the kill lands wherever the child has got to at that moment: that part is real timing).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedClock } from 'xstate';
import { beforeAll, describe, expect, it } from 'vitest';
import { inboxDirName } from '../../src/files/message-id.js';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { INGEST_KEYS, plannedFiles, plannedMessage } from '../fixtures/crash/ingest-plan.js';
import { runAndKill, type ChildLine, type KillAt } from '../helpers/killable-child.js';
import { T0 } from '../helpers/runtime.js';
import { envInt, seededRandom } from '../helpers/seeded-random.js';
import { useTmpDir } from '../helpers/tmp.js';
import { inspectIngest, type IngestProperty, type IngestSession, type IngestState } from './ingest-state.js';

const TRIALS = envInt('CRASH_TRIALS', 10);
const SEED = envInt('CRASH_SEED', 9, 0);
const CHILD = fileURLToPath(new URL('../fixtures/crash/ingest-child.ts', import.meta.url));
/** Message numbers far above anything the child reaches: the takeover's own writes. */
const AFTER_KILL_N = 1_000_000;

type Property = IngestProperty | 'harness' | 'staleInbox' | 'takeover' | 'resend';

interface Trial {
  label: string;
  acks: number;
  /** Inbox folders without a committed row, as the kill left them (how often a kill hit a commit). */
  staleAtKill: number;
  rolledBack: number;
  problems: Record<Property, string[]>;
  /** Properties the trial could not get to check (it stopped at an earlier failure). */
  unchecked: Property[];
}

const tmp = useTmpDir('sa-ingest-crash-');

const ALL: Property[] = [
  'harness',
  'acknowledged',
  'integrity',
  'seqs',
  'attachments',
  'parity',
  'staleInbox',
  'takeover',
  'resend',
];

function emptyProblems(): Record<Property, string[]> {
  return Object.fromEntries(ALL.map((p) => [p, []])) as unknown as Record<Property, string[]>;
}

function merge(into: Record<Property, string[]>, state: IngestState, when: string): void {
  for (const [property, list] of Object.entries(state.problems) as [IngestProperty, string[]][]) {
    into[property].push(...list.map((p) => `${when}: ${p}`));
  }
}

/** Every planned message number of `key` below `limit` whose inbox folder is `name`. */
function numbersByFolder(key: number, limit: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let n = 0; n < limit; n++) out.set(inboxDirName(plannedMessage(key, n, '').message.id), n);
  return out;
}

const describeError = (e: unknown) =>
  `${String((e as { code?: unknown }).code)} ${e instanceof Error ? e.message : String(e)}`;

async function runTrial(trial: number): Promise<Trial> {
  const seed = SEED + trial;
  const random = seededRandom(seed);
  // Mostly while writes stream; sometimes before the first commit has finished.
  const mode = random.next();
  const killAt: KillAt =
    mode < 0.45
      ? { afterAcks: random.int(1, 400) }
      : mode < 0.9
        ? { afterFirstAckMs: random.int(0, 400) }
        : { afterReadyMs: random.int(0, 400) };
  const inFlight = random.int(1, 12);
  const label = `trial ${trial} (CRASH_SEED=${seed}, kill ${JSON.stringify(killAt)}, ${inFlight} in flight)`;
  const problems = emptyProblems();
  const root = tmp();
  const dataDir = join(root, 'data');
  const scratch = join(root, 'scratch');
  mkdirSync(scratch);

  const run = await runAndKill(CHILD, [dataDir, String(inFlight)], killAt);
  const sessions: IngestSession[] = run.lines
    .filter((l): l is ChildLine & { key: number; id: string } => l.t === 'session')
    .map((l) => ({ key: l.key, sessionId: l.id, agentGroupId: INGEST_KEYS[l.key]!.agentGroupId }));
  const acks = run.lines.filter((l) => l.t === 'ack') as (ChildLine & {
    key: number;
    n: number;
    id: string;
    seq: number;
    duplicate: boolean;
  })[];
  if (run.signal !== 'SIGKILL' || !run.killedLive)
    problems.harness.push(`the child was not killed live (code ${run.code}, signal ${run.signal}): ${run.stderr}`);
  if (!run.lines.some((l) => l.t === 'ready') || sessions.length !== INGEST_KEYS.length)
    problems.harness.push(`the child never got ready: ${run.stderr}`);
  for (const l of run.lines.filter((l) => l.t === 'error'))
    problems.harness.push(`a write rejected: ${JSON.stringify(l)}`);
  const result = (unchecked: Property[], killed?: IngestState): Trial => ({
    label,
    acks: acks.length,
    staleAtKill: [...(killed?.sessions.values() ?? [])].reduce((sum, s) => sum + s.staleInbox.length, 0),
    rolledBack: killed?.rolledBack ?? 0,
    problems,
    unchecked,
  });
  if (problems.harness.length > 0) return result(ALL.filter((p) => p !== 'harness'));

  const expected = new Map<number, Map<string, number>>(sessions.map((s) => [s.key, new Map()]));
  const lastSeq = new Map<number, number>();
  for (const a of acks) {
    expected.get(a.key)!.set(a.id, a.seq);
    if (a.duplicate) problems.acknowledged.push(`${a.id} acknowledged as a duplicate on its only write`);
    // Operations on one session complete in call order: acknowledged seqs grow with n.
    if (a.seq <= (lastSeq.get(a.key) ?? 0)) problems.seqs.push(`${a.id} acknowledged seq ${a.seq} out of order`);
    lastSeq.set(a.key, Math.max(a.seq, lastSeq.get(a.key) ?? 0));
  }

  // 1. The files as the kill left them.
  const killed = inspectIngest(dataDir, scratch, sessions, expected);
  merge(problems, killed, 'after the kill');

  // 2. A fresh owner takes over at once (the dead owner's lock went with its process).
  const clock = new SimulatedClock();
  clock.set(T0);
  let rt: Runtime;
  try {
    rt = await createRuntime({ dataDir, driver: 'none', autoWake: false, clock, ids: sequentialIds() });
  } catch (error) {
    problems.takeover.push(`createRuntime on the killed owner's directory: ${describeError(error)}`);
    return result(['staleInbox', 'resend'], killed);
  }
  const timestamp = new Date(T0).toISOString();
  const resent = new Map<number, Set<string>>();
  try {
    await rt.whenIdle();
    for (const s of sessions) {
      const { message } = plannedMessage(s.key, AFTER_KILL_N, timestamp);
      const maxSeq = killed.sessions.get(s.key)?.maxSeq ?? 0;
      try {
        const r = await rt.writeMessage(s.sessionId, message);
        expected.get(s.key)!.set(message.id, r.seq);
        if (r.duplicate || r.seq !== maxSeq + 2)
          problems.takeover.push(`session ${s.key}: new write got ${JSON.stringify(r)}, expected seq ${maxSeq + 2}`);
      } catch (error) {
        problems.takeover.push(`session ${s.key}: new write rejected: ${describeError(error)}`);
      }
    }
    await rt.whenIdle();

    // 3. Every session has been activated and written to: no inbox folder without its row is left.
    const restarted = inspectIngest(dataDir, scratch, sessions, expected);
    for (const [key, state] of restarted.sessions) {
      for (const name of state.staleInbox)
        problems.staleInbox.push(`session ${key}: inbox/${name} has no committed row after the restart`);
    }

    // 4. Re-sends of messages never acknowledged: the stale folders', and each session's first
    //    unacknowledged message with attachments.
    for (const s of sessions) {
      const state = killed.sessions.get(s.key);
      if (state === undefined) continue;
      const sent = new Set<string>();
      resent.set(s.key, sent);
      const acked = expected.get(s.key)!;
      const limit = Math.max(0, ...acks.filter((a) => a.key === s.key).map((a) => a.n)) + 40;
      const byFolder = numbersByFolder(s.key, limit);
      const resend = new Set<number>();
      for (const name of state.staleInbox) {
        const n = byFolder.get(name);
        if (n === undefined) problems.attachments.push(`session ${s.key}: inbox/${name} belongs to no planned message`);
        else resend.add(n);
      }
      let first = 0;
      while (acked.has(plannedMessage(s.key, first, '').message.id) || plannedFiles(s.key, first).length === 0) first++;
      resend.add(first);
      for (const n of [...resend].sort((a, b) => a - b)) {
        const { message } = plannedMessage(s.key, n, timestamp);
        const before = state.rows.get(message.id);
        sent.add(message.id);
        try {
          const r = await rt.writeMessage(s.sessionId, message);
          expected.get(s.key)!.set(message.id, r.seq);
          if (before !== undefined && (!r.duplicate || r.seq !== before.seq))
            problems.resend.push(
              `${message.id} was committed with seq ${before.seq}, re-send got ${JSON.stringify(r)}`,
            );
          if (before === undefined && r.duplicate)
            problems.resend.push(`${message.id} was not committed, re-send got ${JSON.stringify(r)}`);
        } catch (error) {
          problems.resend.push(`re-send of ${message.id} rejected: ${describeError(error)}`);
        }
      }
    }
    await rt.whenIdle();
  } finally {
    await rt.close();
  }

  // 5. After the takeover closed: everything acknowledged by either owner is there, and every
  //    re-send is stored once with its files saved byte for byte (not `not_saved`).
  const after = inspectIngest(dataDir, scratch, sessions, expected);
  merge(problems, after, 'after the takeover');
  for (const [key, ids] of resent) {
    const state = after.sessions.get(key);
    for (const id of ids) {
      if (state?.rows.get(id) === undefined) problems.resend.push(`re-sent ${id} is not stored`);
      for (const p of state?.attachmentProblems.get(id) ?? []) problems.resend.push(`re-sent ${p}`);
    }
  }
  return result([], killed);
}

/** A trial whose checking code itself threw: every property unchecked, the error as a harness problem. */
function thrown(trial: number, error: unknown): Trial {
  const problems = emptyProblems();
  problems.harness.push(`the trial threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  const label = `trial ${trial} (CRASH_SEED=${SEED + trial})`;
  return { label, acks: 0, staleAtKill: 0, rolledBack: 0, problems, unchecked: ALL.slice(1) };
}

describe(`ingest survives SIGKILL at random moments (${TRIALS} trials)`, () => {
  const trials: Trial[] = [];

  beforeAll(
    async () => {
      for (let t = 0; t < TRIALS; t++) trials.push(await runTrial(t).catch((error: unknown) => thrown(t, error)));
      if (process.env.CRASH_VERBOSE === '1') {
        for (const t of trials)
          console.info(`${t.label}: ${t.acks} acks, ${t.staleAtKill} stale inbox folders, ${t.rolledBack} rolled back`);
      }
    },
    60_000 + TRIALS * 15_000,
  );

  /** The problems of `property` in every trial (at most 8 per trial), and the trials that could not check it. */
  const failures = (property: Property) => [
    ...(trials.length < TRIALS ? [`only ${trials.length} of ${TRIALS} trials ran`] : []),
    ...trials.flatMap((t) => [
      ...t.problems[property].slice(0, 8).map((p) => `${t.label}: ${p}`),
      ...(t.unchecked.includes(property) ? [`${t.label}: not checked, the trial stopped before it`] : []),
    ]),
  ];

  it('kills a live writer in every trial, after it acknowledged writes in most', () => {
    expect(failures('harness')).toEqual([]);
    expect(trials).toHaveLength(TRIALS);
    expect(trials.filter((t) => t.acks > 0).length).toBeGreaterThanOrEqual(Math.ceil(TRIALS / 2));
  });

  it('keeps every acknowledged message exactly once with its acknowledged seq and content', () => {
    expect(failures('acknowledged')).toEqual([]);
  });

  it('leaves v2.db and every inbound.db and outbound.db passing integrity_check', () => {
    expect(failures('integrity')).toEqual([]);
  });

  it('stores only written messages, with even, unique seqs in call order', () => {
    expect(failures('seqs')).toEqual([]);
  });

  it('keeps every attachment a stored row points at, byte for byte, and nothing else in its folder', () => {
    expect(failures('attachments')).toEqual([]);
  });

  it('keeps central session rows and session folders one to one', () => {
    expect(failures('parity')).toEqual([]);
  });

  it('lets a fresh runtime take over at once and serve a new write to every session, seqs continuing', () => {
    expect(failures('takeover')).toEqual([]);
  });

  it('stores a re-send of a message never acknowledged once, with its attachments saved', () => {
    expect(failures('resend')).toEqual([]);
  });

  // A crash between an attachment's file and its row leaves the folder until the message is sent
  // again, which replaces it (issue 9 item 5 allows either); start-up does not open every inbox to
  // look for such folders (it reads no session files), so none is asserted absent here.
});
