import { readFileSync, writeFileSync } from 'node:fs';
import type { SuppressionEntry, AuditEntry } from '../../store/suppressions.js';
import { AdminApiError } from '../admin-client.js';
import { absoluteTime } from './events.js';
import { CommandError, EXIT_FAILURE, EXIT_OK, UsageError } from './io.js';
import { callApi, cliActor, printJson } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import { formatTable, orDash } from './table.js';

/** Filters that `suppress list` and `suppress export` pass to the API, by CLI option name. */
export const LIST_FILTER_OPTIONS: CommandSpec['options'] = {
  domain: { type: 'string', value: 'DOMAIN', help: 'only addresses at this domain' },
  reason: { type: 'string', value: 'REASON', help: 'only entries with this reason, e.g. userunknown' },
  origin: { type: 'string', value: 'ORIGIN', help: 'only entries added by delivery, dsn or manual' },
  status: { type: 'string', value: 'STATUS', help: 'only active or only pending entries' },
  'older-than': { type: 'string', value: 'AGE', help: 'only entries created longer ago than AGE (7d, 24h) or before a time' },
  'newer-than': { type: 'string', value: 'AGE', help: 'only entries created within AGE (7d, 24h) or after a time' },
};

/** Reads the list filters from the options as API query parameters. */
export function listFilterQuery(options: Record<string, string | boolean | undefined>): Record<string, string | undefined> {
  return {
    domain: stringOption(options, 'domain'),
    reason: stringOption(options, 'reason'),
    origin: stringOption(options, 'origin'),
    status: stringOption(options, 'status'),
    olderThan: stringOption(options, 'older-than'),
    newerThan: stringOption(options, 'newer-than'),
  };
}

/** `bouncegate suppress export`: GET /api/suppressions/export. */
export const suppressExportCommand: CommandSpec = {
  name: 'suppress export',
  usage: 'suppress export [--format csv|json] [--output FILE] [filters]',
  summary: 'write the suppression list as CSV or JSON, to stdout or a file',
  positionals: [],
  options: {
    format: { type: 'string', value: 'FORMAT', help: 'csv or json (default json)' },
    output: { type: 'string', value: 'FILE', help: 'write to FILE (mode 0600) instead of stdout' },
    ...LIST_FILTER_OPTIONS,
  },

  async run(context) {
    const format = stringOption(context.options, 'format') ?? 'json';
    const query = { ...listFilterQuery(context.options), format };
    const result = await callApi(this.usage, () => context.client().requestText('GET', '/api/suppressions/export', { query }));
    const text = format === 'json' ? `${JSON.stringify(result.body, null, 2)}\n` : result.text;
    const output = stringOption(context.options, 'output');
    if (output === undefined) {
      context.io.stdout.write(text);
      return EXIT_OK;
    }
    try {
      writeFileSync(output, text, { mode: 0o600 });
    } catch (error) {
      throw new CommandError(`cannot write ${output}: ${error instanceof Error ? error.message : String(error)}`);
    }
    context.io.stderr.write(`wrote the suppression list to ${output}\n`);
    return EXIT_OK;
  },
};

/** `bouncegate suppress import`: POST /api/suppressions/import with a CSV or JSON file. */
export const suppressImportCommand: CommandSpec = {
  name: 'suppress import',
  usage: 'suppress import FILE [--format csv|json] [--json]',
  summary: 'add or replace entries from a CSV or JSON file (as written by suppress export)',
  positionals: ['FILE'],
  options: {
    format: { type: 'string', value: 'FORMAT', help: 'csv or json (default: from the file name, .csv is CSV)' },
    json: JSON_OPTION,
  },

  async run(context) {
    const file = context.positionals[0] ?? '';
    const format = stringOption(context.options, 'format') ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'json');
    if (format !== 'csv' && format !== 'json') {
      throw new UsageError(`invalid --format "${format}": expected csv or json`, this.usage);
    }
    let body: string;
    try {
      body = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CommandError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }

    let result: { imported: number; added: number; replaced: number };
    try {
      const response = await context.client().requestText('POST', '/api/suppressions/import', {
        query: { format, actor: cliActor(context.io) },
        body,
        contentType: format === 'csv' ? 'text/csv' : 'application/json',
        accept: 'application/json',
      });
      result = response.body as typeof result;
    } catch (error) {
      if (error instanceof AdminApiError && error.status === 400) {
        const errors = (error.body as { errors?: string[] } | undefined)?.errors ?? [];
        context.io.stderr.write(`bouncegate: ${error.message}\n${errors.map((line) => `  ${line}\n`).join('')}`);
        return EXIT_FAILURE;
      }
      throw error;
    }
    if (context.options.json === true) {
      printJson(context.io, result);
      return EXIT_OK;
    }
    context.io.stdout.write(`imported ${result.imported} entries: ${result.added} added, ${result.replaced} replaced\n`);
    return EXIT_OK;
  },
};

/** `bouncegate suppress confirm`: POST /api/suppressions/{address}/confirm. */
export const suppressConfirmCommand: CommandSpec = {
  name: 'suppress confirm',
  usage: 'suppress confirm ADDRESS [--note TEXT] [--json]',
  summary: 'confirm a pending entry, so it blocks mail to the address',
  positionals: ['ADDRESS'],
  options: {
    note: { type: 'string', value: 'TEXT', help: 'why the entry is confirmed; kept in the audit trail' },
    json: JSON_OPTION,
  },

  async run(context) {
    const address = context.positionals[0] ?? '';
    const body = { note: stringOption(context.options, 'note'), actor: cliActor(context.io) };
    const entry = await callApi(this.usage, () =>
      context.client().send<SuppressionEntry>('POST', `/api/suppressions/${encodeURIComponent(address)}/confirm`, body),
    ).catch(reviewFailure(address));
    if (context.options.json === true) {
      printJson(context.io, entry);
      return EXIT_OK;
    }
    context.io.stdout.write(`confirmed ${entry.address}: it now blocks mail (reason ${entry.reason})\n`);
    return EXIT_OK;
  },
};

/** `bouncegate suppress discard`: POST /api/suppressions/{address}/discard with the required note. */
export const suppressDiscardCommand: CommandSpec = {
  name: 'suppress discard',
  usage: 'suppress discard ADDRESS --note TEXT [--json]',
  summary: 'discard a pending entry, stating why the failure is no reason to suppress',
  positionals: ['ADDRESS'],
  required: { note: '--note is required: say why the failure is no reason to suppress, e.g. --note "one-off outage at the recipient"' },
  options: {
    note: { type: 'string', value: 'TEXT', help: 'why the entry is discarded; kept in the audit trail' },
    json: JSON_OPTION,
  },

  async run(context) {
    const address = context.positionals[0] ?? '';
    const body = { note: stringOption(context.options, 'note'), actor: cliActor(context.io) };
    const entry = await callApi(this.usage, () =>
      context.client().send<SuppressionEntry>('POST', `/api/suppressions/${encodeURIComponent(address)}/discard`, body),
    ).catch(reviewFailure(address));
    if (context.options.json === true) {
      printJson(context.io, entry);
      return EXIT_OK;
    }
    context.io.stdout.write(`discarded the pending entry of ${entry.address}\n`);
    return EXIT_OK;
  },
};

/** `bouncegate suppress audit`: GET /api/audit. */
export const suppressAuditCommand: CommandSpec = {
  name: 'suppress audit',
  usage: 'suppress audit [--since TIME] [--limit N] [--before CURSOR] [--json]',
  summary: 'list changes to the whole suppression list, newest first',
  positionals: [],
  options: {
    since: { type: 'string', value: 'TIME', help: 'changes at or after TIME: ISO-8601, ms since the epoch, or a span back (24h, 7d)' },
    limit: { type: 'string', value: 'N', help: 'at most N changes, 1 to 1000 (default 100)' },
    before: { type: 'string', value: 'CURSOR', help: 'the next page: changes older than the cursor' },
    json: JSON_OPTION,
  },

  async run(context) {
    const query = {
      since: absoluteTime('since', stringOption(context.options, 'since'), this.usage),
      limit: stringOption(context.options, 'limit'),
      before: stringOption(context.options, 'before'),
    };
    const page = await callApi(this.usage, () => context.client().get<{ audit: AuditEntry[]; next: string | null }>('/api/audit', query));
    if (context.options.json === true) {
      printJson(context.io, page);
      return EXIT_OK;
    }
    if (page.audit.length === 0) {
      context.io.stdout.write('no changes match\n');
      return EXIT_OK;
    }
    const rows = page.audit.map((entry) => [entry.time, entry.change, entry.address, entry.actor, orDash(entry.reason), orDash(entry.note)]);
    context.io.stdout.write(formatTable(['TIME', 'CHANGE', 'ADDRESS', 'ACTOR', 'REASON', 'NOTE'], rows));
    if (page.next !== null) {
      context.io.stdout.write(`more changes: repeat with --before ${page.next}\n`);
    }
    return EXIT_OK;
  },
};

function reviewFailure(address: string) {
  return (error: unknown): never => {
    if (error instanceof AdminApiError && error.status === 404) {
      throw new CommandError(`${address} is not on the suppression list`);
    }
    if (error instanceof AdminApiError && error.status === 409) {
      throw new CommandError(error.message);
    }
    throw error;
  };
}
