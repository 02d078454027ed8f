import { Transform, type TransformCallback } from 'node:stream';

/** Maximum bytes of the header block kept for reading Message-ID and the campaign header. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Passes a message through unchanged and keeps a copy of its header block (up to the first empty line,
 * at most 64 KiB) so the envelope record can carry Message-ID and the campaign header.
 */
export class HeaderCapture extends Transform {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private done = false;
  private headerText: string | null = null;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.done) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
      // The first chunk, which usually holds the whole header block, is searched without a copy.
      const joined = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.bytes);
      const end = findHeaderEnd(joined);
      if (end >= 0 || this.bytes >= MAX_HEADER_BYTES) {
        this.headerText = joined.subarray(0, end >= 0 ? end : MAX_HEADER_BYTES).toString('utf8');
        this.done = true;
        this.chunks = [];
      } else {
        this.chunks = [joined];
      }
    }
    callback(null, chunk);
  }

  /** Returns the value of the first header with this name, unfolded, or null. */
  header(name: string): string | null {
    const text = this.headerText ?? Buffer.concat(this.chunks, this.bytes).toString('utf8');
    return readHeader(text, name);
  }
}

/** Returns the value of the first header with this name in a header block, unfolded, or null. */
export function readHeader(block: string, name: string): string | null {
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  const wanted = name.toLowerCase();
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) {
      return line.slice(colon + 1).trim();
    }
  }
  return null;
}

function findHeaderEnd(buffer: Buffer): number {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf < 0) return lf;
  if (lf < 0) return crlf;
  return Math.min(crlf, lf);
}
