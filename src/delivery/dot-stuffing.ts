import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The fields of nodemailer's DataStream (smtp-connection/data-stream.js) that its transform keeps. */
interface DataStreamState {
  inByteCount: number;
  outByteCount: number;
  /** The last byte of the previous chunk; false before the first chunk. */
  lastByte: number | false;
  push(chunk: Buffer): boolean;
}

type Transform = (this: DataStreamState, chunk: Buffer | string, encoding: BufferEncoding, done: (error?: Error) => void) => void;

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/**
 * Tells whether a chunk of message data goes out unchanged: every line ending is CRLF (no bare CR or
 * LF, also across the boundary with the previous chunk) and no line starts with a dot. nodemailer's
 * DataStream changes exactly those bytes. `lastByte` is the last byte of the previous chunk, or false
 * at the start of the message.
 */
export function passesUnchanged(chunk: Buffer, lastByte: number | false): boolean {
  const length = chunk.length;
  if (length === 0) {
    return true;
  }
  const first = chunk[0];
  if (lastByte === CR && first !== LF) {
    return false;
  }
  if (first === DOT && (lastByte === LF || lastByte === false)) {
    return false;
  }
  // indexOf runs natively (memchr), so a clean 100 KB chunk costs one call per line, not per byte.
  for (let at = chunk.indexOf(LF); at !== -1; at = chunk.indexOf(LF, at + 1)) {
    const previous = at === 0 ? lastByte : chunk[at - 1];
    if (previous !== CR || (at + 1 < length && chunk[at + 1] === DOT)) {
      return false;
    }
  }
  // A CR in the last byte is checked against the first byte of the next chunk.
  for (let at = chunk.indexOf(CR); at !== -1 && at + 1 < length; at = chunk.indexOf(CR, at + 1)) {
    if (chunk[at + 1] !== LF) {
      return false;
    }
  }
  return true;
}

/** The transform of nodemailer's DataStream as shipped, kept for chunks that need escaping. */
export let shippedTransform: Transform | null = null;

/** Chunks that took the fast path since start (read by tests). */
export let fastPathChunks = 0;

/**
 * Puts a fast path in front of the transform of nodemailer's DataStream, which walks every byte of
 * the message in JavaScript to stuff dots and fix bare line ends. A chunk that `passesUnchanged`
 * is passed through as that transform would pass it; any other chunk goes to the shipped transform.
 * Output and counters are the same either way.
 *
 * NOTE: DataStream is not exported, so it is loaded by its file path in nodemailer 10.6.1 (the
 * version is pinned in package.json). A test compares both transforms on hostile inputs and checks
 * that a real SMTPConnection uses the patched one, so a library change that breaks this fails the suite.
 */
async function install(): Promise<void> {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('nodemailer/package.json'));
  const url = pathToFileURL(join(root, 'dist', 'esm', 'smtp-connection', 'data-stream.js')).href;
  const module = (await import(url)) as { default: { prototype: { _transform: Transform } } };
  const prototype = module.default.prototype;
  const shipped = prototype._transform;
  if (typeof shipped !== 'function' || shippedTransform) {
    return;
  }
  shippedTransform = shipped;
  prototype._transform = function transform(this: DataStreamState, chunk, encoding, done): void {
    if (Buffer.isBuffer(chunk) && chunk.length > 0 && passesUnchanged(chunk, this.lastByte)) {
      fastPathChunks += 1;
      this.inByteCount += chunk.length;
      this.outByteCount += chunk.length;
      this.push(chunk);
      this.lastByte = chunk[chunk.length - 1] ?? this.lastByte;
      done();
      return;
    }
    shipped.call(this, chunk, encoding, done);
  };
}

await install();
