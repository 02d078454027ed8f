import { describe, expect, it } from 'vitest';
import { BouncegateError } from '../../src/core/errors.js';
import { MAX_PARSE_BYTES, parseDsn } from '../../src/dsn/parse.js';
import { readDsnFixture, shippedClassifier } from './helpers.js';

// Wall-clock budget for one pathological message on a slow CI machine; a normal bounce takes milliseconds.
const SLOW_INPUT_BUDGET_MS = 5000;

/** Deterministic bytes that look like binary garbage (a linear congruential generator). */
function garbage(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = state >> 16;
  }
  // A NUL first byte can never start a header field, whatever the generator produced.
  bytes[0] = 0;
  return bytes;
}

async function expectInvalid(raw: Buffer, message: RegExp): Promise<void> {
  const outcome = await parseDsn(raw, shippedClassifier).then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(BouncegateError);
  expect((outcome as BouncegateError).code).toBe('BOUNCEGATE_DSN_INVALID');
  expect((outcome as BouncegateError).message).toMatch(message);
}

describe('malformed input', () => {
  it('empty input is rejected', async () => {
    await expectInvalid(Buffer.alloc(0), /empty message/);
  });

  it('binary garbage is rejected', async () => {
    await expectInvalid(garbage(64 * 1024, 7), /does not start with a header field/);
  });

  it('garbage after a header is best effort', async () => {
    const raw = Buffer.concat([Buffer.from('Subject: noise\r\n\r\n'), garbage(256 * 1024, 11)]);
    const result = await parseDsn(raw, shippedClassifier);

    expect(result.kind).toBe('not-bounce');
    expect(result.bounces).toEqual([]);
  });

  it('truncated report keeps what arrived', async () => {
    const result = await parseDsn(readDsnFixture('truncated.eml'), shippedClassifier);

    expect(result.kind).toBe('bounce');
    expect(result.bounces.map((bounce) => bounce.recipient)).toContain('alice@dest.example');
  });

  it('unknown charset still parses', async () => {
    const result = await parseDsn(readDsnFixture('unknown-charset.eml'), shippedClassifier);

    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['oscar@dest.example']);
    expect(result.bounces[0]?.reason).toBe('userunknown');
    expect(result.originalMessageId).toBe('charset-1@sender.example');
  });

  it('broken boundary falls back to the raw body', async () => {
    const result = await parseDsn(readDsnFixture('broken-boundary.eml'), shippedClassifier);

    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['alice@dest.example', 'bob@other.example']);
    expect(result.bounces[0]?.reason).toBe('userunknown');
    expect(result.originalQueueId).toBe('01HXQ3W9Z8K2M4N6P8R0T2V4X6');
  });

  it('huge returned attachment is cut and parsed', async () => {
    const fixture = readDsnFixture('postfix-two-recipients.eml').toString('latin1');
    const boundary = '--3F2A81C0042.1715673731/mx1.relay.example';
    const attachment = `${boundary}\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${'QUJD'.repeat(19).concat('\n').repeat(120_000)}`;
    const raw = Buffer.from(fixture.replace(`${boundary}--`, `${attachment}\n${boundary}--`), 'latin1');

    const started = Date.now();
    const result = await parseDsn(raw, shippedClassifier);

    expect(raw.length).toBeGreaterThan(MAX_PARSE_BYTES);
    expect(Date.now() - started).toBeLessThan(SLOW_INPUT_BUDGET_MS);
    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['alice@dest.example', 'bob@other.example']);
  });

  it('one huge line stays fast', async () => {
    const raw = Buffer.from(`From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail\r\n\r\n${'a'.repeat(3 * 1024 * 1024)}\r\n`);

    const started = Date.now();
    const result = await parseDsn(raw, shippedClassifier);

    expect(Date.now() - started).toBeLessThan(SLOW_INPUT_BUDGET_MS);
    expect(result.bounces).toEqual([]);
  });

  it('thousands of addresses stay bounded', async () => {
    const lines = Array.from({ length: 5000 }, (_, index) => `<user${index}@dest.example>: 550 5.1.1 User unknown`);
    const raw = Buffer.from(`From: MAILER-DAEMON@mx.example.org\r\nSubject: failure notice\r\n\r\n${lines.join('\r\n')}\r\n`);

    const started = Date.now();
    const result = await parseDsn(raw, shippedClassifier);

    expect(Date.now() - started).toBeLessThan(SLOW_INPUT_BUDGET_MS);
    expect(result.bounces.length).toBeGreaterThan(0);
    expect(result.bounces.length).toBeLessThanOrEqual(1000);
  });

  it('NUL bytes inside a bounce are tolerated', async () => {
    const fixture = readDsnFixture('qmail.eml').toString('latin1').replace('Giving up on', 'Giving\u0000up on');
    const result = await parseDsn(Buffer.from(fixture, 'latin1'), shippedClassifier);

    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['carol@dest.example', 'dave@gone.example']);
  });
});
