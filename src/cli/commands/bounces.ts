import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { splitMailbox } from '../../dsn/mbox.js';
import { CommandError, EXIT_FAILURE, EXIT_OK } from './io.js';
import { callApi, printJson } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import { formatTable, orDash } from './table.js';

interface IngestResult {
  kind: string;
  correlation: string;
  queueId: string | null;
  events: Array<{ recipient: string; action: string; enhancedCode: string; reason: string }>;
  suppressed: string[];
}

interface ReplayReport {
  candidate: boolean;
  scanned: number;
  classified: number;
  changed: number;
  summary: Array<{ from: string; to: string; events: number; suppressionChanges: number }>;
  changes: Array<{ time: string; recipient: string; text: string; before: { reason: string; suppress: boolean }; after: { reason: string; suppress: boolean } }>;
}

interface Alert {
  time: string;
  mx: string;
  domain: string;
  sample: string;
  recipients: string[];
  pausedUntil: string;
}

/** Lists the message files below a path: the file itself, or every regular file in a folder tree. */
async function messageFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => null);
  if (!info) {
    throw new CommandError(`${path} not found`);
  }
  if (info.isFile()) {
    return [path];
  }
  const files: string[] = [];
  for (const name of (await readdir(path)).sort()) {
    files.push(...(await messageFiles(join(path, name))));
  }
  return files;
}

/** `bouncegate ingest`: records bounce messages from files, folders (maildir) or mbox files. */
export const ingestCommand: CommandSpec = {
  name: 'ingest',
  usage: 'ingest FILE|DIR|MBOX [--recipient ADDRESS] [--json]',
  summary: 'record bounce messages from a file, a folder of files (maildir) or an mbox file',
  positionals: ['FILE|DIR|MBOX'],
  options: {
    recipient: { type: 'string', value: 'ADDRESS', help: 'envelope recipient the bounces were sent to, e.g. a VERP address' },
    json: JSON_OPTION,
  },

  async run(context) {
    const client = context.client();
    const recipient = stringOption(context.options, 'recipient');
    const rows: string[][] = [];
    let failed = 0;

    for (const file of await messageFiles(context.positionals[0] ?? '')) {
      const messages = splitMailbox(await readFile(file));
      for (const [index, raw] of messages.entries()) {
        const label = messages.length > 1 ? `${file}#${index + 1}` : file;
        try {
          const result = await callApi(this.usage, () =>
            client.requestText('POST', '/api/dsn', { body: raw.toString('utf8'), contentType: 'message/rfc822', query: { recipient } }),
          );
          const body = result.body as IngestResult;
          if (context.options.json === true) {
            printJson(context.io, { file: label, ...body });
          }
          rows.push([label, body.kind, body.correlation, orDash(body.queueId), String(body.events.length), body.suppressed.join(' ') || '-']);
        } catch (error) {
          failed += 1;
          context.io.stderr.write(`bouncegate: ${label}: ${(error as Error).message}\n`);
        }
      }
    }

    if (context.options.json !== true) {
      context.io.stdout.write(formatTable(['FILE', 'KIND', 'MATCHED BY', 'QUEUE ID', 'EVENTS', 'SUPPRESSED'], rows));
    }
    return failed > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};

/** `bouncegate replay`: what the rules in use, or candidate rules, would change in stored events. */
export const replayCommand: CommandSpec = {
  name: 'replay',
  usage: 'replay [--rules FILE] [--since TIME] [--until TIME] [--domain DOMAIN] [--limit N] [--json]',
  summary: 'classify stored failure events again and show what would change (nothing is written)',
  positionals: [],
  options: {
    rules: { type: 'string', value: 'FILE', help: 'candidate rule file (format of config/bounce-rules.yaml), tried before the rules in use' },
    since: { type: 'string', value: 'TIME', help: 'oldest event to read (ISO-8601 or ms)' },
    until: { type: 'string', value: 'TIME', help: 'newest event to read, exclusive' },
    domain: { type: 'string', value: 'DOMAIN', help: 'only events of recipients at this domain' },
    limit: { type: 'string', value: 'N', help: 'events read at most (default 50000)' },
    json: JSON_OPTION,
  },

  async run(context) {
    const rulesFile = stringOption(context.options, 'rules');
    const rules = rulesFile === undefined ? undefined : await readFile(rulesFile, 'utf8').catch((error: Error) => {
      throw new CommandError(`cannot read ${rulesFile}: ${error.message}`);
    });
    const query = {
      since: stringOption(context.options, 'since'),
      until: stringOption(context.options, 'until'),
      domain: stringOption(context.options, 'domain'),
      limit: stringOption(context.options, 'limit'),
    };
    const client = context.client();
    const report = await callApi(this.usage, () => client.send<ReplayReport>('POST', '/api/classify/replay', rules === undefined ? {} : { rules }, query));
    if (context.options.json === true) {
      printJson(context.io, report);
      return EXIT_OK;
    }
    const out = context.io.stdout;
    out.write(`${report.scanned} events read, ${report.classified} failures classified again, ${report.changed} would change\n`);
    if (report.summary.length > 0) {
      out.write('\n');
      out.write(formatTable(['FROM', 'TO', 'EVENTS', 'SUPPRESSION CHANGES'], report.summary.map((row) => [row.from, row.to, String(row.events), String(row.suppressionChanges)])));
    }
    return EXIT_OK;
  },
};

/** `bouncegate rules reload`: re-reads every rule file of the running relay. */
export const rulesReloadCommand: CommandSpec = {
  name: 'rules reload',
  usage: 'rules reload [--json]',
  summary: 'reload the classification rule files of the running relay (as SIGHUP does)',
  positionals: [],
  options: { json: JSON_OPTION },

  async run(context) {
    const client = context.client();
    const result = await callApi(this.usage, () => client.send<{ files: string[] }>('POST', '/api/rules/reload'));
    if (context.options.json === true) {
      printJson(context.io, result);
    } else {
      context.io.stdout.write(`rules reloaded from:\n${result.files.map((file) => `  ${file}`).join('\n')}\n`);
    }
    return EXIT_OK;
  },
};

/** `bouncegate alerts`: alerts of the mass-suppression guard. */
export const alertsCommand: CommandSpec = {
  name: 'alerts',
  usage: 'alerts [--json]',
  summary: 'show when many recipients at one MX were rejected alike and their suppressions were held for review',
  positionals: [],
  options: { json: JSON_OPTION },

  async run(context) {
    const client = context.client();
    const result = await callApi(this.usage, () => client.get<{ alerts: Alert[] }>('/api/alerts'));
    if (context.options.json === true) {
      printJson(context.io, result);
      return EXIT_OK;
    }
    const rows = result.alerts.map((alert) => [alert.time, alert.domain, alert.mx, String(alert.recipients.length), alert.pausedUntil, alert.sample.split('\n')[0] ?? '']);
    context.io.stdout.write(rows.length === 0 ? 'no alerts\n' : formatTable(['TIME', 'DOMAIN', 'MX', 'RECIPIENTS', 'PAUSED UNTIL', 'REJECTION'], rows));
    return EXIT_OK;
  },
};
