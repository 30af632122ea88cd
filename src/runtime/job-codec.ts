/**
 * How a batch and its results cross to a commit thread and back: as JSON text, with the common
 * case — many `writeMessage` operations and their `{ seq, duplicate }` results — in columns (one
 * array per field instead of one object per message), which is about four times cheaper to
 * encode and decode than objects, on the event loop's side of the boundary too.
 *
 * Invariant (guarded by test/runtime/job-codec.test.ts): `decodeOps(encodeOps(ops))` and
 * `decodeResults(encodeResults(results))` give back equal values, in order, for any mix of
 * operations and results.
 */
import type { InboundMessage } from './types.js';
import type { SessionOp } from './ops/types.js';
import type { WireResult } from './wire.js';

type WriteOp = Extract<SessionOp, { kind: 'writeMessage' }>;

const FIELDS = [
  'id',
  'kind',
  'timestamp',
  'content',
  'platformId',
  'channelType',
  'threadId',
  'processAfter',
  'recurrence',
  'trigger',
  'sourceSessionId',
  'onWake',
] as const satisfies readonly (keyof InboundMessage)[];

/** Operations as columns: `writes` holds the writeMessage ones, `other` the rest, by position. */
export interface EncodedOps {
  n: number;
  /** Position → index into `other`, for the operations that are not writes (others are writes, in order). */
  otherAt: number[];
  other: SessionOp[];
  at: number[];
  /** One column per message field; a column whose values are all null is null. */
  cols: (unknown[] | null)[];
}

export function encodeOps(ops: readonly SessionOp[]): EncodedOps {
  const otherAt: number[] = [];
  const other: SessionOp[] = [];
  const writes: WriteOp[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (op.kind === 'writeMessage') writes.push(op);
    else {
      otherAt.push(i);
      other.push(op);
    }
  }
  const cols: (unknown[] | null)[] = [];
  for (const field of FIELDS) {
    const col = new Array<unknown>(writes.length);
    let any = false;
    for (let j = 0; j < writes.length; j++) {
      const v = writes[j]!.message[field] ?? null;
      col[j] = v;
      if (v !== null) any = true;
    }
    cols.push(any ? col : null);
  }
  return { n: ops.length, otherAt, other, at: writes.map((w) => w.at), cols };
}

export function decodeOps(e: EncodedOps): SessionOp[] {
  const ops = new Array<SessionOp>(e.n);
  e.otherAt.forEach((pos, k) => (ops[pos] = e.other[k]!));
  let j = 0;
  for (let i = 0; i < e.n; i++) {
    if (ops[i] !== undefined) continue;
    const message = {} as Record<string, unknown>;
    FIELDS.forEach((field, f) => (message[field] = e.cols[f]?.[j] ?? null));
    ops[i] = { kind: 'writeMessage', at: e.at[j]!, message: message as unknown as InboundMessage };
    j++;
  }
  return ops;
}

/** Results as columns: ok writeMessage results as seqs (negative when duplicate), the rest whole. */
export interface EncodedResults {
  n: number;
  /** Per position: a seq (`-seq` for a duplicate), or null where `other` holds the result. */
  seqs: (number | null)[];
  other: WireResult[];
}

export function encodeResults(results: readonly WireResult[]): EncodedResults {
  const seqs: (number | null)[] = [];
  const other: WireResult[] = [];
  for (const r of results) {
    if (r.ok && r.kind === 'writeMessage') {
      const v = r.value as { seq: number; duplicate: boolean };
      seqs.push(v.duplicate ? -v.seq : v.seq);
    } else {
      seqs.push(null);
      other.push(r);
    }
  }
  return { n: results.length, seqs, other };
}

export function decodeResults(e: EncodedResults): WireResult[] {
  const out = new Array<WireResult>(e.n);
  let k = 0;
  for (let i = 0; i < e.n; i++) {
    const s = e.seqs[i];
    if (s === null || s === undefined) out[i] = e.other[k++]!;
    else
      out[i] = { requestId: String(i), kind: 'writeMessage', ok: true, value: { seq: Math.abs(s), duplicate: s < 0 } };
  }
  return out;
}
