import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** Lowest port handed out by freePort. */
const LOWEST_PORT = 10_000;
/** Attempts of freePort before it gives up. */
const PORT_ATTEMPTS = 100;

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago, chosen below the kernel's ephemeral
 * range (net.ipv4.ip_local_port_range). A port from that range could be taken as the local port of
 * an outgoing connection before the server that should listen on it binds, and a load run makes
 * thousands of connections per second.
 */
export async function freePort(): Promise<number> {
  const highest = ephemeralLow() - 1;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (highest - LOWEST_PORT));
    if (await canListen(port)) {
      return port;
    }
  }
  throw new Error(`no free port found on 127.0.0.1 between ${LOWEST_PORT} and ${highest} in ${PORT_ATTEMPTS} attempts`);
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (listening) {
    await new Promise((resolve) => server.close(resolve));
  }
  return listening;
}

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST_PORT + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Waits until 127.0.0.1:port accepts connections, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) {
      return;
    }
    await sleep(50);
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
