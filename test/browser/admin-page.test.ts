import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, submit, TEST_TOKEN, waitForEvent, type TestRelay } from '../e2e/harness.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'test-artifacts', 'admin-page.png');
const ACCESS_DENIED = '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]';

const available = existsSync(CHROMIUM);
if (!available) {
  console.log(`Chromium not found at ${CHROMIUM}: skipping the admin page browser test. Install the Debian package "chromium" to run it.`);
}

describe.skipIf(!available)('admin web page in headless Chromium', () => {
  let upstream: Upstream;
  let relay: TestRelay;
  let context: BrowserContext;
  let profile: ReturnType<typeof makeTempDir>;

  beforeAll(async () => {
    upstream = await startUpstream({ recipients: { 'gone@tenant.example': ACCESS_DENIED } });
    relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` } });
    profile = makeTempDir('bouncegate-chromium-');
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 1000 },
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    profile?.remove();
    await relay?.destroy();
    await upstream?.close();
  });

  it('logs in, finds the 5.4.1 event and removes the suppression', async () => {
    await submit(relay, { from: 'app@sender.example', to: ['ok@tenant.example', 'gone@tenant.example'] });
    await waitForEvent(relay, 'gone@tenant.example', 'bounced');
    await waitForEvent(relay, 'ok@tenant.example', 'delivered');
    expect(await relay.suppressions.findActive('gone@tenant.example')).not.toBeNull();

    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));

    const base = `http://127.0.0.1:${relay.admin.port}`;
    await page.goto(`${base}/`);
    await page.fill('#token', TEST_TOKEN);
    await page.click('#login');
    await page.waitForSelector('#main-view:not([hidden])');

    await page.fill('#search', 'gone@tenant.example');
    await page.click('#search-button');
    const row = page.locator('#events tr', { hasText: '550 5.4.1 Recipient address rejected: Access denied' });
    await row.first().waitFor();
    expect(await row.first().textContent()).toContain('gone@tenant.example');

    await page.locator('#history-panel:not([hidden])').waitFor();
    expect(await page.textContent('#history-address')).toBe('gone@tenant.example');
    await page.fill('#history-suppression input[name="note"]', 'recipient confirmed by phone that the mailbox works');
    await page.click('#history-suppression button');
    await page.locator('#status', { hasText: 'Removed gone@tenant.example from the suppression list.' }).waitFor();
    await page.locator('#history-suppression', { hasText: 'Not on the suppression list.' }).waitFor();

    expect(await relay.suppressions.get('gone@tenant.example')).toBeNull();
    const trail = await relay.suppressions.history('gone@tenant.example');
    expect(trail.at(-1)).toMatchObject({ change: 'remove', actor: 'web', note: 'recipient confirmed by phone that the mailbox works' });

    await page.locator('#chart svg').waitFor();
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    expect(problems, problems.join('\n')).toEqual([]);
    expect(requests.every((url) => url.startsWith(base))).toBe(true);
    expect(requests.some((url) => url.includes(TEST_TOKEN))).toBe(false);
    expect(await page.evaluate("sessionStorage.getItem('bouncegate-admin-token')")).toBe(TEST_TOKEN);
  }, 60_000);
});
