/**
 * Scripted SMTP upstreams on 127.0.0.1, port 0, for delivery tests.
 *
 * `startUpstream(script)` runs a real smtp-server. It rejects what the script sets, with the reply text
 * sent as given: enhanced status codes are hidden, so "550 5.4.1 Access denied" goes out byte for byte.
 * It skips reverse DNS. Like every smtp-server 3.21 instance, it waits 100 ms before the greeting.
 *
 *   const upstream = await startUpstream({ recipients: { 'bob@example.com': '550 5.1.1 No such user' } });
 *   // deliver to 127.0.0.1:upstream.port, then inspect upstream.received and upstream.connections
 *   await upstream.close();
 *
 * smtp-server cannot send a multi-line rejection (it turns line breaks into spaces) or a reply to the DATA
 * command itself, so `startRawUpstream(script)` answers from a plain `net` server: each reply is written
 * exactly as scripted, "\n" becoming CRLF.
 */
import net from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';

/** One message an upstream accepted. */
export interface ReceivedMessage {
  from: string;
  to: string[];
  /** The message data after dot-unstuffing, lines ending in CRLF. */
  body: string;
  /** Whether the session used STARTTLS. */
  secure: boolean;
}

/** A running upstream. */
export interface Upstream {
  host: string;
  port: number;
  /** Messages accepted after the final dot, in order. */
  received: ReceivedMessage[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** What the smtp-server upstream does; anything not set is accepted. */
export interface UpstreamScript {
  /**
   * A reply sent instead of the 220 greeting, after which the server closes the connection, e.g.
   * "421 4.7.0 Too busy". A function gets the connection number (from 1) and returns null to greet.
   */
  greeting?: string | ((connection: number) => string | null);
  /** The reply to every MAIL FROM, e.g. "550 5.7.1 Sender blocked". */
  mail?: string;
  /** Replies by recipient address (lowercase); a 2xx reply or an unlisted recipient is accepted. */
  recipients?: Record<string, string>;
  /**
   * Decides each RCPT TO before `recipients`. `attempt` counts RCPT TO commands for that address over
   * all connections, from 1. Returns a reply, or null to fall through. Greylisting:
   * `(rcpt, attempt) => (attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null)`.
   */
  onRecipient?: (recipient: string, attempt: number) => string | null;
  /** The reply after the final dot, e.g. "554 5.7.1 Message rejected as spam". */
  data?: string;
  /** Close the connection when the first chunk of message data arrives, without a reply. */
  dropDuringData?: boolean;
  /** Offer STARTTLS with a self-signed certificate for "upstream.test". Default false. */
  tls?: boolean;
  /** SIZE limit to announce in bytes. */
  size?: number;
  /** Address to listen on; default "127.0.0.1". */
  host?: '127.0.0.1' | '::1';
}

/** What the raw upstream replies; each reply may have several lines separated by "\n". */
export interface RawUpstreamScript {
  /** Default "220 raw.test ESMTP". A greeting whose code is not 220 is followed by a close. */
  greeting?: string;
  /** Never send a greeting. */
  silent?: boolean;
  /** Default "250-raw.test\n250-PIPELINING\n250-8BITMIME\n250-SMTPUTF8\n250 SIZE 10485760". */
  ehlo?: string;
  /** Default "250 raw.test". */
  helo?: string;
  /**
   * The reply to STARTTLS; default "454 4.7.0 TLS not available". After a 220 reply the server sends
   * bytes that are not TLS and closes, so the client's handshake fails.
   */
  starttls?: string;
  /** Default "250 2.1.0 Ok". */
  mail?: string;
  /** Replies by recipient address (lowercase); default "250 2.1.5 Ok". */
  recipients?: Record<string, string>;
  /** The reply to the DATA command; default "354 End data with <CR><LF>.<CR><LF>". */
  data?: string;
  /** The reply after the final dot; default "250 2.0.0 Ok: queued"; null never replies. */
  eod?: string | null;
  /** Close the connection when the first line of message data arrives, without a reply. */
  dropDuringData?: boolean;
}

/** A running raw upstream, which also records every command line. */
export interface RawUpstream extends Upstream {
  commands: string[];
}

// A self-signed certificate for "upstream.test", "localhost" and 127.0.0.1, valid from 2000 to 2100, made
// for these tests with openssl. The key protects nothing.
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1Ba+jOzLP+oeZhxC
oeSxjJW7CDnYB5ZYlfJzOzaiEUuhRANCAASWyvgyKQdteV6nfrl2/k2MWLZnssnh
Tw7eJcPM8SeBQMeceIqxK7/jAq8DKnrL7IYAlYMgvb4i42v65Si13xdd
-----END PRIVATE KEY-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBezCCASGgAwIBAgIBATAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA11cHN0cmVh
bS50ZXN0MCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAYMRYwFAYD
VQQDDA11cHN0cmVhbS50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElsr4
MikHbXlep365dv5NjFi2Z7LJ4U8O3iXDzPEngUDHnHiKsSu/4wKvAyp6y+yGAJWD
IL2+IuNr+uUotd8XXaNaMFgwKQYDVR0RBCIwIIINdXBzdHJlYW0udGVzdIIJbG9j
YWxob3N0hwR/AAABMAwGA1UdEwEB/wQCMAAwHQYDVR0OBBYEFJlfFsyi69fBnwVA
25pT+yTa6q5QMAoGCCqGSM49BAMCA0gAMEUCIQC8eMQgR/7Yucc2Dvzj1L9jquO8
3OGtVKdoQMcpp/StnAIgWUxw0lv41PXtHlku20pxoSPeV1NB36PZu+IAex349Ds=
-----END CERTIFICATE-----
`;

const HOST = '127.0.0.1';

/** Starts a scripted smtp-server upstream. */
export async function startUpstream(script: UpstreamScript = {}): Promise<Upstream> {
  const received: ReceivedMessage[] = [];
  const sockets = new Set<net.Socket>();
  const attempts = new Map<string, number>();
  let connections = 0;

  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: true,
    hideSTARTTLS: !script.tls,
    ...(script.tls ? { key: TEST_KEY, cert: TEST_CERT } : {}),
    ...(script.size !== undefined ? { size: script.size } : {}),
    logger: false,
    onConnect(_session, callback) {
      const greeting = typeof script.greeting === 'function' ? script.greeting(connections) : script.greeting;
      callback(greeting ? replyError(greeting) : null);
    },
    onMailFrom(_address, _session, callback) {
      callback(script.mail ? replyError(script.mail) : null);
    },
    onRcptTo(address, _session, callback) {
      const key = address.address.toLowerCase();
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const reply = script.onRecipient?.(address.address, attempt) ?? script.recipients?.[key] ?? null;
      callback(reply === null || reply.startsWith('2') ? null : replyError(reply));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (script.dropDuringData) {
          socketOf(sockets, session)?.destroy();
        }
      });
      stream.on('end', () => {
        if (script.dropDuringData) {
          return;
        }
        if (script.data) {
          callback(replyError(script.data));
          return;
        }
        received.push({
          from: addressOf(session.envelope.mailFrom),
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          body: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
        });
        callback(null);
      });
    },
  });
  // Connections the client drops mid-command surface here; the tests look at what the client saw.
  server.on('error', () => {});
  server.server.on('connection', (socket: net.Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const host = script.host ?? HOST;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('smtp-server did not report a TCP address');
  }

  return {
    host,
    port: address.port,
    received,
    get connections() {
      return connections;
    },
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts a raw `net` upstream that sends each scripted reply byte for byte. */
export async function startRawUpstream(script: RawUpstreamScript = {}): Promise<RawUpstream> {
  const received: ReceivedMessage[] = [];
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;

  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    runRawSession(socket, script, commands, received);
  });

  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('net server did not report a TCP address');
  }

  return {
    host: HOST,
    port: address.port,
    received,
    commands,
    get connections() {
      return connections;
    },
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function runRawSession(socket: net.Socket, script: RawUpstreamScript, commands: string[], received: ReceivedMessage[]): void {
  const send = (reply: string): void => {
    socket.write(`${reply.replace(/\r?\n/g, '\r\n')}\r\n`);
  };
  let buffer = '';
  let from: string | null = null;
  let to: string[] = [];
  let dataLines: string[] | null = null;

  const handleData = (line: string, lines: string[]): void => {
    if (script.dropDuringData) {
      socket.destroy();
      return;
    }
    if (line !== '.') {
      lines.push(line.startsWith('.') ? line.slice(1) : line);
      return;
    }
    dataLines = null;
    if (script.eod === null) {
      return;
    }
    const eod = script.eod ?? '250 2.0.0 Ok: queued';
    if (eod.startsWith('2')) {
      received.push({ from: from ?? '', to, body: lines.map((text) => `${text}\r\n`).join(''), secure: false });
    }
    send(eod);
    from = null;
    to = [];
  };

  const handleCommand = (line: string): void => {
    commands.push(line);
    const verb = (line.split(' ', 1)[0] ?? '').toUpperCase();
    const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
    switch (verb) {
      case 'EHLO':
        send(script.ehlo ?? '250-raw.test\n250-PIPELINING\n250-8BITMIME\n250-SMTPUTF8\n250 SIZE 10485760');
        return;
      case 'HELO':
        send(script.helo ?? '250 raw.test');
        return;
      case 'MAIL': {
        const reply = script.mail ?? '250 2.1.0 Ok';
        from = reply.startsWith('2') ? address : null;
        send(reply);
        return;
      }
      case 'RCPT': {
        if (from === null) {
          send('503 5.5.1 Error: need MAIL command');
          return;
        }
        const reply = script.recipients?.[address.toLowerCase()] ?? '250 2.1.5 Ok';
        if (reply.startsWith('2')) {
          to.push(address);
        }
        send(reply);
        return;
      }
      case 'DATA': {
        if (to.length === 0) {
          send('554 5.5.1 Error: no valid recipients');
          return;
        }
        const reply = script.data ?? '354 End data with <CR><LF>.<CR><LF>';
        dataLines = reply.startsWith('354') ? [] : null;
        send(reply);
        return;
      }
      case 'STARTTLS': {
        const reply = script.starttls ?? '454 4.7.0 TLS not available';
        send(reply);
        if (reply.startsWith('220')) {
          socket.end('this is not a TLS handshake\r\n');
        }
        return;
      }
      case 'RSET':
        from = null;
        to = [];
        send('250 2.0.0 Ok');
        return;
      case 'NOOP':
        send('250 2.0.0 Ok');
        return;
      case 'QUIT':
        send('221 2.0.0 Bye');
        socket.end();
        return;
      default:
        send('502 5.5.2 Error: command not recognized');
    }
  };

  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let end = buffer.indexOf('\r\n');
    while (end >= 0 && !socket.destroyed) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (dataLines !== null) {
        handleData(line, dataLines);
      } else {
        handleCommand(line);
      }
      end = buffer.indexOf('\r\n');
    }
  });

  if (script.silent) {
    return;
  }
  const greeting = script.greeting ?? '220 raw.test ESMTP';
  send(greeting);
  if (!greeting.startsWith('220')) {
    socket.end();
  }
}

// smtp-server sends err.message after the code of err.responseCode, so the reply goes out as scripted.
function replyError(reply: string): Error & { responseCode: number } {
  if (reply.includes('\n')) {
    throw new Error(`smtp-server cannot send the multi-line reply ${JSON.stringify(reply)}; use startRawUpstream`);
  }
  const match = /^([2-5]\d\d) (.+)$/.exec(reply);
  if (!match?.[1] || !match[2]) {
    throw new Error(`scripted reply ${JSON.stringify(reply)} must be "<code> <text>"`);
  }
  return Object.assign(new Error(match[2]), { responseCode: Number(match[1]) });
}

function socketOf(sockets: Set<net.Socket>, session: SMTPServerSession): net.Socket | undefined {
  return [...sockets].find((socket) => socket.remotePort === session.remotePort);
}

function addressOf(address: SMTPServerAddress | false): string {
  return address === false ? '' : address.address;
}
