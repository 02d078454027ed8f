import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBenchArgs, scenarioSelected } from '../../bench/lib/args.js';
import { shortenPath, summarizeProfile } from '../../bench/lib/cpuprofile.js';
import { checkTargets, count, formatRatio, mergeResults, renderMarkdown, type BenchResults } from '../../bench/lib/report.js';
import { readThreadCpu } from '../../bench/lib/proc.js';
import { smtpSourceArgs } from '../../bench/lib/smtp-tools.js';
import { median, percentile, ratio } from '../../bench/lib/stats.js';
import { loadScenarios } from '../../bench/scenarios/load.js';

describe('stats', () => {
  it('median of odd and even lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('percentile by nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(() => percentile(values, 0)).toThrow(RangeError);
  });

  it('ratio of a zero reference is NaN', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNaN();
    expect(ratio(Number.NaN, 2)).toBeNaN();
  });
});

describe('bench arguments', () => {
  it('defaults', () => {
    expect(parseBenchArgs([])).toEqual({ quick: false, scenarios: [], messages: null, runs: 3, maxEntries: null, merge: false, help: false });
  });

  it('repeated --scenario and numbers', () => {
    const options = parseBenchArgs(['--quick', '--scenario', 'load/4k', '--scenario', 'latency', '--messages', '5_000', '--runs', '1']);
    expect(options.quick).toBe(true);
    expect(options.scenarios).toEqual(['load/4k', 'latency']);
    expect(options.messages).toBe(5000);
    expect(options.runs).toBe(1);
  });

  it('invalid count names the option', () => {
    expect(() => parseBenchArgs(['--runs', '0'])).toThrow('--runs is "0"');
    expect(() => parseBenchArgs(['--messages', 'many'])).toThrow('--messages is "many"');
  });

  it('unknown option is rejected', () => {
    expect(() => parseBenchArgs(['--fast'])).toThrow();
  });

  it('scenario filter matches substrings', () => {
    expect(scenarioSelected('load/4k-s10-r1-reuse', [])).toBe(true);
    expect(scenarioSelected('load/4k-s10-r1-reuse', ['s10-r1'])).toBe(true);
    expect(scenarioSelected('latency', ['load'])).toBe(false);
  });
});

describe('load matrix', () => {
  it('full matrix has every combination', () => {
    const scenarios = loadScenarios(false);
    expect(scenarios).toHaveLength(2 * 3 * 2 * 2);
    expect(new Set(scenarios.map((scenario) => scenario.name)).size).toBe(scenarios.length);
    expect(scenarios.map((scenario) => scenario.name)).toContain('load/100k-s50-r10-newconn');
  });

  it('quick matrix is smaller', () => {
    expect(loadScenarios(true).length).toBeLessThan(loadScenarios(false).length);
  });

  it('smtp-source reuses connections only with -d', () => {
    const load = { port: 2525, messages: 10, sessions: 2, recipients: 3, bytes: 4096, reuse: true };
    expect(smtpSourceArgs(load)).toContain('-d');
    expect(smtpSourceArgs({ ...load, reuse: false })).not.toContain('-d');
    expect(smtpSourceArgs(load).at(-1)).toBe('127.0.0.1:2525');
  });
});

describe('report formatting', () => {
  it('counts and ratios', () => {
    expect(count(10_000_000)).toBe('10 M');
    expect(count(100_000)).toBe('100 k');
    expect(count(1234)).toBe('1234');
    expect(formatRatio(2)).toBe('2.00×');
    expect(formatRatio(Number.NaN)).toBe('–');
  });
});

describe('merging runs', () => {
  const figures = { acceptedPerSecond: 1, deliveredPerSecond: 1, cpuPer1000: 1, peakMemoryMb: 1 };
  const loadResult = (name: string, delivered: number, error: string | null) => ({
    scenario: { name, bytes: 4096, sessions: 10, recipients: 1, reuse: true },
    messages: 100,
    runs: 1,
    direct: figures,
    postfix: figures,
    relay: { ...figures, deliveredPerSecond: delivered },
    error,
  });
  const run = (overrides: Partial<BenchResults>): BenchResults => ({
    date: '2026-01-01T00:00:00Z',
    command: 'node --import tsx bench/run.ts',
    quick: false,
    complete: true,
    machine: { cpus: 2, cpuModel: 'x', memoryGiB: 1, disk: 'd', kernel: 'k', node: 'v20', postfix: '3.7', packages: {} },
    relayForm: 'compiled',
    messagesPerRun: 100,
    runs: 1,
    load: [],
    latency: null,
    suppressions: null,
    events: null,
    bigMessages: null,
    profile: null,
    failures: [],
    ...overrides,
  });

  it('rerun scenario replaces the failed one', () => {
    const base = run({
      load: [loadResult('load/a', 10, null), loadResult('load/b', 0, 'timed out')],
      failures: [{ section: 'load/b', error: 'timed out' }],
    });
    const later = run({ date: '2026-01-02T00:00:00Z', complete: false, load: [loadResult('load/b', 20, null)] });

    const merged = mergeResults(base, later);

    expect(merged.load.map((result) => result.relay.deliveredPerSecond)).toEqual([10, 20]);
    expect(merged.failures).toEqual([]);
    expect(merged.complete).toBe(true);
    expect(merged.date).toBe(base.date);
    expect(merged.reruns).toEqual([{ date: later.date, command: later.command, what: 'load/b' }]);
  });

  it('rerun names the commit it measured', () => {
    const later = run({ date: '2026-01-02T00:00:00Z', source: 'commit abc1234', load: [loadResult('load/a', 12, null)] });

    const merged = mergeResults(run({ source: 'commit 0000000', load: [loadResult('load/a', 10, null)] }), later);

    expect(merged.source).toBe('commit 0000000');
    expect(merged.reruns).toEqual([{ date: later.date, command: later.command, what: 'load/a', source: 'commit abc1234' }]);
    expect(renderMarkdown(merged)).toContain('Then load/a rerun on 2026-01-02T00:00:00Z with `node --import tsx bench/run.ts`, measuring commit abc1234.');
  });

  it('sections not rerun are kept', () => {
    const base = run({ failures: [{ section: 'events', error: 'disk full' }] });
    const later = run({ load: [loadResult('load/c', 5, null)] });

    const merged = mergeResults(base, later);

    expect(merged.load).toHaveLength(1);
    expect(merged.failures).toEqual([{ section: 'events', error: 'disk full' }]);
  });

  it('profiles of several loads replace an older single profile', () => {
    const summary = { totalMs: 10, busyMs: 5, topFunctions: [], topFiles: [], inclusive: [] };
    const single = { messages: 100, profilePath: 'relay-4k-s10-r1.cpuprofile', summary, thread: null };
    const shape = { name: 'load/4k-s10-r1-newconn', bytes: 4096, sessions: 10, recipients: 1, reuse: false };
    const several = [{ ...single, shape, profilePath: 'relay-4k-s10-r1-newconn.cpuprofile' }];
    const base = run({ profile: single, failures: [{ section: 'profile', error: 'no profile written' }] });

    const merged = mergeResults(base, run({ profiles: several }));

    expect(merged.profile).toBeNull();
    expect(merged.profiles).toEqual(several);
    expect(merged.failures).toEqual([]);
    expect(mergeResults(base, run({})).profile).toEqual(single);
  });

  const comparison = (scenario: string, withEvents: number, withoutEvents: number) => ({
    scenario,
    messages: 100,
    runs: 3,
    recording: { ...figures, deliveredPerSecond: withEvents },
    notRecording: { ...figures, deliveredPerSecond: withoutEvents },
  });

  it('recordings replace an older single recording', () => {
    const single = comparison('load/4k-s10-r1-reuse', 95, 100);
    const several = [comparison('load/4k-s10-r1-reuse', 92, 100), comparison('load/4k-s10-r10-reuse', 85, 100)];
    const base = run({ recording: single });

    const merged = mergeResults(base, run({ recordings: several }));

    expect(merged.recording).toBeNull();
    expect(merged.recordings).toEqual(several);
    expect(mergeResults(base, run({})).recording).toEqual(single);
  });

  it('recording target per load', () => {
    const recordingTargets = (results: BenchResults) => checkTargets(results).filter((check) => check.target.startsWith('recording'));

    const targets = recordingTargets(run({ recordings: [comparison('load/4k-s10-r1-reuse', 92, 100), comparison('load/4k-s10-r10-reuse', 85, 100)] }));

    expect(targets.map((check) => [check.target, check.met])).toEqual([
      ['recording every attempt costs < 10 % of relay throughput (load/4k-s10-r1-reuse)', true],
      ['recording every attempt costs < 10 % of relay throughput (load/4k-s10-r10-reuse)', false],
    ]);
    expect(targets[1]?.measured).toContain('15.0 % fewer delivered msg/s');
    // A result written before several loads were compared still reports its single comparison.
    expect(recordingTargets(run({ recording: comparison('load/4k-s10-r1-reuse', 80, 100) })).map((check) => check.met)).toEqual([false]);
    expect(recordingTargets(run({})).map((check) => check.met)).toEqual([null]);
  });
});

describe('thread CPU', () => {
  it('splits the main thread from the others', async () => {
    // A worker that spins for 200 ms is CPU of the other threads, not of the main one.
    const before = readThreadCpu(process.pid);
    const worker = new Worker('const end = Date.now() + 200; while (Date.now() < end) {}', { eval: true });
    await new Promise((resolve) => worker.once('exit', resolve));
    const after = readThreadCpu(process.pid);

    expect(after.other - before.other).toBeGreaterThanOrEqual(0.1);
    expect(after.main).toBeGreaterThanOrEqual(before.main);
    expect(() => readThreadCpu(2 ** 22 + 1)).toThrow(/has exited/);
  });
});

describe('cpuprofile summary', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
      dir = null;
    }
  });

  it('self and inclusive time', () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-profile-test-'));
    const path = join(dir, 'test.cpuprofile');
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
    // The tree: root → append (events.js) → encode (node_modules/x), and root → (idle).
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
        { id: 2, callFrame: frame('append', 'file:///tmp/build/dist/store/events.js'), children: [3] },
        { id: 3, callFrame: frame('encode', 'file:///work/node_modules/x/index.js'), children: [] },
        { id: 4, callFrame: frame('(idle)', ''), children: [] },
      ],
      startTime: 0,
      endTime: 1000,
      samples: [2, 3, 3, 4, 3],
      // Each sample is charged with the delta that follows it, and the last one gets none.
      timeDeltas: [0, 100, 200, 300, 400],
    };
    writeFileSync(path, JSON.stringify(profile));

    const summary = summarizeProfile(path, {
      probes: [{ label: 'append', functionName: 'append', fileSuffix: 'store/events' }],
    });

    expect(summary.totalMs).toBeCloseTo(1.0);
    expect(summary.busyMs).toBeCloseTo(0.6);
    expect(summary.topFunctions[0]).toMatchObject({ name: 'encode', location: 'node_modules/x/index.js:10' });
    expect(summary.topFunctions[0]?.selfMs).toBeCloseTo(0.5);
    expect(summary.topFiles.map((entry) => entry.file)).toEqual(['node_modules/x/index.js', 'src/store/events.ts']);
    expect(summary.inclusive[0]?.ms).toBeCloseTo(0.6);
    expect(summary.inclusive[0]?.share).toBeCloseTo(1);
  });

  it('compiled paths map to sources', () => {
    expect(shortenPath('file:///tmp/b-1/dist/queue/runner.js')).toBe('src/queue/runner.ts');
    expect(shortenPath('file:///work/main/node_modules/level/index.js')).toBe('node_modules/level/index.js');
    expect(shortenPath('node:events')).toBe('node:events');
  });
});
