import { AdminApiError, type SuppressionDetail } from '../admin-client.js';
import type { AuditEntry, SuppressionEntry } from '../../store/suppressions.js';
import { CommandError, EXIT_FAILURE, EXIT_OK, type CliIo } from './io.js';
import { callApi, cliActor, printJson } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import {
  LIST_FILTER_OPTIONS,
  listFilterQuery,
  suppressAuditCommand,
  suppressConfirmCommand,
  suppressDiscardCommand,
  suppressExportCommand,
  suppressImportCommand,
} from './suppress-more.js';
import { firstLine, formatFields, formatTable, orDash } from './table.js';

const NOTE_REQUIRED =
  '--note is required: state the fresh signal that justifies sending to this address again, ' +
  'e.g. --note "recipient confirmed by phone that the mailbox works"';

/** `bouncegate suppress list`: GET /api/suppressions. */
export const suppressListCommand: CommandSpec = {
  name: 'suppress list',
  usage:
    'suppress list [--domain DOMAIN] [--reason REASON] [--origin ORIGIN] [--status STATUS] [--older-than AGE] [--newer-than AGE] [--limit N] [--after ADDRESS] [--json]',
  summary: 'list suppressed addresses in address order',
  positionals: [],
  options: {
    ...LIST_FILTER_OPTIONS,
    limit: { type: 'string', value: 'N', help: 'at most N entries, 1 to 1000 (default 100)' },
    after: { type: 'string', value: 'ADDRESS', help: 'the next page: entries that sort after ADDRESS' },
    json: JSON_OPTION,
  },

  async run(context) {
    const query = {
      ...listFilterQuery(context.options),
      limit: stringOption(context.options, 'limit'),
      after: stringOption(context.options, 'after'),
    };
    const page = await callApi(this.usage, () => context.client().listSuppressions(query));
    if (context.options.json === true) {
      printJson(context.io, page);
      return EXIT_OK;
    }

    if (page.suppressions.length === 0) {
      context.io.stdout.write('no suppressed addresses match\n');
      return EXIT_OK;
    }
    const headers = ['ADDRESS', 'STATUS', 'REASON', 'ORIGIN', 'FAILURES', 'UPDATED', 'NOTE'];
    context.io.stdout.write(formatTable(headers, page.suppressions.map(entryRow)));
    if (page.next !== null) {
      context.io.stdout.write(`more entries: repeat with --after ${page.next}\n`);
    }
    return EXIT_OK;
  },
};

/** `bouncegate suppress add`: PUT /api/suppressions/{address}. */
export const suppressAddCommand: CommandSpec = {
  name: 'suppress add',
  usage: 'suppress add ADDRESS --reason REASON [--note TEXT] [--json]',
  summary: 'add an address to the suppression list, or replace its entry',
  positionals: ['ADDRESS'],
  required: { reason: '--reason is required, e.g. --reason userunknown' },
  options: {
    reason: { type: 'string', value: 'REASON', help: 'why mail to the address stops, e.g. userunknown or complaint' },
    note: { type: 'string', value: 'TEXT', help: 'free text kept in the entry and its audit trail' },
    json: JSON_OPTION,
  },

  async run(context) {
    const address = context.positionals[0] ?? '';
    const body = {
      reason: stringOption(context.options, 'reason') ?? '',
      note: stringOption(context.options, 'note') ?? null,
      actor: cliActor(context.io),
    };
    const { entry, created } = await callApi(this.usage, () => context.client().putSuppression(address, body));
    if (context.options.json === true) {
      printJson(context.io, entry);
      return EXIT_OK;
    }
    const verb = created ? 'added' : 'replaced the entry of';
    context.io.stdout.write(`${verb} ${entry.address} on the suppression list (reason ${entry.reason})\n`);
    return EXIT_OK;
  },
};

/** `bouncegate suppress remove`: DELETE /api/suppressions/{address} with the required note. */
export const suppressRemoveCommand: CommandSpec = {
  name: 'suppress remove',
  usage: 'suppress remove ADDRESS --note TEXT [--json]',
  summary: 'remove an address from the suppression list, stating why sending may resume',
  positionals: ['ADDRESS'],
  required: { note: NOTE_REQUIRED },
  options: {
    note: { type: 'string', value: 'TEXT', help: 'the fresh signal that justifies sending again; kept in the audit trail' },
    json: JSON_OPTION,
  },

  async run(context) {
    const address = context.positionals[0] ?? '';
    const body = { note: stringOption(context.options, 'note') ?? '', actor: cliActor(context.io) };
    const removed = await callApi(this.usage, () => context.client().removeSuppression(address, body)).catch(notFound(address));
    if (context.options.json === true) {
      printJson(context.io, removed);
      return EXIT_OK;
    }
    context.io.stdout.write(`removed ${removed.address} from the suppression list (was: ${removed.reason})\n`);
    return EXIT_OK;
  },
};

/** `bouncegate suppress show`: one entry and its audit trail. */
export const suppressShowCommand: CommandSpec = {
  name: 'suppress show',
  usage: 'suppress show ADDRESS [--json]',
  summary: 'show one suppressed address with its failures and audit trail',
  positionals: ['ADDRESS'],
  options: { json: JSON_OPTION },

  async run(context) {
    const address = context.positionals[0] ?? '';
    let detail: SuppressionDetail;
    try {
      detail = await callApi(this.usage, () => context.client().getSuppression(address));
    } catch (error) {
      if (!(error instanceof AdminApiError) || error.status !== 404) {
        throw error;
      }
      return showAbsent(context.io, address, error, context.options.json === true);
    }

    if (context.options.json === true) {
      printJson(context.io, detail);
      return EXIT_OK;
    }
    context.io.stdout.write(formatFields(detailFields(detail)));
    context.io.stdout.write(`\naudit trail:\n${formatAudit(detail.audit)}`);
    return EXIT_OK;
  },
};

/** Every `suppress` subcommand, in the order help lists them. */
export const suppressCommands: CommandSpec[] = [
  suppressListCommand,
  suppressAddCommand,
  suppressRemoveCommand,
  suppressShowCommand,
  suppressImportCommand,
  suppressExportCommand,
  suppressConfirmCommand,
  suppressDiscardCommand,
  suppressAuditCommand,
];

/** Reports an address that is not on the list, with the audit trail of its earlier entries if any. */
function showAbsent(io: CliIo, address: string, error: AdminApiError, json: boolean): number {
  const audit = auditOf(error.body);
  if (json) {
    printJson(io, error.body);
    return EXIT_FAILURE;
  }
  io.stderr.write(`bouncegate: ${error.message}\n`);
  if (audit.length > 0) {
    io.stdout.write(`${address} was on the list before; audit trail:\n${formatAudit(audit)}`);
  }
  return EXIT_FAILURE;
}

function notFound(address: string) {
  return (error: unknown): never => {
    if (error instanceof AdminApiError && error.status === 404) {
      throw new CommandError(`${address} is not on the suppression list; nothing removed`);
    }
    throw error;
  };
}

function entryRow(entry: SuppressionEntry): string[] {
  return [entry.address, entry.status, entry.reason, entry.origin, String(entry.count), entry.updatedAt, orDash(entry.note)];
}

function detailFields(detail: SuppressionDetail): Array<[string, string]> {
  return [
    ['address', detail.address],
    ['status', detail.status],
    ['reason', detail.reason],
    ['origin', detail.origin],
    ['failures', String(detail.count)],
    ['created', detail.createdAt],
    ['updated', detail.updatedAt],
    ['note', orDash(detail.note)],
    ['first failure', describeFailure(detail.first)],
    ['last failure', describeFailure(detail.last)],
  ];
}

function describeFailure(failure: SuppressionEntry['first']): string {
  const code = [failure.code ?? '', failure.enhancedCode].filter((part) => part !== '').join(' ');
  const parts = [failure.time, code, failure.mx ? `from ${failure.mx}` : '', firstLine(failure.text)];
  return parts.filter((part) => part !== '').join('  ');
}

function formatAudit(audit: AuditEntry[]): string {
  if (audit.length === 0) {
    return '(empty)\n';
  }
  const rows = audit.map((entry) => [entry.time, entry.change, entry.actor, orDash(entry.reason), orDash(entry.note)]);
  return formatTable(['TIME', 'CHANGE', 'ACTOR', 'REASON', 'NOTE'], rows);
}

function auditOf(body: unknown): AuditEntry[] {
  if (typeof body !== 'object' || body === null || !('audit' in body) || !Array.isArray(body.audit)) {
    return [];
  }
  return body.audit as AuditEntry[];
}
