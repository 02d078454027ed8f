import net from 'node:net';
import tls from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Logger } from 'pino';
import { localFailure, parseReply, type Reply } from '../core/reply.js';
import type { Stage, TlsInfo } from '../core/types.js';
import type { Destination } from './resolve.js';
import './dot-stuffing.js';
import { Transcript } from './transcript.js';

// How long QUIT may take before the connection is closed without its reply.
const QUIT_TIMEOUT_MS = 5_000;
// Setting up the session (greeting, EHLO, STARTTLS and its handshake, EHLO again) must end within this
// many times timeoutMs. Each reply within it still gets timeoutMs of inactivity.
const SETUP_TIMEOUT_FACTOR = 3;
const SETUP_STEPS: Partial<Record<Stage, string>> = {
  greeting: 'while waiting for the greeting',
  ehlo: 'while waiting for the reply to EHLO',
  starttls: 'during STARTTLS',
};

/** The connection one delivery attempt used. Fields are null when the attempt did not get that far. */
export interface SessionInfo {
  mx: string | null;
  remoteIp: string | null;
  remotePort: number | null;
  localIp: string | null;
  /** TLS facts when STARTTLS succeeded, null for a plain-text session. */
  tls: TlsInfo | null;
}

/** A destination that was skipped: connect failure, greeting >= 400, or EHLO or STARTTLS failure. */
export interface HostFailure {
  session: SessionInfo;
  reply: Reply;
}

/** Settings of one SMTP client session. */
export interface SessionOptions {
  /** Name sent with EHLO/HELO. */
  heloName: string;
  /** Milliseconds allowed for the TCP connect, the greeting, and each wait for a reply. */
  timeoutMs: number;
  opportunisticTls: boolean;
  /** Source address of the connection, or null for the system's choice. */
  localAddress: string | null;
}

/** A session past greeting, EHLO and STARTTLS, ready for MAIL FROM. */
export interface OpenSession {
  connection: SMTPConnection;
  transcript: Transcript;
  info: SessionInfo;
  destination: Destination;
  /** EHLO keywords in upper case, mapped to their parameters ("SIZE" → "10240000"); empty after HELO. */
  extensions: Map<string, string>;
}

export type SessionAttempt = { ok: true; session: OpenSession } | { ok: false; failure: HostFailure };

/** The fields of an error from nodemailer or node:net that delivery reads. */
export interface SmtpErrorFields {
  message: string;
  code: string | null;
  /** The server reply that caused the error, every line joined with "\n". */
  response: string | null;
}

/**
 * Connects to one destination and sets up an SMTP session: greeting, EHLO (HELO when EHLO is refused),
 * and STARTTLS when the peer offers it and `opportunisticTls` is set. The certificate is not required
 * to verify, because MX certificates rarely do; whether it did is recorded. Returns the failure as a
 * value, with the connection already closed.
 */
export async function openSession(
  destination: Destination,
  options: SessionOptions,
  log?: Logger,
): Promise<SessionAttempt> {
  const info: SessionInfo = {
    mx: destination.mx,
    remoteIp: destination.address,
    remotePort: destination.port,
    localIp: null,
    tls: null,
  };

  const connected = await connectSocket(destination, options);
  if (!connected.ok) {
    const text = `connection to ${peerName(destination)} failed: ${connected.error.message}`;
    return { ok: false, failure: { session: info, reply: localFailure('connect', text, { enhancedCode: '4.4.1' }) } };
  }

  const socket = connected.socket;
  info.remoteIp = socket.remoteAddress ?? destination.address;
  info.remotePort = socket.remotePort ?? destination.port;
  info.localIp = socket.localAddress ?? null;

  const transcript = new Transcript(log);
  const servername = net.isIP(destination.mx) === 0 && !destination.mx.startsWith('[') ? destination.mx : undefined;
  const connection = new SMTPConnection({
    connection: socket,
    host: destination.address,
    port: destination.port,
    servername,
    name: options.heloName,
    connectionTimeout: options.timeoutMs * SETUP_TIMEOUT_FACTOR,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    ignoreTLS: !options.opportunisticTls,
    opportunisticTLS: true,
    tls: { rejectUnauthorized: false },
    logger: transcript.logger,
    transactionLog: true,
  });
  // nodemailer emits 'error' for every failure it also reports elsewhere. Without a listener the process
  // would crash on it.
  connection.on('error', () => {});

  const error = await setUp(connection);
  if (error !== null) {
    connection.close();
    const stage = setupStage(error, transcript);
    return { ok: false, failure: { session: info, reply: setupFailure(error, stage, destination, options) } };
  }

  info.tls = tlsInfo(connection);
  const extensions = parseExtensions(transcript.replyToLast('EHLO'));
  return { ok: true, session: { connection, transcript, info, destination, extensions } };
}

/** Sends QUIT, waits briefly for the reply, then closes the connection whatever happened. */
export async function closeSession(session: OpenSession): Promise<void> {
  const { connection } = session;
  if (connection.destroyed) {
    return;
  }

  await new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) {
        return;
      }
      done = true;
      clearTimeout(timer);
      connection.close();
      resolve();
    };
    const timer = setTimeout(finish, QUIT_TIMEOUT_MS);
    connection.once('end', finish);
    connection.quit();
  });
}

/** Reads the fields delivery needs from an error of nodemailer or node:net. */
export function readError(error: unknown): SmtpErrorFields {
  if (!(error instanceof Error)) {
    return { message: String(error), code: null, response: null };
  }
  const code = 'code' in error && typeof error.code === 'string' ? error.code : null;
  const response = 'response' in error && typeof error.response === 'string' ? error.response : null;
  return { message: error.message, code, response };
}

/** Returns "mx.example.net [192.0.2.1]:25", the form failure texts name a peer by. */
export function peerName(destination: Destination): string {
  const address = net.isIPv6(destination.address) ? `[${destination.address}]` : destination.address;
  if (destination.mx === destination.address) {
    return `${address}:${destination.port}`;
  }
  return `${destination.mx} [${destination.address}]:${destination.port}`;
}

// The TCP connection is made here rather than by nodemailer, so a failure to connect is distinguished
// from a failure after it, and the addresses of the socket are known.
function connectSocket(
  destination: Destination,
  options: SessionOptions,
): Promise<{ ok: true; socket: net.Socket } | { ok: false; error: Error }> {
  return new Promise((resolve) => {
    const socket = net.connect({
      host: destination.address,
      port: destination.port,
      ...(options.localAddress !== null ? { localAddress: options.localAddress } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy(new Error(`timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);

    const onError = (error: Error): void => {
      clearTimeout(timer);
      socket.removeListener('connect', onConnect);
      resolve({ ok: false, error });
    };
    const onConnect = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      // nodemailer attaches its own listeners. This one only keeps a late error, such as one during
      // teardown, from being unhandled.
      socket.on('error', () => {});
      resolve({ ok: true, socket });
    };
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}

// Resolves with null once EHLO (and STARTTLS) went through, or with the error that ended the setup.
function setUp(connection: SMTPConnection): Promise<unknown> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: unknown): void => {
      if (settled) {
        return;
      }
      settled = true;
      connection.removeListener('error', settle);
      connection.removeListener('end', onEnd);
      resolve(value);
    };
    // nodemailer reports a failure with 'error' before it closes, so 'end' alone should not happen here.
    const onEnd = (): void => settle(new Error('connection closed during session setup'));
    connection.on('error', settle);
    connection.on('end', onEnd);
    connection.connect((error) => settle(error ?? null));
  });
}

// The step that failed follows from the last command sent: none yet means the greeting.
function setupStage(error: unknown, transcript: Transcript): Stage {
  if (readError(error).code === 'ETLS') {
    return 'starttls';
  }
  const verb = transcript.lastCommandVerb();
  if (verb === null) {
    return 'greeting';
  }
  return verb === 'STARTTLS' ? 'starttls' : 'ehlo';
}

function setupFailure(error: unknown, stage: Stage, destination: Destination, options: SessionOptions): Reply {
  const fields = readError(error);
  if (fields.response !== null) {
    return parseReply(fields.response, stage);
  }

  const peer = peerName(destination);
  const step = SETUP_STEPS[stage] ?? stage;
  if (fields.code === 'ETIMEDOUT') {
    return localFailure(stage, `${peer} timed out after ${options.timeoutMs} ms ${step}`, { enhancedCode: '4.4.2' });
  }
  if (fields.code === 'ETLS') {
    return localFailure(stage, `STARTTLS with ${peer} failed: ${fields.message}`, { enhancedCode: '4.4.2' });
  }
  return localFailure(stage, `connection to ${peer} lost ${step}: ${fields.message}`, { enhancedCode: '4.4.2' });
}

function tlsInfo(connection: SMTPConnection): TlsInfo | null {
  const socket = connection._socket;
  if (!(socket instanceof tls.TLSSocket)) {
    return null;
  }
  // Node sets authorizationError to the OpenSSL code string (e.g. "DEPTH_ZERO_SELF_SIGNED_CERT"), although
  // @types/node declares an Error.
  const reason: unknown = socket.authorizationError;
  let error: string | null = null;
  if (typeof reason === 'string') {
    error = reason;
  } else if (reason instanceof Error) {
    error = reason.message;
  }
  return {
    version: socket.getProtocol() ?? '',
    cipher: socket.getCipher().name,
    verified: socket.authorized,
    error: socket.authorized ? null : error,
  };
}

// RFC 5321 §4.1.1.1: the first line of the EHLO reply names the host, each further line is a keyword with
// optional parameters.
function parseExtensions(ehloReply: string | null): Map<string, string> {
  const extensions = new Map<string, string>();
  if (ehloReply === null || !ehloReply.startsWith('2')) {
    return extensions;
  }
  for (const line of ehloReply.split('\n').slice(1)) {
    const [keyword = '', ...parameters] = line.slice(4).trim().split(/\s+/);
    if (keyword) {
      extensions.set(keyword.toUpperCase(), parameters.join(' '));
    }
  }
  return extensions;
}
