import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestRuntime, turn, type TestRuntime } from '../../src/testing/index.js';

let t: TestRuntime;

beforeEach(async () => {
  // The agent answers every message; "crash" makes the container die mid-turn once.
  let crashed = false;
  t = await createTestRuntime({
    agent: (message) => {
      if (message.text === 'crash' && !crashed) {
        crashed = true;
        return turn.crash();
      }
      return turn.reply({ text: `you said: ${message.text}` }, { files: { 'note.txt': 'hello' } });
    },
  });
  await t.runtime.upsertAgentGroup({ id: 'support', name: 'Support' });
  await t.runtime.upsertMessagingGroup({ id: 'slack-help', channelType: 'slack', platformId: 'C-help' });
});

afterEach(() => t.close());

it('answers a user in their channel, with the file the agent attached', async () => {
  const { session } = await t.runtime.resolveSession({
    agentGroupId: 'support',
    messagingGroupId: 'slack-help',
    threadId: null,
    mode: 'shared',
  });
  const delivered = t.next('outbound.delivered');
  await t.runtime.writeMessage(session.id, t.chat('m1', 'hi', { channelType: 'slack', platformId: 'C-help' }));
  await t.clock.advance(250); // one poll of the runtime
  await delivered;

  const [reply] = t.channels.channel('slack').delivered;
  expect(reply).toMatchObject({
    sessionId: session.id,
    platformId: 'C-help',
    content: { text: 'you said: hi', files: ['note.txt'] },
  });
  expect(reply!.files?.map((f) => [f.filename, f.data.toString()])).toEqual([['note.txt', 'hello']]);
});

it('retries a message after its container crashed', async () => {
  const { session } = await t.runtime.resolveSession({
    agentGroupId: 'support',
    messagingGroupId: 'slack-help',
    threadId: null,
    mode: 'shared',
  });
  const stopped = t.next('container.status', (e) => e.to === 'stopped');
  await t.runtime.writeMessage(session.id, t.chat('m1', 'crash', { channelType: 'slack', platformId: 'C-help' }));
  expect(await stopped).toMatchObject({ from: 'running', reason: expect.stringContaining('code 1') });

  const delivered = t.next('outbound.delivered');
  await t.clock.advance(60_000); // the retry backoff, then a new container and a poll
  await delivered;
  expect(t.driver.containers).toHaveLength(2);
  expect(t.channels.delivered.map((d) => d.content)).toEqual([{ text: 'you said: crash', files: ['note.txt'] }]);
});
