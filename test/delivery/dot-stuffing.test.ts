import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dotStuffing from '../../src/delivery/dot-stuffing.js';
import { deliverMessage } from '../../src/delivery/transaction.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { seededRandom } from '../helpers/random.js';

type DataStreamClass = new () => Transform & { inByteCount: number; outByteCount: number };

async function loadDataStream(): Promise<DataStreamClass> {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('nodemailer/package.json'));
  const module = (await import(pathToFileURL(join(root, 'dist', 'esm', 'smtp-connection', 'data-stream.js')).href)) as { default: DataStreamClass };
  return module.default;
}

/** Runs chunks through a DataStream, with the shipped transform or the patched one. */
async function escape(DataStream: DataStreamClass, chunks: Buffer[], shipped: boolean): Promise<{ out: Buffer; inBytes: number; outBytes: number }> {
  const stream = new DataStream();
  if (shipped && dotStuffing.shippedTransform) {
    Object.defineProperty(stream, '_transform', { value: dotStuffing.shippedTransform });
  }
  const parts: Buffer[] = [];
  stream.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (const chunk of chunks) {
    stream.write(chunk);
  }
  stream.end();
  await done;
  return { out: Buffer.concat(parts), inBytes: stream.inByteCount, outBytes: stream.outByteCount };
}

describe('dot-stuffing fast path', () => {
  let DataStream: DataStreamClass;
  let upstream: Upstream;

  beforeAll(async () => {
    DataStream = await loadDataStream();
    upstream = await startUpstream({});
  });

  afterAll(async () => {
    await upstream?.close();
  });

  it('is installed on the DataStream that nodemailer uses', () => {
    expect(dotStuffing.shippedTransform).toBeTypeOf('function');
    expect(DataStream.prototype._transform).not.toBe(dotStuffing.shippedTransform);
  });

  it('matches the shipped transform', async () => {
    const next = seededRandom(7);
    const alphabet = ['a', 'b', '.', '\r', '\n', '\r\n', '\r\n.', '\r\n..', '\n.'];
    for (let round = 0; round < 400; round += 1) {
      let text = '';
      const length = Math.floor(next() * 60);
      for (let index = 0; index < length; index += 1) {
        text += alphabet[Math.floor(next() * alphabet.length)];
      }
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(next() * 8);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      const shipped = await escape(DataStream, chunks, true);
      const patched = await escape(DataStream, chunks, false);
      expect({ text, ...patched, out: patched.out.toString('latin1') }).toEqual({ text, ...shipped, out: shipped.out.toString('latin1') });
    }
  });

  it('passes only chunks that need no escaping', () => {
    expect(dotStuffing.passesUnchanged(Buffer.from('a\r\nb\r\n'), false)).toBe(true);
    expect(dotStuffing.passesUnchanged(Buffer.from('.a\r\n'), false)).toBe(false);
    expect(dotStuffing.passesUnchanged(Buffer.from('.a\r\n'), 0x0a)).toBe(false);
    expect(dotStuffing.passesUnchanged(Buffer.from('\na'), 0x0d)).toBe(true);
    expect(dotStuffing.passesUnchanged(Buffer.from('a'), 0x0d)).toBe(false);
    expect(dotStuffing.passesUnchanged(Buffer.from('a\nb'), false)).toBe(false);
    expect(dotStuffing.passesUnchanged(Buffer.from('a\rb'), false)).toBe(false);
    expect(dotStuffing.passesUnchanged(Buffer.from('a\r'), false)).toBe(true);
    expect(dotStuffing.passesUnchanged(Buffer.from('a\r\n.b'), false)).toBe(false);
  });

  it('delivers clean and dotted messages', async () => {
    const clean = `Subject: clean\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(100);
    const dotted = 'Subject: dotted\r\n\r\n.starts with a dot\r\nbare\nline\r\n';
    const before = dotStuffing.fastPathChunks;
    for (const body of [clean, dotted]) {
      const result = await deliverMessage(
        { queueId: 'Q1', sender: 'a@example.org', recipients: ['b@example.com'], size: body.length, openBody: () => Readable.from([Buffer.from(body)]) },
        [{ mx: '127.0.0.1', address: '127.0.0.1', port: upstream.port, preference: 0 }],
        { heloName: 'relay.test', timeoutMs: 5000, opportunisticTls: false, localAddress: null },
      );
      expect(result.results[0]?.delivered).toBe(true);
    }
    expect(dotStuffing.fastPathChunks).toBeGreaterThan(before);
    expect(upstream.received[0]?.body).toBe(clean);
    expect(upstream.received[1]?.body).toBe('Subject: dotted\r\n\r\n.starts with a dot\r\nbare\r\nline\r\n');
  });
});
