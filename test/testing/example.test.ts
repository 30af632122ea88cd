import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestRuntime, turn, type TestRuntime } from '../../src/testing/index.js';

let t: TestRuntime;

beforeEach(async () => {
  // The agent answers every message with a file; "crash" makes its container die mid-turn, once.
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

async function helpDesk() {
  const { session } = await t.runtime.resolveSession({
    agentGroupId: 'support',
    messagingGroupId: 'slack-help',
    threadId: null,
    mode: 'shared',
  });
  return session.id;
}

it('answers a user in their channel, with the file the agent attached', async () => {
  const sessionId = await helpDesk();
  await t.runtime.writeMessage(sessionId, t.chat('m1', 'hi', { channelType: 'slack', platformId: 'C-help' }));
  await t.clock.advance(250); // one poll of the runtime: the reply is read and delivered

  const [reply] = t.channels.channel('slack').delivered;
  expect(reply).toMatchObject({ sessionId, platformId: 'C-help', content: { text: 'you said: hi' } });
  expect(reply!.files?.map((f) => [f.filename, f.data.toString()])).toEqual([['note.txt', 'hello']]);
  expect(t.errors).toEqual([]);
});

it('retries a message after its container crashed', async () => {
  const sessionId = await helpDesk();
  await t.runtime.writeMessage(sessionId, t.chat('m1', 'crash', { channelType: 'slack', platformId: 'C-help' }));
  await t.settle();
  expect(t.driver.containers[0]!.exit).toEqual({ code: 1, signal: null });
  expect(t.runtime.containerStatus(sessionId)).toBe('stopped');
  expect(t.channels.delivered).toEqual([]);

  await t.clock.advance(10_000); // the retry backoff (5 s), a new container, a poll
  expect(t.driver.containers).toHaveLength(2);
  expect(t.channels.delivered.map((d) => d.content)).toEqual([{ text: 'you said: crash', files: ['note.txt'] }]);
});
