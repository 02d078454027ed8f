import { describe, expect, it } from 'vitest';
import { SuppressionGuard } from '../../src/suppression/guard.js';

const settings = { enabled: true, windowSeconds: 600, minRecipients: 3, pauseSeconds: 1800 };
const MX = 'tenant-example.mail.protection.outlook.com';

function rejection(recipient: string): string {
  return `550 5.4.1 <${recipient}>: Recipient address rejected: Access denied. AS(201806281) [SN1PEPF0002636E.namprd02.prod.outlook.com 2024-05-07T10:11:12.345Z 08DC6E5A1B2C3D4E]`;
}

describe('suppression guard', () => {
  it('trips on the third recipient with one rejection', () => {
    let now = 1_000_000;
    const guard = new SuppressionGuard(settings, () => now);
    const results = ['a', 'b', 'c', 'd'].map((name) => {
      now += 1000;
      return guard.noteSuppressingFailure({ mx: MX, domain: 'tenant.example', recipient: `${name}@tenant.example`, text: rejection(`${name}@tenant.example`) });
    });

    expect(results.map((result) => result.status)).toEqual(['active', 'active', 'pending', 'pending']);
    expect(results[2]?.alert?.recipients).toEqual(['a@tenant.example', 'b@tenant.example', 'c@tenant.example']);
    expect(results[2]?.alert?.pausedUntil).toBe(new Date(1_003_000 + 1_800_000).toISOString());
    expect(results[3]?.alert).toBeNull();
    expect(guard.isPaused('tenant.example')).toBe(true);
    expect(guard.isPaused('other.example')).toBe(false);
  });

  it('stays quiet while the host delivers', () => {
    let now = 1_000_000;
    const guard = new SuppressionGuard(settings, () => now);
    guard.noteDelivery(MX, 'tenant.example');
    const statuses = ['a', 'b', 'c', 'd'].map((name) => {
      now += 1000;
      return guard.noteSuppressingFailure({ mx: MX, domain: 'tenant.example', recipient: `${name}@tenant.example`, text: rejection(`${name}@tenant.example`) }).status;
    });
    expect(statuses).toEqual(['active', 'active', 'active', 'active']);
    expect(guard.isPaused('tenant.example')).toBe(false);
  });

  it('forgets failures outside the window', () => {
    let now = 1_000_000;
    const guard = new SuppressionGuard(settings, () => now);
    const statuses = ['a', 'b', 'c'].map((name) => {
      now += 400_000;
      return guard.noteSuppressingFailure({ mx: MX, domain: 'tenant.example', recipient: `${name}@tenant.example`, text: rejection(`${name}@tenant.example`) }).status;
    });
    expect(statuses).toEqual(['active', 'active', 'active']);
  });

  it('ends the pause after pauseSeconds', () => {
    let now = 1_000_000;
    const guard = new SuppressionGuard(settings, () => now);
    for (const name of ['a', 'b', 'c']) {
      guard.noteSuppressingFailure({ mx: MX, domain: 'tenant.example', recipient: `${name}@tenant.example`, text: rejection(`${name}@tenant.example`) });
    }
    expect(guard.isPaused('tenant.example')).toBe(true);
    now += 1_800_001;
    expect(guard.isPaused('tenant.example')).toBe(false);
  });

  it('does nothing when disabled', () => {
    const guard = new SuppressionGuard({ ...settings, enabled: false });
    const statuses = ['a', 'b', 'c', 'd'].map(
      (name) => guard.noteSuppressingFailure({ mx: MX, domain: 'tenant.example', recipient: `${name}@tenant.example`, text: rejection(`${name}@tenant.example`) }).status,
    );
    expect(statuses).toEqual(['active', 'active', 'active', 'active']);
  });
});
