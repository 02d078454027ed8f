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

/** Count of chunks passed by the fast path, whole or up to their first dot line (read by tests). */
export let fastPathChunks = 0;

/**
 * Puts a fast path in front of smtp-server's data-mode parser. That parser walks every byte of a
 * message in JavaScript to find the end-of-data line and escape dots, and copies each chunk to join
 * it with the bytes held back from the one before. The fast path finds the first line that starts
 * with a dot with `indexOf` instead:
 *
 * - A chunk without such a line (`plainData`) is passed on without the walk or the copy. As in the
 *   shipped parser, the bytes held back from the previous chunk go first, then all of this chunk
 *   but its last 4 bytes, which are held back in turn.
 * - A chunk with one passes its bytes up to that line's start the same way, and the shipped parser
 *   takes the rest, from the dot on. This is how the chunk with the end-of-data line, usually the
 *   last few bytes, is parsed.
 * - The first chunk of a message takes the fast path only when it does not start with a dot, so the
 *   shipped parser alone decides on a message that is empty or starts with an escape dot.
 *
 * The end of DATA and every escape dot are always found by smtp-server's own code.
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
    const tail = this._lastBytes && this._lastBytes.length > 0 ? this._lastBytes : false;
    if (!dataStream || chunk.length <= HELD_BYTES || (this._atDataStart && (tail || chunk[0] === DOT))) {
      shipped.call(this, chunk, done);
      return;
    }
    const dotLine = chunk.indexOf(LF_DOT);
    if (dotLine === -1 && plainData(tail, chunk)) {
      passPlain(this, dataStream, tail, chunk, done);
      return;
    }
    // The part up to and including the line feed must be longer than the bytes held back.
    const plainPart = dotLine === -1 ? null : chunk.subarray(0, dotLine + 1);
    if (plainPart && plainPart.length > HELD_BYTES && plainData(tail, plainPart)) {
      passPlain(this, dataStream, tail, plainPart, () => shipped.call(this, chunk.subarray(dotLine + 1), done));
      return;
    }
    shipped.call(this, chunk, done);
  };
}

/**
 * Passes a plain part of DATA, longer than HELD_BYTES, to the data stream as the shipped parser
 * would. The bytes held back from before go first, then the part without its last HELD_BYTES
 * bytes, which are held back in turn. Calls `done` at once, or once the consumer has drained or
 * closed the stream.
 */
function passPlain(state: StreamState, dataStream: NonNullable<StreamState['_dataStream']>, tail: Buffer | false, part: Buffer, done: () => void): void {
  fastPathChunks += 1;
  const passed = part.subarray(0, part.length - HELD_BYTES);
  state._lastBytes = part.subarray(part.length - HELD_BYTES);
  state._countDataBytes((tail ? tail.length : 0) + passed.length);
  if (!dataStream.writable) {
    done();
    return;
  }
  if (tail) {
    dataStream.write(tail);
  }
  if (dataStream.write(passed) || dataStream.destroyed) {
    done();
    return;
  }
  // Wait for the consumer, as the shipped parser does. A destroyed stream only closes.
  const resume = (): void => {
    dataStream.removeListener('drain', resume);
    dataStream.removeListener('close', resume);
    done();
  };
  dataStream.once('drain', resume);
  dataStream.once('close', resume);
}

install();
