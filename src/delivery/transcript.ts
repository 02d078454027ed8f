import type { Logger } from 'pino';

/** One command as sent, or one whole reply as received (continuation lines joined with "\n"). */
export interface TranscriptEntry {
  direction: 'client' | 'server';
  text: string;
}

/** The subset of a bunyan-style logger that nodemailer's `SMTPConnection` calls. */
export interface NodemailerLogger {
  trace(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  fatal(...args: unknown[]): void;
}

const REPLY_START = /^\d{3}(?:[ -]|$)/;

/**
 * The SMTP conversation of one session, in order, recorded through the logger hook of nodemailer's
 * `SMTPConnection` (options `logger` and `transactionLog`). With that option nodemailer 10.6 logs every
 * command it writes and every reply it has received in full, a multi-line reply as one string with its
 * lines joined by "\n", each line keeping its code. The send() callback reports RCPT TO rejections only
 * when the message went through or every recipient was rejected. After a rejected DATA or a rejection
 * after the final dot, its error carries none. The transcript keeps every reply, so each recipient gets
 * the reply the server sent for it.
 */
export class Transcript {
  readonly entries: TranscriptEntry[] = [];
  readonly logger: NodemailerLogger;

  constructor(log?: Logger) {
    const ignore = (): void => {};
    // Every level is implemented, because nodemailer routes a level the logger lacks to another one.
    this.logger = {
      trace: ignore,
      info: ignore,
      warn: ignore,
      error: ignore,
      fatal: ignore,
      debug: (entry: unknown, message: unknown) => this.record(entry, message, log),
    };
  }

  /** Returns the server replies recorded from entry `index` on. */
  repliesFrom(index: number): string[] {
    return this.entries
      .slice(index)
      .filter((entry) => entry.direction === 'server')
      .map((entry) => entry.text);
  }

  /** Returns the verb of the last command sent ("EHLO", "STARTTLS", ...), or null before the first one. */
  lastCommandVerb(): string | null {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry?.direction === 'client') {
        return (entry.text.split(/[\s:]/, 1)[0] ?? '').toUpperCase();
      }
    }
    return null;
  }

  /** Returns the reply to the last command whose verb is `verb`, or null when it has none yet. */
  replyToLast(verb: string): string | null {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry?.direction !== 'client' || !entry.text.toUpperCase().startsWith(verb)) {
        continue;
      }
      const reply = this.entries.slice(i + 1).find((next) => next.direction === 'server');
      return reply?.text ?? null;
    }
    return null;
  }

  private record(entry: unknown, message: unknown, log: Logger | undefined): void {
    if (typeof entry !== 'object' || entry === null || !('tnx' in entry) || typeof message !== 'string') {
      return;
    }
    const direction = entry.tnx;
    if (direction !== 'client' && direction !== 'server') {
      return;
    }
    // When the peer closes, nodemailer also logs what it received after the last line break. That text
    // counts as a reply when it starts with a reply code (nodemailer reports a 4xx or 5xx one the same
    // way), and is dropped otherwise.
    if (direction === 'server' && !REPLY_START.test(message)) {
      log?.debug({ smtp: direction, text: message }, 'smtp fragment ignored');
      return;
    }
    this.entries.push({ direction, text: message });
    log?.debug({ smtp: direction, text: message }, 'smtp line');
  }
}
