import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Header that carries a message's benchmark id from the client to the sink. */
export const BENCH_ID_HEADER = 'X-Bench-Id';

/**
 * A minimal SMTP sink that records, per message, the performance.now() time at which the final "."
 * arrived, keyed by the X-Bench-Id header. It sends its greeting at once, unlike smtp-server, which
 * waits 100 ms before every greeting and would add that to each delivery over a new connection.
 */
export interface LatencySink {
  port: number;
  /** Arrival times by benchmark id. */
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

/** Starts the sink on 127.0.0.1:port (0 picks a free port). */
export async function startLatencySink(port: number): Promise<LatencySink> {
  const arrivals = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveSession(socket, arrivals);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    arrivals,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

function serveSession(socket: Socket, arrivals: Map<string, number>): void {
  let buffer = '';
  let inData = false;
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  socket.write('220 latency-sink ESMTP\r\n');

  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      if (inData) {
        // The data ends with CRLF "." CRLF, and an empty message is only "." CRLF.
        const end = buffer.startsWith('.\r\n') ? 0 : buffer.indexOf('\r\n.\r\n');
        if (end < 0) {
          return;
        }
        const arrived = performance.now();
        const data = buffer.slice(0, end);
        buffer = buffer.slice(end === 0 ? 3 : end + 5);
        inData = false;
        const id = new RegExp(`^${BENCH_ID_HEADER}: *(\\S+)`, 'im').exec(data)?.[1];
        if (id !== undefined) {
          arrivals.set(id, arrived);
        }
        socket.write('250 2.0.0 Ok\r\n');
        continue;
      }

      const end = buffer.indexOf('\r\n');
      if (end < 0) {
        return;
      }
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') {
        socket.write('250-latency-sink\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n');
      } else if (verb === 'DATA') {
        inData = true;
        socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
      } else if (verb === 'QUIT') {
        socket.end('221 2.0.0 Bye\r\n');
        return;
      } else {
        socket.write('250 2.0.0 Ok\r\n');
      }
    }
  });
}
