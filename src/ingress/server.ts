import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { newQueueId } from '../core/ids.js';
import type { QueueId, SubmissionSource } from '../core/types.js';
import { createAddressMatcher } from '../config/cidr.js';
import type { Config } from '../config/schema.js';
import type { MessageBodies } from '../spool/bodies.js';
import type { EventStore } from '../store/events.js';
import type { GroupCommitter } from '../store/group-commit.js';
import type { MessageIdIndex } from '../store/message-index.js';
import type { MessageRecord, QueueStore, RecipientRecord } from '../store/queue.js';
import type { SuppressionEntry, SuppressionStore } from '../store/suppressions.js';
import { suppressedEvent, suppressionRejectText } from '../suppression/notice.js';
import { AuthThrottle } from './auth-throttle.js';
import { verifyPassword } from './auth.js';
import './data-scan.js';
import './quit-close.js';
import './session-ids.js';
import { setGreetingDelay } from './greeting-delay.js';
import { HeaderCapture } from './headers.js';

/** Dependencies of the SMTP listener. */
export interface IngressDeps {
  config: Config;
  logger: Logger;
  bodies: MessageBodies;
  queue: QueueStore;
  committer: GroupCommitter;
  suppressions: SuppressionStore;
  events: EventStore;
  /** Index of Message-ID to queue id, for bounces that come back without VERP. */
  messageIndex?: MessageIdIndex;
  /**
   * Called after a message is durably queued, so delivery can start at once. Passes the recipient
   * records as committed and the body when it is inline, so delivery need not read them back.
   */
  onQueued(message: MessageRecord, records: RecipientRecord[], body: Buffer | null): void;
}

/** A running SMTP listener. */
export interface Ingress {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/** Recipients accepted per transaction, like Postfix's smtpd_recipient_limit (RFC 5321 §4.5.3.1.8: at least 100). */
const MAX_RECIPIENTS = 1000;

interface Transaction {
  queueId: QueueId;
  dropped: Array<{ recipient: string; entry: SuppressionEntry }>;
}

/** Builds an error that smtp-server sends as `<code> <text>`; the text carries its own enhanced code. */
function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

/**
 * Creates the submission listener: relay permission, AUTH, suppression checks at RCPT, and a durable
 * spool write before the 250 reply to DATA.
 */
export function createIngress(deps: IngressDeps): Ingress {
  const { config, logger } = deps;
  setGreetingDelay(config.listen.greetingDelay);
  const isAllowedClient = createAddressMatcher(config.clients.allow);
  const transactions = new Map<string, Transaction>();
  const authThrottle = new AuthThrottle();
  const tls = config.listen.tls;
  const disabled: string[] = [];
  if (!tls) disabled.push('STARTTLS');
  if (config.auth.users.length === 0) disabled.push('AUTH');

  const server = new SMTPServer({
    name: config.hostname,
    banner: 'bouncegate',
    size: config.listen.maxSize,
    maxClients: config.listen.maxClients,
    socketTimeout: config.listen.socketTimeout * 1000,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    // AUTH over plain text is checked per session in onAuth: allowed on loopback only.
    allowInsecureAuth: true,
    disabledCommands: disabled,
    disableReverseLookup: true,
    // Keep our reply texts as written: they carry the enhanced code we intend, which the library's
    // own table would otherwise replace.
    hideENHANCEDSTATUSCODES: true,
    logger: false,
    ...(tls ? { key: readFileSync(tls.key), cert: readFileSync(tls.cert) } : {}),

    onConnect(session, callback) {
      logger.debug({ session: session.id, client: session.remoteAddress }, 'client connected');
      callback();
    },

    onAuth(auth, session, callback) {
      // A failed attempt's username may be a password typed into the wrong field, so it is logged
      // only after success.
      const log = logger.child({ session: session.id, client: session.remoteAddress });
      if (!session.secure && !isLoopback(session.remoteAddress)) {
        log.warn('AUTH rejected: TLS required for clients not on loopback');
        callback(smtpError(538, '5.7.11 Encryption required for requested authentication mechanism'));
        return;
      }
      if (!authThrottle.allows(session.remoteAddress)) {
        log.warn('AUTH rejected: too many failed attempts from this client');
        callback(smtpError(454, '4.7.0 Too many failed authentication attempts; try again later'));
        return;
      }
      const username = auth.username;
      const password = auth.password;
      if (!username || typeof password !== 'string') {
        authThrottle.fail(session.remoteAddress);
        log.warn('AUTH failed');
        callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
        return;
      }
      verifyPassword(config.auth.users, username, password).then(
        (valid) => {
          if (!valid) {
            authThrottle.fail(session.remoteAddress);
            log.warn('AUTH failed');
            callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
            return;
          }
          authThrottle.succeed(session.remoteAddress);
          log.info({ user: username }, 'AUTH succeeded');
          callback(null, { user: username });
        },
        (error: unknown) => {
          log.error({ err: error }, 'AUTH check failed');
          callback(smtpError(454, '4.7.0 Temporary authentication failure'));
        },
      );
    },

    onMailFrom(_address, session, callback) {
      transactions.set(session.id, { queueId: newQueueId(), dropped: [] });
      callback();
    },

    onRcptTo(address, session, callback) {
      handleRcpt(address, session).then(
        () => callback(),
        (error: Error) => callback(error),
      );
    },

    onData(stream, session, callback) {
      handleData(stream, session).then(
        (reply) => callback(null, reply),
        (error: Error) => callback(error),
      );
    },

    onClose(session) {
      transactions.delete(session.id);
    },
  });

  server.on('error', (error) => {
    logger.error({ err: error }, 'SMTP listener error');
  });

  async function handleRcpt(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    // Made only when a line is logged: accepted recipients log nothing.
    const log = () => logger.child({ session: session.id, client: session.remoteAddress });
    const user = sessionUser(session);
    if (!user && !isAllowedClient(session.remoteAddress)) {
      log().warn({ recipient: address.address }, 'relay rejected: client not in clients.allow and not authenticated');
      throw smtpError(554, '5.7.1 Relay access denied');
    }

    if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) {
      throw smtpError(452, `4.5.3 Too many recipients; at most ${MAX_RECIPIENTS} per message`);
    }

    const entry = await deps.suppressions.findActive(address.address);
    if (!entry) {
      return;
    }

    const transaction = transactionOf(session);
    const source: SubmissionSource = { ip: session.remoteAddress, user };
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    if (config.suppression.onSubmit === 'drop') {
      transaction.dropped.push({ recipient: address.address, entry });
      log().info({ queueId: transaction.queueId, recipient: address.address, reason: entry.reason }, 'suppressed recipient accepted and dropped');
      return;
    }

    await deps.events.append([
      suppressedEvent({ queueId: transaction.queueId, messageId: null, sender, recipient: address.address, source, campaign: null, entry }),
    ]);
    log().info({ queueId: transaction.queueId, recipient: address.address, reason: entry.reason }, 'suppressed recipient rejected');
    const rejection = suppressionRejectText(entry);
    throw smtpError(rejection.code, rejection.text);
  }

  async function handleData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const transaction = transactionOf(session);
    const { queueId } = transaction;
    const where = { session: session.id, client: session.remoteAddress, queueId };
    const log = () => logger.child(where);
    const user = sessionUser(session);
    const source: SubmissionSource = { ip: session.remoteAddress, user };
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const droppedSet = new Set(transaction.dropped.map((item) => item.recipient));
    const recipients = session.envelope.rcptTo.map((item) => item.address).filter((address) => !droppedSet.has(address));

    const capture = new HeaderCapture();
    stream.on('error', (error) => capture.destroy(error));
    stream.pipe(capture);
    const prefix = Buffer.from(traceHeaders(session, config.hostname, queueId, recipients), 'utf8');

    let written;
    try {
      written = await deps.bodies.write(queueId, prefix, capture, config.listen.maxSize);
    } catch (error) {
      // smtp-server replies only after the DATA stream ends, so read and discard the rest of it.
      stream.unpipe(capture);
      stream.resume();
      log().error({ err: error }, 'spool write failed; message rejected with 451');
      throw smtpError(451, '4.3.0 Temporary failure writing the message to the queue; try again later');
    }
    if (written.oversized || stream.sizeExceeded) {
      await deps.bodies.discard(queueId, written);
      log().info({ bytes: written.size, max: config.listen.maxSize }, 'message rejected: over the size limit');
      throw smtpError(552, `5.3.4 Message size exceeds fixed maximum message size of ${config.listen.maxSize} bytes`);
    }

    const messageId = capture.header('Message-ID');
    const campaign = capture.header(config.events.campaignHeader);
    if (transaction.dropped.length > 0) {
      await deps.events.append(
        transaction.dropped.map(({ recipient, entry }) =>
          suppressedEvent({ queueId, messageId, sender, recipient, source, campaign, entry }),
        ),
      );
    }
    if (recipients.length === 0) {
      await deps.bodies.discard(queueId, written);
      log().info({ dropped: transaction.dropped.length }, 'message accepted; every recipient is suppressed, nothing queued');
      return `2.0.0 Ok: queued as ${queueId}`;
    }

    const now = Date.now();
    const message: MessageRecord = {
      queueId,
      sender,
      recipients,
      messageId,
      campaign,
      source,
      size: written.size,
      receivedAt: new Date(now).toISOString(),
      isBounce: false,
      smtputf8: requestedSmtpUtf8(session),
      held: false,
      ...(written.inline ? { inline: true } : {}),
    };
    const records: RecipientRecord[] = recipients.map((recipient, index) => ({
      queueId,
      index,
      recipient,
      status: 'queued',
      attempts: 0,
      nextAttemptAt: now,
      lastReply: null,
      lastMx: null,
      updatedAt: message.receivedAt,
    }));

    try {
      const operations = deps.queue.enqueueOperations(message, records);
      operations.push(...(await deps.bodies.persist(queueId, written)));
      if (messageId && deps.messageIndex) {
        operations.push(deps.messageIndex.operation(messageId, queueId));
      }
      await deps.committer.commit(operations);
    } catch (error) {
      await deps.bodies.discard(queueId, written).catch(() => undefined);
      log().error({ err: error }, 'queue commit failed; message rejected with 451');
      throw smtpError(451, '4.3.0 Temporary failure writing the message to the queue; try again later');
    }

    logger.info({ ...where, sender, recipients: recipients.length, bytes: written.size, messageId }, 'message queued');
    deps.onQueued(message, records, written.inline);
    return `2.0.0 Ok: queued as ${queueId}`;
  }

  function transactionOf(session: SMTPServerSession): Transaction {
    let transaction = transactions.get(session.id);
    if (!transaction) {
      transaction = { queueId: newQueueId(), dropped: [] };
      transactions.set(session.id, transaction);
    }
    return transaction;
  }

  return {
    listen() {
      return new Promise((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(config.listen.port, config.listen.host, () => {
          server.server.off('error', reject);
          const address = server.server.address();
          const port = typeof address === 'object' && address ? address.port : config.listen.port;
          resolve({ host: config.listen.host, port });
        });
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function sessionUser(session: SMTPServerSession): string | null {
  const user: unknown = session.user;
  return typeof user === 'string' && user ? user : null;
}

function requestedSmtpUtf8(session: SMTPServerSession): boolean {
  const mailFrom = session.envelope.mailFrom;
  if (!mailFrom || !mailFrom.args) {
    return false;
  }
  return Boolean((mailFrom.args as Record<string, unknown>).SMTPUTF8);
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Builds the Received and X-Bouncegate-Queue-Id headers put in front of the message (RFC 5321 §4.4). */
function traceHeaders(session: SMTPServerSession, hostname: string, queueId: string, recipients: string[]): string {
  const helo = session.hostNameAppearsAs || 'unknown';
  const protocol = `${session.secure ? 'ESMTPS' : 'ESMTP'}${session.user ? 'A' : ''}`;
  const forClause = recipients.length === 1 ? `\r\n\tfor <${recipients[0]}>` : '';
  const date = new Date().toUTCString().replace('GMT', '+0000');
  return (
    `Received: from ${helo} ([${session.remoteAddress}])\r\n\tby ${hostname} (bouncegate) with ${protocol} id ${queueId}${forClause};\r\n\t${date}\r\n` +
    `X-Bouncegate-Queue-Id: ${queueId}\r\n`
  );
}
