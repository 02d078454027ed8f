import { connect, type Socket } from 'node:net';

/** One SMTP reply: the code and every line's text. */
export interface SmtpReply {
  code: number;
  lines: string[];
}

/**
 * A minimal SMTP client over one connection, for timing single transactions without a library's
 * overhead. Commands are sent one at a time (no PIPELINING), and a reply of another class than the
 * expected one throws.
 */
export class SmtpClient {
  private readonly socket: Socket;
  private buffer = '';
  private lines: string[] = [];
  private waiting: { resolve: (reply: SmtpReply) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  /** Connects to 127.0.0.1:port, reads the greeting and sends EHLO. */
  static async open(port: number, heloName: string): Promise<SmtpClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new SmtpClient(socket);
    expect(await client.read(), 2, 'greeting');
    expect(await client.command(`EHLO ${heloName}`), 2, 'EHLO');
    return client;
  }

  /** Sends one command line and returns its reply. */
  command(line: string): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  /**
   * Sends one message: MAIL FROM, RCPT TO for each recipient, DATA and the dot-stuffed body. `body`
   * is the whole message with CRLF line ends. Returns the reply to the end of data.
   */
  async send(sender: string, recipients: string[], body: string): Promise<SmtpReply> {
    expect(await this.command(`MAIL FROM:<${sender}>`), 2, 'MAIL FROM');
    for (const recipient of recipients) {
      expect(await this.command(`RCPT TO:<${recipient}>`), 2, 'RCPT TO');
    }
    expect(await this.command('DATA'), 3, 'DATA');
    // RFC 5321 §4.5.2: a line that starts with "." gets one more.
    const stuffed = body.replace(/(^|\r\n)\./g, '$1..');
    const ending = stuffed.endsWith('\r\n') ? '.\r\n' : '\r\n.\r\n';
    this.socket.write(stuffed + ending);
    return expect(await this.read(), 2, 'end of data');
  }

  /** Sends QUIT and closes the connection. */
  async close(): Promise<void> {
    if (this.failure === null) {
      await this.command('QUIT').catch(() => undefined);
    }
    this.socket.destroy();
  }

  private read(): Promise<SmtpReply> {
    if (this.failure !== null) {
      return Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.deliver();
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer += chunk.toString('latin1');
    let end = this.buffer.indexOf('\r\n');
    while (end >= 0) {
      this.lines.push(this.buffer.slice(0, end));
      this.buffer = this.buffer.slice(end + 2);
      end = this.buffer.indexOf('\r\n');
    }
    this.deliver();
  }

  // RFC 5321 §4.2.1: every line of a reply but the last has "-" after the code.
  private deliver(): void {
    if (!this.waiting) {
      return;
    }
    const last = this.lines.findIndex((line) => line.length < 4 || line[3] !== '-');
    if (last < 0) {
      return;
    }
    const lines = this.lines.splice(0, last + 1);
    const { resolve } = this.waiting;
    this.waiting = null;
    resolve({ code: Number(lines[0]?.slice(0, 3)), lines: lines.map((line) => line.slice(4)) });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(error);
    }
  }
}

function expect(reply: SmtpReply, replyClass: number, step: string): SmtpReply {
  if (Math.floor(reply.code / 100) !== replyClass) {
    throw new Error(`unexpected reply to ${step}: ${reply.code} ${reply.lines.join(' / ')}`);
  }
  return reply;
}
