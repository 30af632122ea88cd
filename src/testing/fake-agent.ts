/**
 * What the fake container does with each message it claims: a script returns a `FakeTurn` per
 * `trigger=1` message. `turn.reply(...)` answers, `turn.fail()` marks it failed, `turn.crash()`
 * and `turn.hang()` break the container, `turn.exit()` ends it after the turn, `turn.work(ms)`
 * takes its time (beating meanwhile) before any of these.
 */
import type { FakeContainer } from './fake-container.js';

/** Where a message goes, in the column names of both session DBs. */
export interface Address {
  channel_type: string | null;
  platform_id: string | null;
  thread_id: string | null;
}

/** A message as the fake container hands it to the script. */
export interface FakeMessage {
  id: string;
  seq: number;
  kind: string;
  channelType: string | null;
  platformId: string | null;
  threadId: string | null;
  /** The row's content as stored (JSON text, or any text). */
  content: string;
  /** `content` parsed, or the text itself when it is not JSON. */
  json: unknown;
  /** `json.text` when it is a string, the content itself when it is not JSON, else ''. */
  text: string;
}

export interface FakeReply {
  /** The reply's content: a string is stored as it is, anything else as JSON. */
  content: unknown;
  /** Files written to `outbox/<replyId>/` before the row, listed in the content's `files`. */
  files?: Record<string, string | Uint8Array>;
  /** `chat` by default; `system` asks the host itself. */
  kind?: string;
  /** Delivered no earlier than this (`datetime()`-parsable UTC). */
  deliverAfter?: string;
}

export type FakeTurn =
  | { type: 'reply'; replies: FakeReply[] }
  | { type: 'fail' }
  | { type: 'crash'; code: number }
  | { type: 'hang' }
  | { type: 'exit'; code: number }
  | { type: 'work'; ms: number; then: FakeTurn };

/** Decides the turn for one claimed `trigger=1` message; `undefined` means the default echo. */
export type FakeAgentScript = (message: FakeMessage, container: FakeContainer) => FakeTurn | undefined;

export const turn = {
  /** Answers with one message; `content` defaults to `{ text: 'echo: <text>' }` like the reference agent. */
  reply(content?: unknown, options: Omit<FakeReply, 'content'> = {}): FakeTurn {
    return { type: 'reply', replies: [{ ...options, content }] };
  },
  /** Answers with several messages (consecutive odd seqs, in this order), or none at all. */
  replies(...replies: FakeReply[]): FakeTurn {
    return { type: 'reply', replies };
  },
  /** Marks the message `failed` in `processing_ack`; no reply. */
  fail(): FakeTurn {
    return { type: 'fail' };
  },
  /** The container dies mid-turn with exit `code`: every claim of the batch stays `processing`. */
  crash(code = 1): FakeTurn {
    return { type: 'crash', code };
  },
  /** The container stops answering: claims stay `processing`, no more polls, no heartbeat. */
  hang(): FakeTurn {
    return { type: 'hang' };
  },
  /** The message is completed without a reply, then the container exits with `code` after the turn. */
  exit(code = 0): FakeTurn {
    return { type: 'exit', code };
  },
  /**
   * A long turn: the claim stays `processing` for `ms` of the clock while the container keeps
   * touching `.heartbeat` every poll (busy, and visibly alive; it claims nothing else meanwhile),
   * then it carries out `then` (default: the echo reply). The batch waits for its longest `work`.
   */
  work(ms: number, then: FakeTurn = { type: 'reply', replies: [{ content: undefined }] }): FakeTurn {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`turn.work(ms) needs a finite ms >= 0, got ${ms}`);
    return { type: 'work', ms, then };
  },
};

/** The reference agent's answer: `{"text":"echo: <text>"}`. */
export function echoContent(message: FakeMessage): { text: string } {
  return { text: `echo: ${message.text}` };
}
