import { once } from 'node:events';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/ingress/quit-close.js';

describe('closing after QUIT', () => {
  let server: SMTPServer | null = null;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  /** Starts an SMTPServer on loopback and resolves with its port and the server side of each connection. */
  async function startServer(): Promise<{ port: number; sockets: net.Socket[] }> {
    const sockets: net.Socket[] = [];
    server = new SMTPServer({ disableReverseLookup: true, authOptional: true, logger: false });
    const listener = (server as unknown as { server: net.Server }).server;
    listener.on('connection', (socket: net.Socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    return { port, sockets };
  }

  /** Connects with a client that never closes its side by itself. */
  async function connect(port: number): Promise<{ socket: net.Socket; text: () => string }> {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    await once(socket, 'data');
    return { socket, text: () => received };
  }

  it('closes the socket after 221', async () => {
    const { port, sockets } = await startServer();
    const client = await connect(port);
    client.socket.write('QUIT\r\n');
    await once(client.socket, 'end');

    expect(client.text()).toMatch(/\r\n221 [^\r\n]*\r\n$/);
    const serverSide = sockets[0];
    expect(serverSide?.destroyed).toBe(true);
    client.socket.destroy();
  });

  it('keeps other commands working', async () => {
    const { port, sockets } = await startServer();
    const client = await connect(port);
    client.socket.write('NOOP\r\n');
    await once(client.socket, 'data');

    expect(client.text()).toMatch(/\r\n250 /);
    expect(sockets[0]?.destroyed).toBe(false);
    client.socket.destroy();
  });
});
