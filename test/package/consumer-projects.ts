/**
 * The user projects test/package/pack.test.ts installs the packed tarball into: plain ESM and
 * CommonJS JavaScript, and TypeScript compiled with `nodenext` (as ESM and as CommonJS) and with
 * `bundler` resolution, each `strict` with `skipLibCheck: false`. Every program prints one JSON
 * line for the test to check.
 */

export interface ConsumerProject {
  name: string;
  /** Files of the project, by path relative to its folder. */
  files: Record<string, string>;
  /** Compiled with tsc before running (its tsconfig.json). */
  typescript: boolean;
  /** The file node runs. */
  main: string;
}

/** ESM, with a real reference-agent container answering to a recording channel adapter. */
const esm = `
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRuntime, processDriver } from 'session-actors';

const dataDir = mkdtempSync(join(tmpdir(), 'sa-consumer-esm-'));
const delivered = [];
const rt = await createRuntime({
  dataDir,
  driver: processDriver({ env: { AGENT_POLL_MS: '20', AGENT_IDLE_EXIT_MS: '0' } }),
  channels: {
    slack: {
      async deliver(msg) {
        delivered.push(msg);
        return { platformMessageId: 'p-' + msg.messageId };
      },
    },
  },
  pollMs: 20,
});
try {
  await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await rt.upsertMessagingGroup({ id: 'mg', channelType: 'slack', platformId: 'C1' });
  const { session } = await rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg', threadId: null, mode: 'shared' });
  const replied = new Promise((resolve, reject) => {
    rt.on('outbound.delivered', resolve);
    rt.on('outbound.failed', (e) => reject(e.error));
    setTimeout(() => reject(new Error('no reply within 20 s')), 20_000).unref();
  });
  const { seq } = await rt.writeMessage(session.id, {
    id: 'm1',
    kind: 'chat',
    timestamp: new Date().toISOString(),
    content: JSON.stringify({ text: 'hello' }),
    channelType: 'slack',
    platformId: 'C1',
  });
  await replied;
  console.log(JSON.stringify({
    resolved: fileURLToPath(import.meta.resolve('session-actors')),
    seq,
    delivered: delivered.map((m) => ({ channelType: m.channelType, platformId: m.platformId, content: m.content })),
  }));
} finally {
  await rt.close();
  rmSync(dataDir, { recursive: true, force: true });
}
`;

/** CommonJS: require() of the package, its machines and its package.json. */
const cjs = `
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { createRuntime, sequentialIds, RuntimeError } = require('session-actors');
const { sessionMachine } = require('session-actors/machines');
const { version } = require('session-actors/package.json');
const { createTestRuntime } = require('session-actors/testing');

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'sa-consumer-cjs-'));
  const rt = await createRuntime({ dataDir, driver: 'none', ids: sequentialIds() });
  try {
    await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
    const { session } = await rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: null, threadId: null, mode: 'shared' });
    const message = { id: 'm1', kind: 'chat', timestamp: new Date().toISOString(), content: '{"text":"hi"}' };
    const { seq } = await rt.writeMessage(session.id, message);
    const counts = await rt.messageCounts(session.id);
    let code = null;
    await rt.writeMessage('../escape', message).catch((e) => { code = e instanceof RuntimeError ? e.code : String(e); });
    console.log(JSON.stringify({ resolved: require.resolve('session-actors'), version, sessionId: session.id, seq, counts, code, machine: sessionMachine.id, testing: typeof createTestRuntime }));
  } finally {
    await rt.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
main().catch((error) => { console.error(error); process.exitCode = 1; });
`;

/** TypeScript a user would write: public types by name, a custom driver on \`sessionEnv\`. */
const ts = `
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRuntime,
  RuntimeError,
  sessionEnv,
  type ChannelAdapter,
  type ContainerDriver,
  type ContainerStartContext,
  type InboundMessage,
  type MessageCounts,
  type OutboundDelivery,
  type Runtime,
  type RuntimeOptions,
} from 'session-actors';
import { sessionMachine, type SessionMachine } from 'session-actors/machines';
import { createTestRuntime, turn, type TestRuntime } from 'session-actors/testing';

const recorded: OutboundDelivery[] = [];
const channel: ChannelAdapter = {
  async deliver(msg: OutboundDelivery) {
    recorded.push(msg);
    return { platformMessageId: null };
  },
};

/** A driver of one's own: it would run an agent with the session's environment. */
const myDriver: ContainerDriver = {
  async start(ctx: ContainerStartContext) {
    const env: Record<string, string> = sessionEnv(ctx);
    throw new RuntimeError('INVALID_INPUT', 'not in this test: ' + Object.keys(env).join(','));
  },
};

/** The test kit: a scripted agent on a simulated clock answers into a recording channel. */
async function kit(): Promise<unknown[]> {
  const t: TestRuntime = await createTestRuntime({ agent: (m) => turn.reply({ text: 'ok ' + m.text }) });
  try {
    await t.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
    await t.runtime.upsertMessagingGroup({ id: 'mg', channelType: 'slack', platformId: 'C1' });
    const { session } = await t.runtime.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg', threadId: null, mode: 'shared' });
    const delivered = t.next('outbound.delivered');
    await t.runtime.writeMessage(session.id, t.chat('m1', 'hi', { channelType: 'slack', platformId: 'C1' }));
    await t.clock.advance(250);
    await delivered;
    return t.channels.channel('slack').delivered.map((d) => d.content);
  } finally {
    await t.close();
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sa-consumer-ts-'));
  const options: RuntimeOptions = { dataDir, driver: 'none', channels: { slack: channel } };
  const rt: Runtime = await createRuntime(options);
  try {
    await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
    await rt.upsertMessagingGroup({ id: 'mg', channelType: 'slack', platformId: 'C1' });
    const { session } = await rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg', threadId: 't', mode: 'per-thread' });
    const message: InboundMessage = { id: 'm1', kind: 'chat', timestamp: new Date().toISOString(), content: '{"text":"hi"}' };
    const { seq, duplicate } = await rt.writeMessage(session.id, message);
    const again = await rt.writeMessage(session.id, message);
    const counts: MessageCounts = await rt.messageCounts(session.id);
    const machine: SessionMachine = sessionMachine;
    const env = sessionEnv({
      sessionId: session.id,
      agentGroupId: 'ag',
      sessionDir: rt.paths.sessionDir('ag', session.id),
      inboundDbPath: rt.paths.inboundDbPath('ag', session.id),
      outboundDbPath: rt.paths.outboundDbPath('ag', session.id),
      heartbeatPath: rt.paths.heartbeatPath('ag', session.id),
    });
    const kitDelivered = await kit();
    console.log(JSON.stringify({ seq, duplicate, again, counts, machine: machine.id, env: env.SESSION_ID === session.id, driver: typeof myDriver.start, kit: kitDelivered }));
  } finally {
    await rt.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const strict = {
  strict: true,
  skipLibCheck: false,
  noEmitOnError: true,
  types: ['node'],
  target: 'ES2022',
  outDir: 'out',
};

function tsProject(
  name: string,
  type: 'module' | 'commonjs',
  compilerOptions: Record<string, unknown>,
): ConsumerProject {
  return {
    name,
    typescript: true,
    main: 'out/index.js',
    files: {
      'package.json': JSON.stringify({ name, private: true, type }),
      'tsconfig.json': JSON.stringify({ compilerOptions: { ...strict, ...compilerOptions }, files: ['index.ts'] }),
      'index.ts': ts,
    },
  };
}

export const CONSUMER_PROJECTS: ConsumerProject[] = [
  {
    name: 'esm',
    typescript: false,
    main: 'index.js',
    files: { 'package.json': JSON.stringify({ name: 'esm', private: true, type: 'module' }), 'index.js': esm },
  },
  {
    name: 'cjs',
    typescript: false,
    main: 'index.js',
    files: { 'package.json': JSON.stringify({ name: 'cjs', private: true }), 'index.js': cjs },
  },
  tsProject('ts-nodenext-esm', 'module', { module: 'nodenext', moduleResolution: 'nodenext' }),
  tsProject('ts-nodenext-cjs', 'commonjs', { module: 'nodenext', moduleResolution: 'nodenext' }),
  tsProject('ts-bundler', 'module', { module: 'preserve', moduleResolution: 'bundler' }),
];
