import { SMTPConnection } from 'smtp-server/lib/smtp-connection';

/** smtp-server's own wait before the greeting, in ms (SMTPConnection.init in smtp-server 3.21.6). */
export const LIBRARY_GREETING_DELAY_MS = 100;

interface ConnectionInternals {
  _server: { options: { maxClients?: number }; connections: Set<unknown> };
  name: string;
  _setListeners(callback: () => void): void;
  send(code: number, text: string, context?: unknown): void;
  connectionReady(): void;
}

let delayMs = LIBRARY_GREETING_DELAY_MS;
let patched = false;

/**
 * Sets how long smtp-server waits before the greeting; 0 greets at once. The wait catches early
 * talkers (clients that send before the greeting get "421 You talk too soon"), but its fixed 100 ms
 * caps a client that opens one connection per message at about 10 messages per second per connection.
 *
 * NOTE: this replaces SMTPConnection.prototype.init of smtp-server 3.21.6 (the version is pinned in
 * package.json) with the same steps and another delay. A test checks both the delay and the early-talker
 * rejection, so a library change that breaks this fails the suite.
 */
export function setGreetingDelay(ms: number): void {
  delayMs = ms;
  if (patched) {
    return;
  }
  patched = true;
  const prototype = SMTPConnection.prototype as unknown as ConnectionInternals & { init(): void };
  prototype.init = function init(this: ConnectionInternals): void {
    this._setListeners(() => {
      const { maxClients } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      if (delayMs === 0) {
        this.connectionReady();
        return;
      }
      const readyTimer = setTimeout(() => this.connectionReady(), delayMs);
      readyTimer.unref();
    });
  };
}
