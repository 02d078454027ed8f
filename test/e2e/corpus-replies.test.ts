import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusDir, readReplies, type ReplyCase } from '../helpers/corpus.js';
import { startRawUpstream, type RawUpstream, type RawUpstreamScript } from '../helpers/upstream.js';
import { startTestRelay, submit, waitFor, type TestRelay } from './harness.js';

const corpus = corpusDir();

/** Puts a corpus reply at the SMTP stage it was recorded at. */
function scriptFor(item: ReplyCase, recipient: string): RawUpstreamScript {
  const reply = item.reply.replace(/\r\n/g, '\n').replace(/\n+$/, '');
  switch (item.stage) {
    case 'connect':
      return { greeting: reply };
    case 'ehlo':
      return { ehlo: reply, helo: reply };
    case 'mail':
      return { mail: reply };
    case 'eod':
      return { eod: reply };
    default:
      return { recipients: { [recipient]: reply } };
  }
}

/** Returns the enhanced code of a reply's first line (RFC 3463), read independently of the relay's parser. */
function enhancedCodeOf(reply: string): string {
  const match = /^\d{3}[ -]#?([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  return match?.[1] ?? '';
}

describe.skipIf(corpus === null)('real replies recorded through the relay', () => {
  const cases = corpus === null ? [] : readReplies();
  const upstreams: RawUpstream[] = [];
  let relay: TestRelay;

  beforeAll(async () => {
    const routes: Record<string, string> = {};
    for (const [index, item] of cases.entries()) {
      const upstream = await startRawUpstream(scriptFor(item, `user@c${index}.corpus.example`));
      upstreams.push(upstream);
      routes[`c${index}.corpus.example`] = `127.0.0.1:${upstream.port}`;
    }
    relay = await startTestRelay({ relay: { routes }, retry: { schedule: [3600], maxAge: 86400 } });
    await Promise.all(cases.map((_item, index) => submit(relay, { from: 'app@sender.example', to: [`user@c${index}.corpus.example`] })));
  }, 60_000);

  afterAll(async () => {
    await relay?.destroy();
    await Promise.all(upstreams.map((upstream) => upstream.close()));
  });

  it.each(cases.map((item, index) => [index, item] as const))('reply %i recorded and decided', async (index, item) => {
    const recipient = `user@c${index}.corpus.example`;
    const event = await waitFor(async () => {
      const page = await relay.events.query({ recipient, limit: 10 });
      return page.events.find((candidate) => candidate.action !== 'delivered') ?? undefined;
    }, 20_000, `an event for corpus reply ${index}`);
    const firstLine = item.reply.split(/\r?\n/)[0] ?? '';

    expect(event.code, item.reply).toBe(Number(firstLine.slice(0, 3)));
    expect(event.enhancedCode, item.reply).toBe(enhancedCodeOf(firstLine));
    expect(event.text, item.reply).toBe(item.reply.replace(/\r\n/g, '\n').replace(/\n+$/, ''));
    expect(event.permanent, item.reply).toBe(item.permanent);
    expect(event.action, item.reply).toBe(item.permanent ? 'bounced' : 'deferred');
    expect(event.suppressed, item.reply).toBe(item.suppress);
    expect((await relay.suppressions.findActive(recipient)) !== null, item.reply).toBe(item.suppress);
    const events = await relay.events.query({ recipient, limit: 10 });
    expect(events.events.filter((candidate) => candidate.sender !== '').length, item.reply).toBe(1);
  });
});
