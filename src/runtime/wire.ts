/**
 * Commit results across a thread boundary. A worker's results are structured-cloned, which keeps
 * plain data but turns a `RuntimeError` into a plain `Error` (its `code` lost) and a `Buffer` into
 * a `Uint8Array`; these two functions carry both over intact (test/runtime/commit-threads.test.ts, "keeps RuntimeError codes and extra fields across the thread boundary", "revives file contents as Buffers").
 */
import type { OpResult } from '../../machines/session.machine.js';
import { RuntimeError, type ErrorCode } from '../errors.js';
import { ContainerViolationError, type ContainerViolation } from '../files/container-violation.js';

interface WireError {
  $error: ErrorCode;
  message: string;
  cause?: string;
  /** Extra fields a RuntimeError carries (e.g. a container violation), as plain data. */
  extra?: Record<string, unknown>;
}

export type WireResult =
  | { requestId: string; kind: string; ok: true; value: unknown }
  | { requestId: string; kind: string; ok: false; error: WireError };

function toWireError(error: unknown): WireError {
  const e = error instanceof RuntimeError ? error : new RuntimeError('STORAGE', String(error), { cause: error });
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(e)) {
    if (key !== 'code' && key !== 'name' && key !== 'message' && key !== 'stack' && key !== 'cause')
      extra[key] = (e as unknown as Record<string, unknown>)[key];
  }
  const cause = e.cause instanceof Error ? e.cause.message : e.cause === undefined ? undefined : String(e.cause);
  return {
    $error: e.code,
    message: e.message,
    ...(cause === undefined ? {} : { cause }),
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

export function toWire(results: readonly OpResult[]): WireResult[] {
  return results.map((r) =>
    r.ok ? r : { requestId: r.requestId, kind: r.kind, ok: false, error: toWireError(r.error) },
  );
}

function fromWireError(w: WireError): RuntimeError {
  const cause = w.cause === undefined ? undefined : { cause: new Error(w.cause) };
  const v = w.extra?.violation as ContainerViolation | undefined;
  if (w.$error === 'STORAGE' && v !== undefined && typeof v.kind === 'string') {
    return new ContainerViolationError(v, cause);
  }
  const error = new RuntimeError(w.$error, w.message, cause);
  if (w.extra !== undefined) Object.assign(error, w.extra);
  return error;
}

function toBuffers(files: unknown): unknown {
  if (!Array.isArray(files)) return files;
  return (files as { filename: string; data: Uint8Array }[]).map((f) => ({
    ...f,
    data: Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength),
  }));
}

/** File contents come back as Uint8Array; callers were promised Buffers. */
function reviveValue(kind: string, value: unknown): unknown {
  if (kind === 'readOutbox') return toBuffers(value);
  if (kind === 'readOutboxChecked' && typeof value === 'object' && value !== null) {
    const read = value as { files?: unknown };
    return { ...read, files: toBuffers(read.files) };
  }
  return value;
}

export function fromWire(results: readonly WireResult[]): OpResult[] {
  return results.map((r) =>
    r.ok
      ? { requestId: r.requestId, kind: r.kind, ok: true, value: reviveValue(r.kind, r.value) }
      : { requestId: r.requestId, kind: r.kind, ok: false, error: fromWireError(r.error) },
  );
}
