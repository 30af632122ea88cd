/**
 * The dashboard's JSON API as a pure function of a source and a request URL: no sockets, so every
 * route and every refusal is unit-tested (test/dashboard/api.test.ts).
 *
 * Rules:
 * 1. Every parameter is validated: integers in range, ids as plain strings, a `limit` of at most
 *    `MAX_LIMIT`; anything else is a 400 with a message, never an exception.
 * 2. Unknown routes are 404; replay routes on a live source are 404 too. A session id that names
 *    no session (or none yet, at a replay's cursor) is answered with `null`.
 */
import type { DashboardSource, SeekKind } from './source.js';

export const MAX_LIMIT = 500;

export interface ApiInfo {
  kind: DashboardSource['kind'];
  title: string;
  machine: string;
  regions: string[];
  /** Replay: number of records and the first divergence. */
  records: number | null;
  divergence: NonNullable<DashboardSource['replay']>['divergence'];
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

class BadRequest extends Error {}

function int(params: URLSearchParams, name: string, fallback: number | undefined, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') {
    if (fallback === undefined) throw new BadRequest(`${name} is required`);
    return fallback;
  }
  if (!/^-?\d{1,15}$/.test(raw)) throw new BadRequest(`${name} must be an integer`);
  const value = Number(raw);
  if (value < min || value > max) throw new BadRequest(`${name} must be between ${min} and ${max}`);
  return value;
}

function text(params: URLSearchParams, name: string, maxLength: number): string | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (raw.length > maxLength) throw new BadRequest(`${name} is longer than ${maxLength} characters`);
  return raw;
}

/** Answers one API request (`/api/...`) from `source`. */
export function handleApi(source: DashboardSource, info: ApiInfo, url: URL): ApiResponse {
  try {
    const p = url.searchParams;
    const replay = source.replay;
    const lastRecord = Math.max(0, (replay?.count ?? 1) - 1);
    const at = () => (replay === undefined ? undefined : int(p, 'at', lastRecord, 0, lastRecord));
    switch (url.pathname) {
      case '/api/info':
        return { status: 200, body: info };
      case '/api/sessions': {
        const status = text(p, 'status', 20);
        const filter = text(p, 'q', 200);
        return {
          status: 200,
          body: source.sessions({
            offset: int(p, 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
            limit: int(p, 'limit', 50, 1, MAX_LIMIT),
            ...(filter === undefined ? {} : { filter }),
            ...(status === undefined ? {} : { status }),
            ...(replay === undefined ? {} : { at: at() }),
          }),
        };
      }
      case '/api/session': {
        const id = text(p, 'id', 1024);
        if (id === undefined || id === '') throw new BadRequest('id is required');
        // A session that does not exist (or not yet, at a replay's cursor) is an answer, not an error.
        return { status: 200, body: source.session(id, at()) ?? null };
      }
      case '/api/records': {
        if (replay === undefined) break;
        const offset = int(p, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
        const limit = int(p, 'limit', 50, 1, MAX_LIMIT);
        return { status: 200, body: { count: replay.count, offset, records: replay.records(offset, limit) } };
      }
      case '/api/seek': {
        if (replay === undefined) break;
        const kind = text(p, 'kind', 20) ?? 'record';
        if (kind !== 'record' && kind !== 'transition' && kind !== 'session') {
          throw new BadRequest('kind must be record, transition or session');
        }
        const dir = p.get('dir') === '-1' ? -1 : 1;
        const session = text(p, 'session', 1024);
        if (kind === 'session' && (session === undefined || session === '')) {
          throw new BadRequest('session is required');
        }
        const from = int(p, 'from', undefined, 0, lastRecord);
        return { status: 200, body: { index: replay.seek(from, kind as SeekKind, dir, session) } };
      }
    }
    return { status: 404, body: { error: `no route ${url.pathname}` } };
  } catch (error) {
    if (error instanceof BadRequest) return { status: 400, body: { error: error.message } };
    throw error;
  }
}
