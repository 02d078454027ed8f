import type { Destination } from './resolve.js';
import { closeSession, type OpenSession } from './session.js';

/** Limits of connection reuse. */
export interface PoolSettings {
  /** Idle sessions kept per destination (MX name, address and port). */
  maxIdlePerDestination: number;
  /** An idle session is closed after this many ms. */
  idleTimeoutMs: number;
  /** A session is closed after it carried this many transactions. */
  maxTransactionsPerSession: number;
}

interface IdleSession {
  session: OpenSession;
  transactions: number;
  timer: NodeJS.Timeout;
}

/** Defaults close to Postfix's connection cache (smtp_connection_cache_time_limit is 2 s). */
export const DEFAULT_POOL_SETTINGS: PoolSettings = {
  maxIdlePerDestination: 10,
  idleTimeoutMs: 5_000,
  maxTransactionsPerSession: 100,
};

/**
 * Keeps SMTP sessions that finished a transaction cleanly open for the next message to the same
 * destination, so a busy destination does not pay a TCP connect, greeting, EHLO and STARTTLS per
 * message. A session is reused only after its previous transaction got every reply.
 */
export class SessionPool {
  private readonly settings: PoolSettings;
  private readonly idle = new Map<string, IdleSession[]>();
  private readonly counts = new WeakMap<OpenSession, number>();
  private closed = false;

  constructor(settings: PoolSettings = DEFAULT_POOL_SETTINGS) {
    this.settings = settings;
  }

  /** Takes an idle session to this destination, or returns null. Sessions the server closed are dropped. */
  take(destination: Destination): OpenSession | null {
    const list = this.idle.get(keyOf(destination));
    while (list && list.length > 0) {
      const entry = list.pop();
      if (!entry) {
        break;
      }
      clearTimeout(entry.timer);
      if (!entry.session.connection.destroyed) {
        return entry.session;
      }
    }
    return null;
  }

  /**
   * Returns a session after a transaction. It is kept when the pool has room and the session has not
   * carried its maximum of transactions; otherwise it is closed with QUIT.
   */
  give(session: OpenSession): void {
    const transactions = (this.counts.get(session) ?? 0) + 1;
    this.counts.set(session, transactions);
    const key = keyOf(session.destination);
    const list = this.idle.get(key) ?? [];
    if (
      this.closed ||
      session.connection.destroyed ||
      transactions >= this.settings.maxTransactionsPerSession ||
      list.length >= this.settings.maxIdlePerDestination
    ) {
      void closeSession(session);
      return;
    }

    const timer = setTimeout(() => {
      const current = this.idle.get(key);
      const index = current?.findIndex((entry) => entry.session === session) ?? -1;
      if (current && index >= 0) {
        current.splice(index, 1);
      }
      void closeSession(session);
    }, this.settings.idleTimeoutMs);
    timer.unref();
    list.push({ session, transactions, timer });
    this.idle.set(key, list);
  }

  /** Number of idle sessions held. */
  size(): number {
    let total = 0;
    for (const list of this.idle.values()) {
      total += list.length;
    }
    return total;
  }

  /** Closes every idle session; later `give` calls close their session at once. */
  async close(): Promise<void> {
    this.closed = true;
    const sessions = [...this.idle.values()].flat();
    this.idle.clear();
    for (const entry of sessions) {
      clearTimeout(entry.timer);
    }
    await Promise.all(sessions.map((entry) => closeSession(entry.session)));
  }
}

function keyOf(destination: Destination): string {
  return `${destination.mx}\u0000${destination.address}\u0000${destination.port}`;
}
