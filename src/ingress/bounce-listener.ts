import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { domainOf } from '../core/address.js';
import type { DsnIngestResult } from '../dsn/ingest.js';

/** Dependencies of the bounce listener. */
export interface BounceListenerDeps {
  logger: Logger;
  hostname: string;
  host: string;
  port: number;
  /** Domain the listener accepts recipients for; null accepts any. */
  domain: string | null;
  maxSize: number;
  /** Records one bounce message; `recipients` are the envelope recipients (VERP addresses). */
  ingest(raw: Buffer, recipients: string[]): Promise<DsnIngestResult>;
}

/** A running bounce listener. */
export interface BounceListener {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/** Concurrent sessions of the bounce listener; MTAs retry a 421 later. */
const MAX_BOUNCE_CLIENTS = 100;
/** Idle time before the bounce listener closes a session, in ms. */
const BOUNCE_SOCKET_TIMEOUT_MS = 60_000;

function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

/**
 * Creates the SMTP listener for asynchronous bounces: the bounce domain's MX points here. It accepts
 * only recipients in the bounce domain, reads each message (at most `maxSize` bytes) and records it.
 * It relays nothing.
 */
export function createBounceListener(deps: BounceListenerDeps): BounceListener {
  const { logger } = deps;
  const server = new SMTPServer({
    name: deps.hostname,
    banner: 'bouncegate bounce listener',
    size: deps.maxSize,
    // Each session may buffer up to maxSize bytes, so sessions and their idle time are bounded.
    maxClients: MAX_BOUNCE_CLIENTS,
    socketTimeout: BOUNCE_SOCKET_TIMEOUT_MS,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: true,
    logger: false,

    onRcptTo(address, session, callback) {
      if (deps.domain && domainOf(address.address) !== domainOf(`x@${deps.domain}`)) {
        logger.warn({ session: session.id, client: session.remoteAddress, recipient: address.address }, 'bounce listener rejected a recipient outside the bounce domain');
        callback(smtpError(550, `5.1.1 <${address.address}>: recipient not in the bounce domain ${deps.domain}; this listener accepts only bounces`));
        return;
      }
      callback();
    },

    onData(stream, session, callback) {
      receive(stream, session).then(
        (reply) => callback(null, reply),
        (error: Error) => callback(error),
      );
    },
  });

  server.on('error', (error) => logger.error({ err: error }, 'bounce listener error'));

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= deps.maxSize) {
        chunks.push(chunk);
      }
    }
    if (size > deps.maxSize || stream.sizeExceeded) {
      throw smtpError(552, `5.3.4 Message size exceeds fixed maximum message size of ${deps.maxSize} bytes`);
    }

    const recipients = session.envelope.rcptTo.map((item) => item.address);
    const log = logger.child({ session: session.id, client: session.remoteAddress });
    try {
      const result = await deps.ingest(Buffer.concat(chunks, size), recipients);
      log.info({ kind: result.kind, correlation: result.correlation, queueId: result.queueId, events: result.events.length, suppressed: result.suppressed.length }, 'bounce received');
      return '2.0.0 Ok: bounce recorded';
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'BOUNCEGATE_DSN_INVALID') {
        // Rejecting would make the sender bounce the bounce; keep the log line instead.
        log.warn({ err: error, bytes: size }, 'bounce could not be parsed; accepted and dropped');
        return '2.0.0 Ok: message accepted but not readable as a bounce';
      }
      log.error({ err: error }, 'recording a bounce failed; replied 451');
      throw smtpError(451, '4.3.0 Temporary failure recording the bounce; try again later');
    }
  }

  return {
    listen() {
      return new Promise((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(deps.port, deps.host, () => {
          server.server.off('error', reject);
          const address = server.server.address();
          resolve({ host: deps.host, port: typeof address === 'object' && address ? address.port : deps.port });
        });
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
