/**
 * `startDashboard(runtimeOrSource, { port, host })`: one small page over HTTP (node:http, no
 * framework), its two assets, the statechart as SVG, a JSON API and a Server-Sent Events stream.
 * Everything is served from the package: the page loads nothing from the network.
 *
 * Invariants (guarded by test/dashboard/server.test.ts and the browser tests):
 * 1. Bound to 127.0.0.1 by default; on a loopback address, requests naming another host in their
 *    `Host` header are refused (a web page elsewhere cannot read sessions through DNS rebinding).
 * 2. Read-only: only GET and HEAD; nothing a request says reaches the runtime except the reads of
 *    the source interface.
 * 3. Live updates are coalesced (changeCoalescer, 250 ms): every SSE client gets at most one
 *    `changes` message per interval, and a client that cannot keep up gets one `{ all: true }`
 *    when it drains instead of a backlog.
 * 4. `close()` ends every open stream and connection, so it resolves promptly.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AnyStateMachine } from 'xstate';
import { sessionMachine } from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import { toSVG } from '../viz/svg.js';
import { handleApi, type ApiInfo } from './api.js';
import { changeCoalescer } from './coalesce.js';
import { runtimeSource, type DescribableRuntime } from './runtime-source.js';
import type { DashboardSource } from './source.js';

export interface DashboardOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Address to bind (default `127.0.0.1`). */
  host?: string;
  /** The machine drawn on the page (default the session machine). */
  machine?: AnyStateMachine;
  /** Page title (default: the source's). */
  title?: string;
  /** Longest a change waits before it is pushed, and the shortest gap between two pushes (ms, default 250). */
  coalesceMs?: number;
}

export interface Dashboard {
  /** `http://host:port/`. */
  url: string;
  /** Resolves when a page first opens its live-update stream (someone is watching). */
  connected: Promise<void>;
  close(): Promise<void>;
}

/** Changed ids in one message beyond this become `{ all: true }`: the page re-reads what it shows. */
const MAX_IDS_PER_MESSAGE = 500;
const KEEPALIVE_MS = 15_000;

const ASSETS = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
} as const;

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

let assetCache: Map<string, Buffer> | undefined;

/** The page's files, read once from `assets/` beside this module (copied there by the build). */
function loadAssets(): Map<string, Buffer> {
  if (assetCache !== undefined) return assetCache;
  const dir = new URL('./assets/', import.meta.url);
  const files = new Map<string, Buffer>();
  for (const { file } of Object.values(ASSETS)) {
    try {
      files.set(file, readFileSync(new URL(file, dir)));
    } catch (error) {
      throw new RuntimeError('INVALID_INPUT', `dashboard asset ${file} is missing from ${dir.pathname}`, {
        cause: error,
      });
    }
  }
  return (assetCache = files);
}

const svgCache = new WeakMap<AnyStateMachine, Promise<string>>();
function chartOf(machine: AnyStateMachine): Promise<string> {
  let svg = svgCache.get(machine);
  if (svg === undefined) svgCache.set(machine, (svg = toSVG(machine)));
  return svg;
}

const isSource = (target: unknown): target is DashboardSource =>
  typeof (target as DashboardSource).sessions === 'function' &&
  typeof (target as DashboardSource).session === 'function' &&
  typeof (target as DashboardSource).onChange === 'function';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** The hostname of a `Host` header (`[::1]:8080` → `::1`). */
function hostnameOf(header: string): string {
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return (colon === -1 ? header : header.slice(0, colon)).toLowerCase();
}

/**
 * Serves the dashboard for a runtime (`createRuntime`, including a `readOnly` observer) or any
 * `DashboardSource` (e.g. `replaySource(timeline)`). Resolves once listening.
 *
 * @example
 * const { url, close } = await startDashboard(rt, { port: 0 });
 * console.log(`dashboard: ${url}`);
 */
export async function startDashboard(
  target: DashboardSource | DescribableRuntime,
  options: DashboardOptions = {},
): Promise<Dashboard> {
  const port = options.port ?? 0;
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RuntimeError('INVALID_INPUT', `port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  if (typeof host !== 'string' || host === '')
    throw new RuntimeError('INVALID_INPUT', 'host must be a non-empty string');
  const owned = !isSource(target);
  const source = isSource(target)
    ? target
    : runtimeSource(target, options.title === undefined ? {} : { title: options.title });
  const machine = options.machine ?? sessionMachine;
  const assets = loadAssets();
  const svg = Buffer.from(await chartOf(machine));
  const root = machine.root as { type: string; states: Record<string, unknown> };
  const info: ApiInfo = {
    kind: source.kind,
    title: options.title ?? source.title,
    machine: machine.id,
    regions: root.type === 'parallel' ? Object.keys(root.states) : [],
    records: source.replay?.count ?? null,
    divergence: source.replay?.divergence ?? null,
  };

  interface Client {
    res: ServerResponse;
    behind: boolean;
  }
  const clients = new Set<Client>();
  let onFirstClient: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (onFirstClient = resolve));
  const send = (client: Client, event: string, data: unknown) => {
    if (client.behind) return;
    if (!client.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) {
      client.behind = true;
      client.res.once('drain', () => {
        client.behind = false;
        send(client, 'changes', { all: true });
      });
    }
  };
  const coalescer = changeCoalescer(
    (ids) => {
      const data = ids.length > MAX_IDS_PER_MESSAGE ? { all: true } : { ids };
      for (const client of clients) send(client, 'changes', data);
    },
    { intervalMs: options.coalesceMs ?? 250 },
  );
  const unsubscribe = source.onChange((ids) => coalescer.add(ids));
  const keepalive = setInterval(() => {
    for (const client of clients) if (!client.behind) client.res.write(': keepalive\n\n');
  }, KEEPALIVE_MS);
  keepalive.unref();

  const allowedHosts = LOOPBACK.test(host) ? new Set(['localhost', '127.0.0.1', '::1', host.toLowerCase()]) : null;

  const respond = (res: ServerResponse, status: number, type: string, body: Buffer | string, extra = {}) => {
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      ...SECURITY_HEADERS,
      ...extra,
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const json = (res: ServerResponse, status: number, body: unknown) =>
    respond(res, status, 'application/json; charset=utf-8', JSON.stringify(body), { 'Cache-Control': 'no-store' });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (allowedHosts !== null && !allowedHosts.has(hostnameOf(req.headers.host ?? ''))) {
      return respond(res, 403, 'text/plain; charset=utf-8', 'forbidden host\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return respond(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      // An unparsable request target: answer it, do not let it reach the routes.
      return respond(res, 400, 'text/plain; charset=utf-8', 'bad request\n');
    }
    const asset = ASSETS[url.pathname as keyof typeof ASSETS];
    if (asset !== undefined) return respond(res, 200, asset.type, assets.get(asset.file) as Buffer);
    if (url.pathname === '/chart.svg') return respond(res, 200, 'image/svg+xml; charset=utf-8', svg);
    if (url.pathname === '/api/events') {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        ...SECURITY_HEADERS,
      });
      res.write('retry: 1000\n\n');
      const client: Client = { res, behind: false };
      clients.add(client);
      onFirstClient();
      send(client, 'hello', { kind: info.kind });
      req.on('close', () => clients.delete(client));
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      const { status, body } = handleApi(source, info, url);
      return json(res, status, body);
    }
    return respond(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      if (!res.headersSent) json(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}/`,
    connected,
    close() {
      closing ??= new Promise<void>((resolve) => {
        unsubscribe();
        coalescer.close();
        clearInterval(keepalive);
        for (const client of clients) client.res.end();
        clients.clear();
        if (owned) source.dispose?.();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
