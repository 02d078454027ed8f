import { once } from 'node:events';
import net from 'node:net';
import type { PassThrough } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { SMTPStream } from 'smtp-server/lib/smtp-stream';
import { afterEach, describe, expect, it } from 'vitest';
import * as dataScan from '../../src/ingress/data-scan.js';
import { seededRandom } from '../helpers/random.js';

interface Parsed {
  data: string;
  dataBytes: number;
  /** Commands read after the end of DATA. */
  commands: string[];
}

type FeedStream = SMTPStream & { startDataMode(maxBytes?: number): PassThrough; dataBytes: number };

/** Feeds the chunks to an SMTPStream in data mode, with the shipped parser or the patched one. */
async function parse(chunks: Buffer[], shipped: boolean): Promise<Parsed> {
  const stream = new SMTPStream() as FeedStream;
  if (shipped && dataScan.shippedFeed) {
    Object.defineProperty(stream, '_feedDataStream', { value: dataScan.shippedFeed });
  }
  const commands: string[] = [];
  stream.oncommand = (command: Buffer, callback?: () => void) => {
    commands.push(command.toString('latin1'));
    callback?.();
  };
  const dataStream = stream.startDataMode();
  const parts: Buffer[] = [];
  dataStream.on('data', (part: Buffer) => parts.push(part));
  dataStream.on('end', () => stream.continue());
  for (const chunk of chunks) {
    stream.write(chunk);
  }
  stream.end();
  await once(stream, 'finish');
  // Chunks after an escape dot are fed from setImmediate: wait until nothing more arrives.
  for (let idle = 0, seen = -1; idle < 3; ) {
    await new Promise((resolve) => setImmediate(resolve));
    const now = parts.length + commands.length;
    idle = now === seen ? idle + 1 : 0;
    seen = now;
  }
  return { data: Buffer.concat(parts).toString('latin1'), dataBytes: stream.dataBytes, commands };
}

describe('DATA scan fast path', () => {
  let server: SMTPServer | null = null;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  it('is installed on the SMTPStream that smtp-server uses', () => {
    expect(dataScan.shippedFeed).toBeTypeOf('function');
    expect((SMTPStream.prototype as unknown as { _feedDataStream: unknown })._feedDataStream).not.toBe(dataScan.shippedFeed);
  });

  it('tells plain chunks from those with a line that starts with a dot', () => {
    expect(dataScan.plainData(false, Buffer.from('abc\r\ndef\r\n'))).toBe(true);
    expect(dataScan.plainData(false, Buffer.from('abc\r\n.def'))).toBe(false);
    expect(dataScan.plainData(Buffer.from('x\r\n'), Buffer.from('.\r\nQUIT'))).toBe(false);
    expect(dataScan.plainData(Buffer.from('\n.ab'), Buffer.from('cdefg'))).toBe(false);
    expect(dataScan.plainData(Buffer.from('ab\r\n'), Buffer.from('x.\r\n'))).toBe(true);
  });

  it('matches the shipped parser on hostile input cut anywhere', async () => {
    const next = seededRandom(11);
    const alphabet = ['a', 'abcdefghij', 'x'.repeat(40), '.', '\r', '\n', '\r\n', '\r\n.', '\r\n..', '\n.', '\n.\n', '\r\n.\r\n', 'QUIT\r\n'];
    const edges = ['.\r\nNOOP\r\n', '..abcdef\r\n.\r\n', '.abcdefgh\r\n.\r\n', 'abcdefgh\r\n.\r\n', 'abcdefgh\r\n', '.\r\n.\r\n'];
    for (const edge of edges) {
      const chunks = [Buffer.from(edge, 'latin1'), Buffer.from('more text\r\n.\r\nQUIT\r\n', 'latin1')];
      expect(await parse(chunks, false), JSON.stringify(edge)).toEqual(await parse(chunks, true));
    }
    const before = dataScan.fastPathChunks;
    // Small chunks cut at every boundary; large ones put dot lines and the end of DATA inside a chunk.
    for (let round = 0; round < 1200; round += 1) {
      const maxChunk = round % 2 === 0 ? 16 : 96;
      let text = '';
      const length = Math.floor(next() * 40);
      for (let index = 0; index < length; index += 1) {
        text += alphabet[Math.floor(next() * alphabet.length)];
      }
      text += '\r\n.\r\nNOOP\r\n';
      const bytes = Buffer.from(text, 'latin1');
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(next() * maxChunk);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      const patched = await parse(chunks, false);
      const shipped = await parse(chunks, true);
      expect(patched, JSON.stringify(chunks.map((chunk) => chunk.toString('latin1')))).toEqual(shipped);
    }
    expect(dataScan.fastPathChunks).toBeGreaterThan(before + 500);
  });

  it('receives a message byte for byte through a real SMTPServer', async () => {
    let received = '';
    server = new SMTPServer({
      disableReverseLookup: true,
      authOptional: true,
      logger: false,
      onData(stream, _session, callback) {
        const parts: Buffer[] = [];
        stream.on('data', (part: Buffer) => parts.push(part));
        stream.on('end', () => {
          received = Buffer.concat(parts).toString('latin1');
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = (server as unknown as { server: net.Server }).server.address() as net.AddressInfo;

    const line = 'x'.repeat(76);
    const body = `Subject: scan\r\n\r\n${`${line}\r\n`.repeat(2000)}.leading dot\r\n${`${line}\r\n`.repeat(2000)}`;
    const stuffed = body.replace(/^\./gm, '..');
    const before = dataScan.fastPathChunks;
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    let replies = '';
    const waitFor = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(replies)) {
        const [chunk] = (await once(socket, 'data')) as [string];
        replies += chunk;
      }
    };
    await waitFor(/^220 /m);
    socket.write('EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n');
    await waitFor(/^354 /m);
    replies = '';
    const payload = Buffer.from(`${stuffed}.\r\n`, 'latin1');
    // Written in pieces so that the terminator is split between two writes.
    for (let at = 0; at < payload.length; at += 7_001) {
      socket.write(payload.subarray(at, at + 7_001));
    }
    await waitFor(/^250 /m);
    socket.end('QUIT\r\n');

    expect(received).toBe(body);
    expect(dataScan.fastPathChunks).toBeGreaterThan(before);
  });
});
