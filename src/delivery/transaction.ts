import { PassThrough, type Readable } from 'node:stream';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Logger } from 'pino';
import { localFailure, parseReply, type Reply } from '../core/reply.js';
import type { Stage } from '../core/types.js';
import { assignReplies, stageOfReply, type RecipientResult } from './outcome.js';
import type { SessionPool } from './pool.js';
import type { Destination } from './resolve.js';
import {
  closeSession,
  openSession,
  peerName,
  readError,
  type HostFailure,
  type OpenSession,
  type SessionInfo,
} from './session.js';

export type { RecipientResult } from './outcome.js';
export type { HostFailure, SessionInfo } from './session.js';

// Control characters and angle brackets cannot appear in a path (RFC 5321 §4.1.2), and nodemailer refuses
// the whole envelope when one address has them.
const INVALID_ADDRESS = /[\x00-\x1f\x7f<>]/;
const NON_ASCII = /[^\x00-\x7f]/;
const CLOSING_REPLY = /^421(?:[ -]|$)/;
const COMMAND_NAMES: Partial<Record<Stage, string>> = {
  mail: 'MAIL FROM',
  rcpt: 'RCPT TO',
  data: 'DATA',
  eod: 'the end of the message data',
};

/** A spooled message as delivery needs it. */
export interface OutgoingMessage {
  queueId: string;
  /** Envelope sender; "" for the null sender of a bounce. */
  sender: string;
  recipients: string[];
  /** Size in bytes, announced with the SIZE parameter (RFC 1870) when the server supports it. */
  size: number;
  /** Opens a new stream of the message. `deliverMessage` calls it at most once. */
  openBody(): Readable;
  /** The message needs SMTPUTF8 (RFC 6531). */
  smtputf8?: boolean;
}

/** The outcome of one delivery attempt of a message to one domain. */
export interface TransactionResult {
  /** The session that carried the transaction, or that of the last host tried when every host failed. */
  session: SessionInfo;
  /** One entry per input recipient, in input order. */
  results: RecipientResult[];
  /** The hosts skipped before the transaction, in the order they were tried. */
  hostFailures: HostFailure[];
}

/** Settings of a delivery attempt. */
export interface TransactionOptions {
  heloName: string;
  /** Milliseconds allowed for the TCP connect, the greeting, and each wait for a reply. */
  timeoutMs: number;
  opportunisticTls: boolean;
  localAddress: string | null;
  logger?: Logger;
  /** Keeps sessions open for the next message to the same destination; absent, every attempt connects anew. */
  pool?: SessionPool;
}

type SendResult = { error: unknown; info: SMTPConnection.SentMessageInfo | null };

/**
 * Delivers a message to the first destination that completes greeting, EHLO and STARTTLS, in one SMTP
 * transaction carrying every recipient. A host that fails before MAIL FROM goes into `hostFailures`, and
 * the next one is tried. When every host failed, each recipient gets the last host's failure. Outcomes
 * are values. Throws only when the message body cannot be read, rethrowing the error of `openBody()` or
 * of its stream after the connection is closed.
 */
export async function deliverMessage(
  message: OutgoingMessage,
  destinations: Destination[],
  options: TransactionOptions,
): Promise<TransactionResult> {
  // Child loggers are made only when a line is written: a reused session usually logs nothing here.
  const logFor = (destination: Destination): Logger | undefined =>
    options.logger?.child({ queueId: message.queueId, mx: destination.mx, remoteIp: destination.address, remotePort: destination.port });
  const debug = options.logger?.isLevelEnabled('debug') ?? false;
  const envelope = checkEnvelope(message);
  if (envelope.sendable.length === 0) {
    return { session: emptySession(), results: envelope.complete(new Map()), hostFailures: [] };
  }

  const hostFailures: HostFailure[] = [];
  // NOTE: a STARTTLS handshake failure moves on to the next host. The same host is not retried in plain
  // text, so a domain whose only MX has broken TLS is deferred until its TLS works.
  for (const destination of destinations) {
    const pooled = options.pool?.take(destination);
    if (pooled) {
      const results = await runTransaction(pooled, message, envelope.sendable, options, () => logFor(destination));
      // A cached session the server closed while idle fails before any reply: connect anew instead.
      if (!results.every((result) => result.reply.local && !result.reply.localPermanent)) {
        await release(pooled, results, options.pool);
        if (debug) {
          logFor(destination)?.debug({ delivered: results.filter((result) => result.delivered).length }, 'smtp transaction finished on a reused session');
        }
        const byRecipient = new Map(results.map((result) => [result.recipient, result]));
        return { session: pooled.info, results: envelope.complete(byRecipient), hostFailures };
      }
      await closeSession(pooled);
      if (debug) {
        logFor(destination)?.debug('reused session was closed by the server; connecting anew');
      }
    }

    const attemptLog = logFor(destination);
    const attempt = await openSession(destination, options, attemptLog);
    if (!attempt.ok) {
      const { reply } = attempt.failure;
      hostFailures.push(attempt.failure);
      attemptLog?.warn({ stage: reply.stage, code: reply.code, enhancedCode: reply.enhancedCode, text: reply.text }, 'destination skipped');
      continue;
    }

    const { session } = attempt;
    attemptLog?.info({ localIp: session.info.localIp, tls: session.info.tls }, 'smtp session started');
    let results: RecipientResult[];
    try {
      results = await runTransaction(session, message, envelope.sendable, options, () => attemptLog);
    } catch (error) {
      await closeSession(session);
      throw error;
    }
    await release(session, results, options.pool);

    const delivered = results.filter((result) => result.delivered).length;
    attemptLog?.info({ delivered, failed: results.length - delivered }, 'smtp transaction finished');
    const byRecipient = new Map(results.map((result) => [result.recipient, result]));
    return { session: session.info, results: envelope.complete(byRecipient), hostFailures };
  }

  const last = hostFailures.at(-1);
  const reply =
    last?.reply ?? localFailure('connect', `no destination to try for ${message.queueId}`, { enhancedCode: '4.4.4' });
  const failed = new Map(envelope.sendable.map((recipient) => [recipient, { recipient, reply, delivered: false }]));
  return { session: last?.session ?? emptySession(), results: envelope.complete(failed), hostFailures };
}

/**
 * Returns a session to the pool when its transaction ended with every reply received and no 421;
 * a transaction with rejections is reset first (RSET). Otherwise the session is closed.
 */
async function release(session: OpenSession, results: RecipientResult[], pool: SessionPool | undefined): Promise<void> {
  const clean = results.every((result) => !result.reply.local && result.reply.code !== 421);
  if (!pool || !clean || session.connection.destroyed) {
    await closeSession(session);
    return;
  }
  if (results.every((result) => result.delivered)) {
    pool.give(session);
    return;
  }
  const reset = await new Promise<boolean>((resolve) => session.connection.reset((error) => resolve(!error)));
  if (reset) {
    pool.give(session);
  } else {
    await closeSession(session);
  }
}

async function runTransaction(
  session: OpenSession,
  message: OutgoingMessage,
  recipients: string[],
  options: TransactionOptions,
  log: () => Logger | undefined,
): Promise<RecipientResult[]> {
  const refused = checkExtensions(session, message, recipients);
  const sendable = recipients.filter((recipient) => !refused.has(recipient));
  if (sendable.length === 0) {
    return recipients.map((recipient) => resultOf(recipient, refused));
  }

  const body = openBody(message);
  const start = session.transcript.entries.length;
  const sent = await send(session.connection, message, sendable, body.stream);
  if (body.error() !== null) {
    // The server is still reading the message data, so QUIT would become part of it: drop the connection.
    session.connection.close();
    throw body.error();
  }

  const replies = session.transcript.repliesFrom(start);
  let results: RecipientResult[];
  if (sent.error === null && sent.info !== null && replies.length < sendable.length + 3) {
    log()?.error({ replies: replies.length }, 'smtp transcript incomplete; results taken from the send() summary');
    results = resultsFromSummary(sendable, sent.info);
  } else if (isRefusedBeforeMail(sent.error, session, start)) {
    const { message: reason } = readError(sent.error);
    log()?.error({ err: sent.error }, 'message not sent: nodemailer refused the envelope');
    const reply = localFailure('mail', `message not sent to ${peerName(session.destination)}: ${reason}`, {
      enhancedCode: '4.3.0',
    });
    results = sendable.map((recipient) => ({ recipient, reply, delivered: false }));
  } else {
    results = assignReplies(sendable, replies, missingReply(sent.error, replies, sendable.length, session, options));
  }

  const byRecipient = new Map(results.map((result) => [result.recipient, result]));
  return recipients.map((recipient) => byRecipient.get(recipient) ?? resultOf(recipient, refused));
}

// Refusals decided from the EHLO reply before MAIL FROM is sent, as results per recipient.
function checkExtensions(session: OpenSession, message: OutgoingMessage, recipients: string[]): Map<string, Reply> {
  const refused = new Map<string, Reply>();
  const peer = peerName(session.destination);

  // RFC 1870 §3: the SIZE parameter is the server's fixed maximum message size in bytes; 0 means none.
  const limit = Number(session.extensions.get('SIZE') ?? '0');
  if (limit > 0 && message.size > limit) {
    const text = `message of ${message.size} bytes exceeds the limit of ${limit} bytes that ${peer} announces (SIZE)`;
    const reply = localFailure('mail', text, { enhancedCode: '5.3.4', permanent: true });
    recipients.forEach((recipient) => refused.set(recipient, reply));
    return refused;
  }

  // RFC 6531: a non-ASCII address can only go to a server that announces SMTPUTF8, and X.6.7 reports
  // one that cannot. nodemailer sends the SMTPUTF8 parameter only when an address is non-ASCII.
  // NOTE: a message flagged smtputf8 whose addresses are ASCII (UTF-8 in headers only) goes out without
  // the SMTPUTF8 parameter, to any server.
  if (session.extensions.has('SMTPUTF8')) {
    return refused;
  }
  const notPermitted = (stage: Stage, address: string): Reply =>
    localFailure(stage, `${peer} does not support SMTPUTF8, required for the non-ASCII address ${address}`, {
      enhancedCode: '5.6.7',
      permanent: true,
    });
  if (NON_ASCII.test(message.sender)) {
    const reply = notPermitted('mail', message.sender);
    recipients.forEach((recipient) => refused.set(recipient, reply));
    return refused;
  }
  for (const recipient of recipients.filter((address) => NON_ASCII.test(address))) {
    refused.set(recipient, notPermitted('rcpt', recipient));
  }
  return refused;
}

// nodemailer closes the connection before it calls back with the error that closed it, so the 'end'
// fallback waits one turn of the event loop for that callback.
function send(connection: SMTPConnection, message: OutgoingMessage, recipients: string[], body: Readable): Promise<SendResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: SendResult): void => {
      if (!settled) {
        settled = true;
        connection.removeListener('end', onEnd);
        resolve(result);
      }
    };
    const onEnd = (): void => {
      setImmediate(() => settle({ error: new Error('connection closed during the transaction'), info: null }));
    };
    connection.once('end', onEnd);

    // nodemailer adds BODY=8BITMIME only when the server announces 8BITMIME; a 7-bit body is valid 8BITMIME.
    const envelope = { from: message.sender, to: recipients, size: message.size, use8BitMime: true };
    connection.send(envelope, body, (error, info) => {
      settle(error ? { error, info: null } : { error: null, info });
    });
  });
}

// The body goes through a stream of our own: nodemailer overwrites the `code` of an error its message
// stream emits, and the caller should get the original. A failed source never ends the copy, so no final
// dot is sent after a partial message.
function openBody(message: OutgoingMessage): { stream: PassThrough; error(): unknown } {
  const source = message.openBody();
  const stream = new PassThrough();
  let failure: unknown = null;

  source.on('error', (error) => {
    failure ??= error;
    stream.destroy(new Error(`reading the message body of ${message.queueId} failed`));
  });
  stream.on('error', () => {});
  stream.once('close', () => source.destroy());
  source.pipe(stream);

  return { stream, error: () => failure };
}

// A command that got no reply: the 421 the server closed with, or a local failure for the lost connection.
function missingReply(
  error: unknown,
  replies: string[],
  recipientCount: number,
  session: OpenSession,
  options: TransactionOptions,
): (stage: Stage) => Reply {
  const last = replies.at(-1);
  if (last !== undefined && CLOSING_REPLY.test(last)) {
    const closing = parseReply(last, stageOfReply(replies.length - 1, recipientCount));
    return () => closing;
  }

  const fields = readError(error);
  const peer = peerName(session.destination);
  return (stage) => {
    const command = COMMAND_NAMES[stage] ?? stage.toUpperCase();
    const text =
      fields.code === 'ETIMEDOUT'
        ? `${peer} timed out after ${options.timeoutMs} ms waiting for the reply to ${command}`
        : `connection to ${peer} lost before the reply to ${command}: ${fields.message}`;
    return localFailure(stage, text, { enhancedCode: '4.4.2' });
  };
}

function resultsFromSummary(recipients: string[], info: SMTPConnection.SentMessageInfo): RecipientResult[] {
  const eod = parseReply(info.response, 'eod');
  return recipients.map((recipient) => {
    const rejection = info.rejectedErrors?.find((error) => error.recipient === recipient);
    if (rejection?.response !== undefined) {
      return { recipient, reply: parseReply(rejection.response, 'rcpt'), delivered: false };
    }
    return { recipient, reply: eod, delivered: info.accepted.includes(recipient) };
  });
}

// nodemailer checks the envelope before it sends MAIL FROM and fails with one of these codes. A connection
// lost before MAIL FROM fails with another code and is reported like a connection lost later.
function isRefusedBeforeMail(error: unknown, session: OpenSession, start: number): boolean {
  const code = readError(error).code;
  if (error === null || (code !== 'EENVELOPE' && code !== 'EMESSAGE' && code !== 'EREQUIRETLS')) {
    return false;
  }
  return !session.transcript.entries
    .slice(start)
    .some((entry) => entry.direction === 'client' && entry.text.toUpperCase().startsWith('MAIL FROM'));
}

// Addresses nothing can be sent to are decided here, before any connection; each address goes out once.
function checkEnvelope(message: OutgoingMessage): {
  sendable: string[];
  complete(results: Map<string, RecipientResult>): RecipientResult[];
} {
  const early = new Map<string, Reply>();
  if (INVALID_ADDRESS.test(message.sender)) {
    const reply = localFailure('mail', `sender address ${JSON.stringify(message.sender)} is invalid`, {
      enhancedCode: '5.1.7',
      permanent: true,
    });
    message.recipients.forEach((recipient) => early.set(recipient, reply));
  }
  for (const recipient of message.recipients) {
    if (!early.has(recipient) && (recipient.trim() === '' || INVALID_ADDRESS.test(recipient))) {
      const text = `recipient address ${JSON.stringify(recipient)} is invalid`;
      early.set(recipient, localFailure('rcpt', text, { enhancedCode: '5.1.3', permanent: true }));
    }
  }

  const sendable = [...new Set(message.recipients)].filter((recipient) => !early.has(recipient));
  return {
    sendable,
    complete: (results) =>
      message.recipients.map((recipient) => ({ ...(results.get(recipient) ?? resultOf(recipient, early)) })),
  };
}

function resultOf(recipient: string, replies: Map<string, Reply>): RecipientResult {
  const reply =
    replies.get(recipient) ?? localFailure('queue', `no outcome recorded for ${recipient}`, { enhancedCode: '4.3.0' });
  return { recipient, reply, delivered: false };
}

function emptySession(): SessionInfo {
  return { mx: null, remoteIp: null, remotePort: null, localIp: null, tls: null };
}
