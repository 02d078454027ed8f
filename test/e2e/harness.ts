import nodemailer from 'nodemailer';
import { startRelay, type Relay } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { DeliveryEvent } from '../../src/core/types.js';
import { makeTempDir } from '../helpers/tmp.js';

/** Admin token of every test relay. */
export const TEST_TOKEN = 'test-token-0123456789abcdef';

/** A relay on loopback port 0 with its data in a temp folder. */
export interface TestRelay extends Relay {
  dataDir: string;
  /** Closes the relay and deletes its data folder. */
  destroy(): Promise<void>;
}

/** Starts a relay with test defaults (ports 0, silent log, fixed token) merged under `overrides`. */
export async function startTestRelay(overrides: Record<string, unknown> = {}, dataDir?: string): Promise<TestRelay> {
  const temp = dataDir ? null : makeTempDir('bouncegate-e2e-');
  const dir = dataDir ?? temp?.path ?? '';
  const raw = {
    dataDir: dir,
    hostname: 'relay.test',
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: TEST_TOKEN },
    bounce: { listen: '127.0.0.1:0' },
    log: { level: process.env.BOUNCEGATE_TEST_LOG ?? 'silent' },
    ...overrides,
  };
  const relay = await startRelay({ config: parseConfig(raw, 'test') });
  return Object.assign(relay, {
    dataDir: dir,
    async destroy() {
      await relay.close();
      temp?.remove();
    },
  });
}

/** Submits one message through the relay with nodemailer's SMTP transport; returns the server's reply. */
export async function submit(
  relay: { smtp: { port: number } },
  envelope: { from: string; to: string[] },
  options: { subject?: string; headers?: Record<string, string>; text?: string } = {},
): Promise<{ response: string; accepted: string[]; rejected: string[] }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.smtp.port,
    secure: false,
    ignoreTLS: true,
    tls: { rejectUnauthorized: false },
  });
  try {
    const info = await transport.sendMail({
      envelope,
      from: envelope.from,
      to: envelope.to,
      subject: options.subject ?? 'test',
      text: options.text ?? 'hello',
      headers: options.headers,
    });
    return {
      response: info.response,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
    };
  } finally {
    transport.close();
  }
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until a recipient has an event with the given action, and returns that event. */
export async function waitForEvent(relay: Relay, recipient: string, action: DeliveryEvent['action'], timeoutMs = 15_000): Promise<DeliveryEvent> {
  return waitFor(
    async () => {
      const page = await relay.events.query({ recipient, action, limit: 1 });
      return page.events[0];
    },
    timeoutMs,
    `a ${action} event for ${recipient}`,
  );
}
