import { connect, type Socket } from 'node:net';

/** A line-oriented SMTP client on a raw socket, for checking the exact bytes a server sends. */
export class RawSmtpClient {
  private readonly socket: Socket;
  private buffer = '';
  private waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    socket.on('error', () => undefined);
  }

  /** Connects and reads the greeting. */
  static async open(port: number, host = '127.0.0.1'): Promise<{ client: RawSmtpClient; greeting: string }> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawSmtpClient(socket);
    const greeting = await client.readReply();
    return { client, greeting };
  }

  /** Sends one command line and returns the complete (possibly multi-line) reply. */
  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.readReply();
  }

  /** Writes raw bytes without waiting for a reply. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Reads one complete reply: lines up to the first "NNN " line. */
  async readReply(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /^(?:\d{3}-.*\r\n)*\d{3}(?: .*)?\r\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0].replace(/\r\n$/, '').replace(/\r\n/g, '\n');
      }
      if (Date.now() > deadline) {
        throw new Error(`no complete reply within ${timeoutMs} ms; received so far: ${JSON.stringify(this.buffer)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
