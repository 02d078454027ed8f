import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/tmp.js';
import { startTestRelay, TEST_TOKEN } from './harness.js';

describe('relay start', () => {
  it('fails whole when the admin port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const temp = makeTempDir();
    try {
      await expect(startTestRelay({ admin: { host: '127.0.0.1', port, token: TEST_TOKEN } }, temp.path)).rejects.toThrow(/EADDRINUSE/);

      // The failed start released the store and its listeners, so a second start on the same data works.
      const relay = await startTestRelay({}, temp.path);
      expect(relay.smtp.port).toBeGreaterThan(0);
      await relay.close();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      temp.remove();
    }
  });
});
