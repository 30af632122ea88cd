/**
 * A hostile container at the SQLite layer: it owns its session folder and replaces entries in it
 * (symlinks, hard links, FIFOs, directories, foreign or damaged files, side files) between two
 * host operations. Every host open must refuse with `STORAGE` and a violation, and never touch a
 * file outside the session.
 */
import Database from 'better-sqlite3';
import {
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { violationOf, type ContainerViolation } from '../../src/files/container-violation.js';
import { insertMessageIn, listMessagesIn } from '../../src/store/inbound.js';
import { repairInbound } from '../../src/store/repair-inbound.js';
import { nextInboundSeq } from '../../src/store/seq.js';
import {
  createSessionDbs,
  readInbound,
  readOutbound,
  withInbound,
  withOutboundWhileStopped,
  type Db,
} from '../../src/store/session-db.js';
import { openVerified } from '../../src/store/verified-open.js';
import { digest, plantCorruptOutbound, plantFifo, plantNotSqlite } from '../fixtures/store/hostile-files.js';
import { makeTempDir, openDbFds, peek } from './helpers.js';

const NOW = '2024-05-01T12:00:00.000Z';

interface Session {
  dir: string;
  inbound: string;
  outbound: string;
}

let root: string;
let cleanup: () => void;
/** The session under attack. */
let s: Session;
/** Another session of the same data directory: the usual target of a planted link. */
let other: Session;
/** A directory outside the data directory. */
let outside: string;

function session(...segments: string[]): Session {
  const dir = join(root, 'data', 'v2-sessions', ...segments);
  mkdirSync(dir, { recursive: true });
  const files = { dir, inbound: join(dir, 'inbound.db'), outbound: join(dir, 'outbound.db') };
  createSessionDbs(files.inbound, files.outbound);
  return files;
}

beforeEach(() => {
  ({ dir: root, cleanup } = makeTempDir('store-hostile'));
  s = session('ag', 'sess-a');
  other = session('ag', 'sess-b');
  withInbound(other.inbound, (db) => insertIn(db, 'theirs'));
  outside = join(root, 'outside');
  mkdirSync(outside);
});

afterEach(() => {
  cleanup();
});

function insertIn(db: Db, id: string): number {
  return insertMessageIn(db, { id, kind: 'chat', timestamp: NOW, content: '{"text":"hi"}' });
}

function insertOut(path: string, seqs: readonly number[]): void {
  const db = new Database(path);
  const insert = db.prepare(
    "INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES (?, ?, ?, 'chat', '{}')",
  );
  for (const seq of seqs) insert.run(`o-${seq}`, seq, NOW);
  db.close();
}

/** Runs `fn`, which must throw; returns what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Asserts `STORAGE` with a violation of `kind`, and that no session DB handle was left open. */
function expectViolation(fn: () => unknown, kind: string): ContainerViolation {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(RuntimeError);
  expect((error as RuntimeError).code).toBe('STORAGE');
  const found = violationOf(error);
  expect(found?.kind).toBe(kind);
  expect(openDbFds(root)).toEqual([]);
  return found as ContainerViolation;
}

const countIn = (path: string) => peek(path, (db) => listMessagesIn(db).length);

/** Every helper the host opens `inbound.db` with. */
const inboundOpeners: [string, (path: string) => unknown][] = [
  ['withInbound', (path) => withInbound(path, (db) => insertIn(db, 'mine'))],
  ['readInbound', (path) => readInbound(path, (db) => listMessagesIn(db))],
];
/** Every helper the host opens `outbound.db` with. */
const outboundOpeners: [string, (path: string) => unknown][] = [
  ['readOutbound', (path) => readOutbound(path, (db) => db.prepare('SELECT * FROM messages_out').all())],
  [
    'withOutboundWhileStopped',
    (path) => withOutboundWhileStopped(path, 'stopped', (db) => db.prepare('DELETE FROM processing_ack').run()),
  ],
];

describe('a link planted at inbound.db', () => {
  it.each(inboundOpeners)('%s refuses a symlink to another session’s inbound.db, which stays unchanged', (_n, open) => {
    const before = digest(other.inbound);
    rmSync(s.inbound);
    symlinkSync(other.inbound, s.inbound);

    const v = expectViolation(() => open(s.inbound), 'symlink');

    expect(v.detail).toContain('inbound.db');
    expect(digest(other.inbound)).toBe(before);
    expect(countIn(other.inbound)).toBe(1);
  });

  it.each(inboundOpeners)(
    '%s refuses a hard link to another session’s inbound.db, which stays unchanged',
    (_n, open) => {
      const before = digest(other.inbound);
      rmSync(s.inbound);
      linkSync(other.inbound, s.inbound);

      expectViolation(() => open(s.inbound), 'hardlink');

      expect(digest(other.inbound)).toBe(before);
    },
  );
});

describe('a link planted at outbound.db', () => {
  it.each(outboundOpeners)(
    '%s refuses a symlink to a DB outside the data directory, which stays unchanged',
    (_n, open) => {
      const foreign = join(outside, 'foreign.db');
      createSessionDbs(join(outside, 'foreign-in.db'), foreign);
      insertOut(foreign, [1, 3]);
      const before = digest(foreign);
      rmSync(s.outbound);
      symlinkSync(foreign, s.outbound);

      expectViolation(() => open(s.outbound), 'symlink');

      expect(digest(foreign)).toBe(before);
    },
  );

  it.each(outboundOpeners)('%s refuses a hard link to another file', (_n, open) => {
    rmSync(s.outbound);
    linkSync(other.outbound, s.outbound);
    expectViolation(() => open(s.outbound), 'hardlink');
  });
});

describe('entries that are not regular files', () => {
  const all = [
    ...inboundOpeners.map(([n, open]) => [n, 'inbound', open] as const),
    ...outboundOpeners.map(([n, open]) => [n, 'outbound', open] as const),
  ];

  it.each(all)('%s refuses a FIFO at %s.db without blocking on it', (_n, which, open) => {
    const path = which === 'inbound' ? s.inbound : s.outbound;
    rmSync(path);
    plantFifo(path);
    const v = expectViolation(() => open(path), 'not-regular');
    expect(v.detail).toMatch(/FIFO/);
  });

  it.each(all)('%s refuses a directory at %s.db and leaves it in place', (_n, which, open) => {
    const path = which === 'inbound' ? s.inbound : s.outbound;
    rmSync(path);
    mkdirSync(path);
    writeFileSync(join(path, 'keep'), 'x');
    expectViolation(() => open(path), 'not-regular');
    expect(readFileSync(join(path, 'keep'), 'utf8')).toBe('x');
  });
});

describe('side files', () => {
  it('withInbound removes a symlinked journal (the link only), reports it and goes on', () => {
    const victim = join(outside, 'victim');
    writeFileSync(victim, 'victim bytes');
    symlinkSync(victim, `${s.inbound}-journal`);
    const seen: ContainerViolation[] = [];

    const seq = withInbound(s.inbound, (db) => insertIn(db, 'm-1'), { onViolation: (v) => seen.push(v) });

    expect(seq).toBe(2);
    expect(seen).toEqual([expect.objectContaining({ kind: 'journal', path: `${s.inbound}-journal` })]);
    expect(existsSync(`${s.inbound}-journal`)).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('victim bytes');
  });

  it('withInbound removes a hard-linked journal without touching the other link', () => {
    const victim = join(outside, 'victim');
    writeFileSync(victim, 'victim bytes');
    linkSync(victim, `${s.inbound}-journal`);
    const seen: ContainerViolation[] = [];

    withInbound(s.inbound, (db) => insertIn(db, 'm-1'), { onViolation: (v) => seen.push(v) });

    expect(seen.map((v) => v.kind)).toEqual(['journal']);
    expect(readFileSync(victim, 'utf8')).toBe('victim bytes');
    expect(statSync(victim).nlink).toBe(1);
  });

  it('readInbound removes a directory planted at the journal, without following links inside it', () => {
    mkdirSync(`${s.inbound}-journal`);
    writeFileSync(join(outside, 'kept'), 'kept');
    symlinkSync(outside, join(`${s.inbound}-journal`, 'link'));

    expect(readInbound(s.inbound, (db) => listMessagesIn(db))).toEqual([]);

    expect(existsSync(`${s.inbound}-journal`)).toBe(false);
    expect(readFileSync(join(outside, 'kept'), 'utf8')).toBe('kept');
  });

  it.each(['-journal', '-wal', '-shm'])(
    'readOutbound refuses to read next to a symlinked %s and leaves it',
    (suffix) => {
      const victim = join(outside, 'victim');
      writeFileSync(victim, 'victim bytes');
      symlinkSync(victim, `${s.outbound}${suffix}`);

      expectViolation(
        () => readOutbound(s.outbound, (db) => db.prepare('SELECT * FROM messages_out').all()),
        'journal',
      );

      expect(lstatSync(`${s.outbound}${suffix}`).isSymbolicLink()).toBe(true);
      expect(readFileSync(victim, 'utf8')).toBe('victim bytes');
    },
  );
});

describe('the check-then-open race', () => {
  it('refuses when inbound.db is swapped for a symlink between the check and the open', () => {
    const before = digest(other.inbound);
    const swap = (path: string) => {
      renameSync(path, `${path}.moved`);
      symlinkSync(other.inbound, path);
    };

    const v = expectViolation(
      () => withInbound(s.inbound, (db) => insertIn(db, 'mine'), { betweenCheckAndOpen: swap }),
      'swapped',
    );

    expect(v.path).toBe(s.inbound);
    expect(digest(other.inbound)).toBe(before);
  });

  it('refuses when outbound.db is replaced by another regular file between the check and the open', () => {
    const foreign = join(s.dir, 'planted.db');
    createSessionDbs(join(s.dir, 'planted-in.db'), foreign);
    const swap = (path: string) => renameSync(foreign, path);
    expectViolation(
      () => readOutbound(s.outbound, (db) => db.prepare('SELECT 1').get(), { betweenCheckAndOpen: swap }),
      'swapped',
    );
  });

  it('is not confused by a descriptor another thread opens during the open', () => {
    let held: number | undefined;
    // Takes the descriptor number SQLite would have got, as a file opened by another thread would.
    const other = () => {
      held = openSync(join(outside, 'unrelated'), 'w');
    };
    try {
      expect(readInbound(s.inbound, (db) => listMessagesIn(db), { betweenCheckAndOpen: other })).toEqual([]);
    } finally {
      if (held !== undefined) closeSync(held);
    }
  });

  it('refuses a swap even while another descriptor of this process holds the checked file', () => {
    const foreign = join(s.dir, 'planted.db');
    createSessionDbs(join(s.dir, 'planted-in.db'), foreign);
    let held: number | undefined;
    const swap = (path: string) => {
      held = openSync(path, 'r');
      renameSync(foreign, path);
    };
    try {
      expectViolation(
        () => readInbound(s.inbound, (db) => listMessagesIn(db), { betweenCheckAndOpen: swap }),
        'swapped',
      );
    } finally {
      if (held !== undefined) closeSync(held);
    }
  });

  it('accepts a session reached through a symlinked data directory (only the session folder is guarded)', () => {
    const link = join(root, 'data-link');
    symlinkSync(join(root, 'data'), link);
    const through = join(link, 'v2-sessions', 'ag', 'sess-a');
    expect(withInbound(join(through, 'inbound.db'), (db) => insertIn(db, 'm-1'))).toBe(2);
    expect(readOutbound(join(through, 'outbound.db'), (db) => db.prepare('SELECT * FROM messages_out').all())).toEqual(
      [],
    );
  });

  it('openVerified returns a handle on the checked file when nothing moved', () => {
    const db = openVerified(s.inbound, { readonly: true, sideFiles: 'refuse', timeout: 0 });
    try {
      expect((db.pragma('database_list') as { file: string }[])[0]?.file).toBe(s.inbound);
    } finally {
      db.close();
    }
  });
});

describe('corrupt outbound.db', () => {
  const plants: [string, (path: string) => void][] = [
    ['a file that is not SQLite', plantNotSqlite],
    ['an SQLite file with damaged pages', plantCorruptOutbound],
    ['an empty file (no tables)', (path) => writeFileSync(path, '')],
  ];

  it.each(plants)('readOutbound gives STORAGE corrupt-db for %s', (_what, plant) => {
    rmSync(s.outbound);
    plant(s.outbound);
    const v = expectViolation(
      () => readOutbound(s.outbound, (db) => db.prepare('SELECT * FROM messages_out').all()),
      'corrupt-db',
    );
    expect(v.detail).toContain('outbound.db');
  });

  it('withOutboundWhileStopped gives STORAGE corrupt-db for a file that is not SQLite', () => {
    rmSync(s.outbound);
    plantNotSqlite(s.outbound);
    expectViolation(() => withOutboundWhileStopped(s.outbound, 'stopped', () => 1), 'corrupt-db');
  });

  it('withInbound gives STORAGE corrupt-db for an inbound.db that is not SQLite', () => {
    rmSync(s.inbound);
    plantNotSqlite(s.inbound);
    expectViolation(() => withInbound(s.inbound, (db) => insertIn(db, 'm')), 'corrupt-db');
  });

  it('readOutbound gives STORAGE, not a file-system error, when the session folder is gone', () => {
    rmSync(s.dir, { recursive: true });
    const error = thrown(() => readOutbound(s.outbound, () => 1));
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe('STORAGE');
  });

  it('readOutbound passes an error of its own callback through unchanged', () => {
    const boom = new Error('boom');
    expect(() =>
      readOutbound(s.outbound, () => {
        throw boom;
      }),
    ).toThrow(boom);
  });
});

describe('a missing inbound.db', () => {
  function seqsUpTo41(): void {
    withInbound(s.inbound, (db) => [insertIn(db, 'm-1'), insertIn(db, 'm-2')]);
    insertOut(s.outbound, [1, 3, 5, 41]);
  }

  it.each(inboundOpeners)('%s throws STORAGE naming the missing file and creates nothing', (_n, open) => {
    rmSync(s.inbound);
    const v = expectViolation(() => open(s.inbound), 'missing');
    expect(v.detail).toContain(s.inbound);
    expect(existsSync(s.inbound)).toBe(false);
  });

  it('repairInbound recreates it with the next seq above every seq of outbound.db (42 after 41)', () => {
    seqsUpTo41();
    rmSync(s.inbound);
    expectViolation(() => withInbound(s.inbound, (db) => insertIn(db, 'm-3')), 'missing');
    expectViolation(() => readInbound(s.inbound, (db) => listMessagesIn(db)), 'missing');

    const report = repairInbound(s.inbound, s.outbound);

    expect(report).toMatchObject({ created: true, removed: null, seqFloor: 41, nextInboundSeq: 42 });
    expect(withInbound(s.inbound, (db) => insertIn(db, 'm-3'))).toBe(42);
    expect(withInbound(s.inbound, (db) => insertIn(db, 'm-4'))).toBe(44);
    expect(openDbFds(root)).toEqual([]);
  });

  it('repairInbound also drops the journal the vanished file left behind', () => {
    rmSync(s.inbound);
    writeFileSync(`${s.inbound}-journal`, 'stale journal of a file that is gone');
    repairInbound(s.inbound, s.outbound);
    expect(existsSync(`${s.inbound}-journal`)).toBe(false);
    expect(withInbound(s.inbound, (db) => insertIn(db, 'm-1'))).toBe(2);
  });

  it('repairInbound keeps a sound inbound.db and its rows, raising the floor only', () => {
    seqsUpTo41();
    const report = repairInbound(s.inbound, s.outbound);
    expect(report).toMatchObject({ created: false, removed: null, nextInboundSeq: 42 });
    expect(countIn(s.inbound)).toBe(2);
  });

  it('repairInbound continues above the highest seq when messages_in is ahead of outbound.db', () => {
    withInbound(s.inbound, (db) => [insertIn(db, 'm-1'), insertIn(db, 'm-2'), insertIn(db, 'm-3')]);
    insertOut(s.outbound, [1]);
    expect(repairInbound(s.inbound, s.outbound).nextInboundSeq).toBe(8);
  });

  it('repairInbound ignores outbound seqs that are not integers', () => {
    const db = new Database(s.outbound);
    db.prepare("INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('x', 'zzz', ?, 'chat', '{}')").run(
      NOW,
    );
    db.prepare("INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('y', 7.5, ?, 'chat', '{}')").run(
      NOW,
    );
    db.close();
    insertOut(s.outbound, [9]);
    rmSync(s.inbound);
    expect(repairInbound(s.inbound, s.outbound).nextInboundSeq).toBe(10);
  });

  it('repairInbound removes only the symlink planted at inbound.db, never its target', () => {
    const before = digest(other.inbound);
    rmSync(s.inbound);
    symlinkSync(other.inbound, s.inbound);
    const seen: ContainerViolation[] = [];

    const report = repairInbound(s.inbound, s.outbound, { onViolation: (v) => seen.push(v) });

    expect(report.removed?.kind).toBe('symlink');
    expect(seen.map((v) => v.kind)).toEqual(['symlink']);
    expect(lstatSync(s.inbound).isFile()).toBe(true);
    expect(digest(other.inbound)).toBe(before);
    expect(withInbound(s.inbound, (db) => insertIn(db, 'm-1'))).toBe(2);
  });

  it('repairInbound removes only its own link of a hard-linked inbound.db', () => {
    rmSync(s.inbound);
    linkSync(other.inbound, s.inbound);
    expect(repairInbound(s.inbound, s.outbound).removed?.kind).toBe('hardlink');
    expect(statSync(other.inbound).nlink).toBe(1);
    expect(countIn(other.inbound)).toBe(1);
    expect(countIn(s.inbound)).toBe(0);
  });

  it('repairInbound removes a directory planted at inbound.db without following links inside it', () => {
    rmSync(s.inbound);
    mkdirSync(join(s.inbound, 'deep'), { recursive: true });
    writeFileSync(join(outside, 'kept'), 'kept');
    symlinkSync(outside, join(s.inbound, 'deep', 'link'));
    symlinkSync(other.inbound, join(s.inbound, 'db-link'));

    expect(repairInbound(s.inbound, s.outbound).removed?.kind).toBe('not-regular');

    expect(lstatSync(s.inbound).isFile()).toBe(true);
    expect(readFileSync(join(outside, 'kept'), 'utf8')).toBe('kept');
    expect(countIn(other.inbound)).toBe(1);
  });

  it('repairInbound refuses while outbound.db is a link, leaving inbound.db as it was', () => {
    rmSync(s.inbound);
    rmSync(s.outbound);
    symlinkSync(other.outbound, s.outbound);
    expectViolation(() => repairInbound(s.inbound, s.outbound), 'symlink');
    expect(existsSync(s.inbound)).toBe(false);
  });

  it('repairInbound treats a missing outbound.db as holding no seqs', () => {
    rmSync(s.inbound);
    unlinkSync(s.outbound);
    expect(repairInbound(s.inbound, s.outbound).nextInboundSeq).toBe(2);
  });

  it('nextInboundSeq honours the floor only when a repair wrote one', () => {
    expect(readInbound(s.inbound, (db) => nextInboundSeq(db))).toBe(2);
    insertOut(s.outbound, [99]);
    repairInbound(s.inbound, s.outbound);
    expect(readInbound(s.inbound, (db) => nextInboundSeq(db))).toBe(100);
  });
});
