import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingNodeFlags, RELAY_NODE_FLAGS } from '../../src/core/node-flags.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

describe('Node.js flags of the relay', () => {
  it('are passed by every shipped way of starting it', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const launches = {
      'npm start': scripts['start'] ?? '',
      'systemd unit': read('systemd/bouncegate.service').split('\n').find((line) => line.startsWith('ExecStart=')) ?? '',
      'Docker image': read('docker/Dockerfile').split('\n').find((line) => line.startsWith('ENTRYPOINT')) ?? '',
    };
    for (const [where, line] of Object.entries(launches)) {
      const words = line.split(/[\s",[\]]+/);
      const nodeAt = words.findIndex((word) => word === 'node' || word.endsWith('/node'));
      expect(nodeAt, `${where}: ${line}`).toBeGreaterThanOrEqual(0);
      for (const flag of RELAY_NODE_FLAGS) {
        // A Node flag counts only between "node" and the script it runs.
        const scriptAt = words.findIndex((word, index) => index > nodeAt && word.endsWith('.js'));
        expect(words.slice(nodeAt + 1, scriptAt), `${where}: ${line}`).toContain(flag);
      }
    }
  });

  it('are accepted by this Node.js on its command line', () => {
    const output = execFileSync(process.execPath, [...RELAY_NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    // execArgv also contains -e and its code.
    const execArgv = JSON.parse(output) as string[];
    expect(execArgv.slice(0, RELAY_NODE_FLAGS.length)).toEqual([...RELAY_NODE_FLAGS]);
    expect(missingNodeFlags(execArgv, '')).toEqual([]);
  });

  it('that are missing are named', () => {
    expect(missingNodeFlags([], '')).toEqual([...RELAY_NODE_FLAGS]);
    expect(missingNodeFlags(['--import', 'tsx'], '')).toEqual([...RELAY_NODE_FLAGS]);
    expect(missingNodeFlags(['--initial-old-space-size=64'], '')).toEqual(['--v8-pool-size=2']);
  });

  it('count when given in NODE_OPTIONS', () => {
    expect(missingNodeFlags(['--initial-old-space-size=64'], '--max-http-header-size=16384 --v8-pool-size=2')).toEqual([]);
  });
});
