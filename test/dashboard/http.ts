/** Small HTTP helpers for the dashboard tests: a GET with any Host header, and an SSE reader. */
import { request, type IncomingMessage } from 'node:http';

export function get(
  url: string,
  options: { method?: string; host?: string } = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: options.method ?? 'GET',
        headers: options.host === undefined ? {} : { Host: options.host },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export interface SseStream {
  /** Every event received so far, in order. */
  events: { event: string; data: unknown }[];
  /** Resolves when an event satisfying `match` has arrived (checking those already received too). */
  until(match: (events: SseStream['events']) => boolean): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openSse(url: string): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'text/event-stream' } }, (res) => {
      const events: SseStream['events'] = [];
      const waiters: { match: (e: SseStream['events']) => boolean; done: () => void }[] = [];
      let buffer = '';
      const check = () => {
        for (const w of waiters.splice(0)) {
          if (w.match(events)) w.done();
          else waiters.push(w);
        }
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data = line.slice(6);
          }
          if (data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
        check();
      });
      const ended = new Promise<void>((done) => res.on('end', done));
      resolve({
        events,
        ended,
        until: (match) =>
          new Promise<void>((done) => {
            waiters.push({ match, done });
            check();
          }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
