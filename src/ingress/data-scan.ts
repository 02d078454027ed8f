import { SMTPStream } from 'smtp-server/lib/smtp-stream';

/** The fields of smtp-server's SMTPStream that its data-mode parser keeps between chunks. */
interface StreamState {
  /** Up to 4 bytes held back from the previous chunk, or false. */
  _lastBytes: Buffer | false;
  /** True until the first byte of the message is consumed: only then can "." end DATA at once. */
  _atDataStart: boolean;
  _dataStream: (NodeJS.WritableStream & { writable: boolean; destroyed: boolean }) | null;
  _countDataBytes(length: number): void;
}

type Feed = (this: StreamState, chunk: Buffer, done: (error?: Error) => void) => void;

/** Bytes the parser holds back at the end of a chunk, in case a terminator spans two chunks. */
const HELD_BYTES = 4;
const LF = 0x0a;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.', 'latin1');

/**
 * Tells whether a chunk of DATA can be passed on as it is: no line of it starts with a dot, counting
 * the bytes held back from the previous chunk and the boundary between them. Such a chunk has
 * neither the end-of-data line nor an escape dot. smtp-server's parser stops at or changes no other
 * bytes.
 */
export function plainData(previousTail: Buffer | false, chunk: Buffer): boolean {
  if (previousTail && previousTail.length > 0) {
    if (previousTail.indexOf(LF_DOT) !== -1 || (previousTail[previousTail.length - 1] === LF && chunk[0] === DOT)) {
      return false;
    }
  }
  return chunk.indexOf(LF_DOT) === -1;
}

/** The data-mode parser of smtp-server as shipped, kept for chunks that are not plain. */
export let shippedFeed: Feed | null = null;

/** Chunks that took the fast path since start (read by tests). */
export let fastPathChunks = 0;

/**
 * Puts a fast path in front of smtp-server's data-mode parser. That parser walks every byte of a
 * message in JavaScript to find the end-of-data line and escape dots, and copies each chunk to join
 * it with the bytes held back from the one before. A `plainData` chunk after the start of the message is
 * passed on without the walk or the copy. The bytes held back from the previous chunk go first,
 * then all of this chunk but its last 4 bytes, which are held back in turn, as the shipped parser
 * does. Any other chunk goes to the
 * shipped parser, so the end of DATA is always found by smtp-server's own code.
 *
 * NOTE: this replaces SMTPStream.prototype._feedDataStream of smtp-server 3.21.6 (the version is
 * pinned in package.json). A test feeds both parsers hostile inputs cut at every boundary and checks
 * that a real SMTPServer uses this one, so a library change that breaks this fails the suite.
 */
function install(): void {
  const prototype = SMTPStream.prototype as unknown as { _feedDataStream: Feed };
  const shipped = prototype._feedDataStream;
  if (typeof shipped !== 'function' || shippedFeed) {
    return;
  }
  shippedFeed = shipped;
  prototype._feedDataStream = function feed(this: StreamState, chunk, done): void {
    const dataStream = this._dataStream;
    if (this._atDataStart || !dataStream || chunk.length <= HELD_BYTES || !plainData(this._lastBytes, chunk)) {
      shipped.call(this, chunk, done);
      return;
    }
    fastPathChunks += 1;
    const previousTail = this._lastBytes && this._lastBytes.length > 0 ? this._lastBytes : null;
    const passed = chunk.subarray(0, chunk.length - HELD_BYTES);
    this._lastBytes = chunk.subarray(chunk.length - HELD_BYTES);
    this._countDataBytes((previousTail ? previousTail.length : 0) + passed.length);
    if (!dataStream.writable) {
      done();
      return;
    }
    if (previousTail) {
      dataStream.write(previousTail);
    }
    if (dataStream.write(passed) || dataStream.destroyed) {
      done();
      return;
    }
    // Wait for the consumer, as the shipped parser does; a destroyed stream only closes.
    const resume = (): void => {
      dataStream.removeListener('drain', resume);
      dataStream.removeListener('close', resume);
      done();
    };
    dataStream.once('drain', resume);
    dataStream.once('close', resume);
  };
}

install();
