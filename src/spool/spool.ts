import { createReadStream, mkdirSync } from 'node:fs';
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BouncegateError } from '../core/errors.js';

/** Bytes gathered before one write to the spool file. */
const WRITE_CHUNK_BYTES = 64 * 1024;

/** Result of streaming one message body into the spool. */
export interface SpoolWrite {
  size: number;
  /** True when the body passed the size limit; nothing is kept and the message must be rejected. */
  oversized: boolean;
  /**
   * The whole body when it fit within the inline limit: no file was written, and the caller stores
   * the bytes with the queue record. Null when the body is in a synced spool file.
   */
  inline: Buffer | null;
}

/**
 * Message bodies on disk, one file per queue id. A body is durable once `write` resolves (file
 * fsync'd) and `syncDirectory` has run after it (directory entry fsync'd). The queue record in LevelDB
 * is written after both, so a file without a record is an unfinished write and is removed at start.
 */
export class Spool {
  readonly dir: string;
  private directorySync: Promise<void> | null = null;
  private directorySyncQueued: Promise<void> | null = null;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'spool');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Returns the path of a message body. */
  pathOf(queueId: string): string {
    return join(this.dir, queueId);
  }

  /**
   * Streams a body into a new spool file and fsyncs it; the body is never held whole in memory
   * beyond `inlineLimit` bytes. A body of at most `inlineLimit` bytes (prefix included) is returned
   * in `inline` and no file is created. Bytes past `maxSize` are read and discarded. On any failure
   * the partial file is removed and a BOUNCEGATE_SPOOL_WRITE_FAILED error is thrown.
   */
  async write(queueId: string, prefix: Buffer, body: Readable, maxSize: number, inlineLimit = 0): Promise<SpoolWrite> {
    const path = this.pathOf(queueId);
    let file: FileHandle | null = null;
    let size = 0;
    let oversized = false;
    // Bytes are gathered until they pass the inline limit; only then is the file opened.
    const buffered = Math.max(inlineLimit, WRITE_CHUNK_BYTES);

    try {
      let pending: Buffer[] = [prefix];
      let pendingBytes = prefix.length;

      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (oversized || size > maxSize) {
          oversized = true;
          pending = [];
          pendingBytes = 0;
          continue;
        }
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes > buffered || (file && pendingBytes >= WRITE_CHUNK_BYTES)) {
          file ??= await open(path, 'wx', 0o600);
          await writeAll(file, pending);
          pending = [];
          pendingBytes = 0;
        }
      }

      if (oversized) {
        if (file) {
          await file.close();
          file = null;
          await unlink(path);
        }
        return { size, oversized, inline: null };
      }
      if (!file && pendingBytes <= inlineLimit) {
        return { size: size + prefix.length, oversized: false, inline: Buffer.concat(pending, pendingBytes) };
      }
      file ??= await open(path, 'wx', 0o600);
      if (pendingBytes > 0) {
        await writeAll(file, pending);
      }
      await file.sync();
      await file.close();
      file = null;
      return { size: size + prefix.length, oversized: false, inline: null };
    } catch (error) {
      if (file) {
        await file.close().catch(() => undefined);
      }
      await unlink(path).catch(() => undefined);
      throw new BouncegateError('BOUNCEGATE_SPOOL_WRITE_FAILED', `writing ${path} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Fsyncs the spool directory so new file entries survive a crash. Concurrent callers share one
   * fsync: a call made while one runs waits for the next, which covers every file written before it.
   */
  syncDirectory(): Promise<void> {
    if (!this.directorySync) {
      this.directorySync = this.runDirectorySync();
      return this.directorySync;
    }
    if (!this.directorySyncQueued) {
      const running = this.directorySync;
      this.directorySyncQueued = running
        .catch(() => undefined)
        .then(() => {
          this.directorySyncQueued = null;
          this.directorySync = this.runDirectorySync();
          return this.directorySync;
        });
    }
    return this.directorySyncQueued;
  }

  /** Opens a body for delivery. */
  openBody(queueId: string): Readable {
    return createReadStream(this.pathOf(queueId));
  }

  /** Reads the header block of a body (up to the first empty line, at most `maxBytes`). */
  async readHeaderBlock(queueId: string, maxBytes = 64 * 1024): Promise<string> {
    const handle = await open(this.pathOf(queueId), 'r');
    try {
      const buffer = Buffer.alloc(maxBytes);
      const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
      const text = buffer.subarray(0, bytesRead).toString('utf8');
      const end = text.search(/\r?\n\r?\n/);
      return end >= 0 ? text.slice(0, end) : text;
    } finally {
      await handle.close();
    }
  }

  /** Removes a body once every recipient of its message is finished. */
  async remove(queueId: string): Promise<void> {
    await unlink(this.pathOf(queueId)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') {
        throw error;
      }
    });
  }

  /** Lists the queue ids of every body on disk. */
  async list(): Promise<string[]> {
    return (await readdir(this.dir)).filter((name) => !name.startsWith('.'));
  }

  private async runDirectorySync(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
      this.directorySync = null;
    }
  }
}

/** Writes the chunks in order with writev, without copying them into one buffer first. */
async function writeAll(file: FileHandle, chunks: Buffer[]): Promise<void> {
  let left = chunks.filter((chunk) => chunk.length > 0);
  while (left.length > 0) {
    let { bytesWritten } = await file.writev(left);
    const rest: Buffer[] = [];
    for (const chunk of left) {
      if (bytesWritten >= chunk.length) {
        bytesWritten -= chunk.length;
        continue;
      }
      rest.push(chunk.subarray(bytesWritten));
      bytesWritten = 0;
    }
    left = rest;
  }
}
