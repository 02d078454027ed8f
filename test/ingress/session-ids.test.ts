import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import * as sessionIds from '../../src/ingress/session-ids.js';

/** Returns the id that smtp-server 3.21.6 makes from the same 10 bytes. */
function shippedFormat(bytes: Buffer): string {
  return BigInt(`0x${bytes.toString('hex')}`).toString(32).padStart(16, '0');
}

describe('session ids', () => {
  let server: SMTPServer | null = null;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  /** Starts an SMTPServer on loopback and resolves with its port and the sessions it saw. */
  async function startServer(options: { useProxy?: string[] } = {}): Promise<{ port: number; sessions: SMTPServerSession[] }> {
    const sessions: SMTPServerSession[] = [];
    server = new SMTPServer({
      ...options,
      disableReverseLookup: true,
      authOptional: true,
      logger: false,
      onConnect(session, callback) {
        sessions.push(session);
        callback();
      },
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = (server as unknown as { server: net.Server }).server.address() as net.AddressInfo;
    return { port, sessions };
  }

  /** Connects, optionally sends a first line, and waits for the greeting. */
  async function greet(port: number, firstLine?: string): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    if (firstLine) {
      socket.write(firstLine);
    }
    await once(socket, 'data');
    socket.end('QUIT\r\n');
  }

  it('formats bytes as smtp-server does', () => {
    const cases = [Buffer.alloc(10, 0), Buffer.alloc(10, 0xff), Buffer.from('00000000010000000001', 'hex')];
    for (let round = 0; round < 200; round += 1) {
      cases.push(randomBytes(10));
    }
    for (const bytes of cases) {
      expect(sessionIds.formatSessionId(bytes), bytes.toString('hex')).toBe(shippedFormat(bytes));
    }
  });

  it('draws unique ids from the pool', () => {
    const ids = Array.from({ length: 2000 }, () => sessionIds.newSessionId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[0-9a-v]{16}$/.test(id))).toBe(true);
  });

  it('gives a real SMTPServer its ids', async () => {
    const { port, sessions } = await startServer();
    const before = sessionIds.pooledIds;
    await greet(port);
    await greet(port);
    expect(sessionIds.pooledIds).toBe(before + 2);
    expect(sessions.map((session) => session.id)).toHaveLength(2);
    expect(sessions[0]?.id).not.toBe(sessions[1]?.id);
  });

  it('leaves PROXY header connections to smtp-server', async () => {
    const { port, sessions } = await startServer({ useProxy: ['127.0.0.1'] });
    const before = sessionIds.pooledIds;
    await greet(port, 'PROXY TCP4 192.0.2.10 192.0.2.20 40000 25\r\n');
    expect(sessionIds.pooledIds).toBe(before);
    expect(sessions[0]?.remoteAddress).toBe('192.0.2.10');
    expect(sessions[0]?.id).toMatch(/^[0-9a-v]{16}$/);
  });
});
