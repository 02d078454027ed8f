import type { Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { pooledRandomBytes } from '../core/ids.js';

/** Random bytes of one session id: 80 bits, written as 16 base-32 digits. */
const ID_BYTES = 10;
const BASE32_DIGITS = '0123456789abcdefghijklmnopqrstuv';

/** Count of session ids taken from the pool since start (read by tests). */
export let pooledIds = 0;

/**
 * Formats 10 random bytes as a session id: the 80-bit number in 16 lowercase base-32 digits, zero
 * padded. This is the form smtp-server 3.21.6 gives its ids, so log lines keep their format.
 */
export function formatSessionId(bytes: Uint8Array): string {
  let id = '';
  // Two halves of 40 bits, each 8 digits, so every step stays within safe integers.
  for (let half = 0; half < 2; half += 1) {
    let value = 0;
    for (let index = 0; index < 5; index += 1) {
      value = value * 256 + (bytes[half * 5 + index] ?? 0);
    }
    let digits = '';
    for (let digit = 0; digit < 8; digit += 1) {
      digits = BASE32_DIGITS.charAt(value % 32) + digits;
      value = Math.floor(value / 32);
    }
    id += digits;
  }
  return id;
}

/** Returns a new random session id, with its bytes from the pool that queue ids also draw from. */
export function newSessionId(): string {
  pooledIds += 1;
  return formatSessionId(pooledRandomBytes(ID_BYTES));
}

/** The connection options smtp-server builds for each accepted socket before its session starts. */
interface SocketOptions {
  id: string;
  ignore?: boolean;
}

/** The fields of SMTPServer that its connection start uses. */
interface ServerInternals {
  options: { ignoredHosts?: string[] };
  _expectsProxyHeader(socket: Socket): boolean;
  _handleProxy(socket: Socket, callback: (error: Error | null, options?: SocketOptions) => void): void;
}

/**
 * Gives sessions their ids from the pool. smtp-server calls `randomBytes` for each connection's
 * id, and each call goes into OpenSSL and makes a getpid system call. With 4 KB messages and a new
 * connection per message, that was about 2 % of the main thread's profile. A connection that must
 * first send a PROXY header still goes through the shipped method.
 *
 * NOTE: this replaces SMTPServer.prototype._handleProxy of smtp-server 3.21.6 (the version is
 * pinned in package.json) for connections without a PROXY header. A test checks that a real
 * SMTPServer takes its ids from here and still reads PROXY headers, so a library change that breaks
 * this fails the suite.
 */
function install(): void {
  const prototype = SMTPServer.prototype as unknown as ServerInternals;
  const shipped = prototype._handleProxy;
  if (typeof shipped !== 'function' || typeof prototype._expectsProxyHeader !== 'function') {
    return;
  }
  prototype._handleProxy = function handleProxy(this: ServerInternals, socket, callback): void {
    if (this._expectsProxyHeader(socket)) {
      shipped.call(this, socket, callback);
      return;
    }
    const remote = socket.remoteAddress ?? '';
    const options: SocketOptions = { id: newSessionId(), ignore: this.options.ignoredHosts?.includes(remote) ?? false };
    // The shipped method also calls back on the next turn of the event loop.
    setImmediate(() => callback(null, options));
  };
}

install();
