import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBRARY_GREETING_DELAY_MS } from '../../src/ingress/greeting-delay.js';
import { startTestRelay, type TestRelay } from '../e2e/harness.js';

/** Connects, optionally talks at once, and returns the first line and how long it took in ms. */
function firstLine(port: number, talkEarly: boolean): Promise<{ line: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    socket.on('connect', () => {
      if (talkEarly) {
        socket.write('EHLO early.test\r\n');
      }
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve({ line: buffer.slice(0, end), ms: performance.now() - started });
      }
    });
    socket.on('error', reject);
  });
}

describe('greeting delay', () => {
  let relay: TestRelay;

  beforeAll(async () => {
    relay = await startTestRelay({ listen: { host: '127.0.0.1', port: 0, greetingDelay: 10 } });
  });

  afterAll(async () => {
    await relay?.destroy();
  });

  it('greets sooner than the library default', async () => {
    const timings: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      const { line, ms } = await firstLine(relay.smtp.port, false);
      expect(line).toMatch(/^220 relay\.test /);
      timings.push(ms);
    }
    timings.sort((left, right) => left - right);
    expect(timings[2]).toBeLessThan(LIBRARY_GREETING_DELAY_MS / 2);
    expect(timings[0]).toBeGreaterThanOrEqual(9);
  });

  it('still rejects an early talker', async () => {
    const { line } = await firstLine(relay.smtp.port, true);
    expect(line).toBe('421 relay.test You talk too soon');
  });
});

describe('no greeting delay (the default)', () => {
  let relay: TestRelay;

  beforeAll(async () => {
    relay = await startTestRelay();
  });

  afterAll(async () => {
    await relay?.destroy();
  });

  it('greets at once and serves a client that talks first', async () => {
    const { line, ms } = await firstLine(relay.smtp.port, true);
    expect(line).toMatch(/^220 relay\.test /);
    expect(ms).toBeLessThan(LIBRARY_GREETING_DELAY_MS / 2);
  });
});
