import type { QueueGroup } from '../../admin/queue-summary.js';
import type { QueueItem } from '../../admin/queue-routes.js';
import type { QueueActionResult } from '../../queue/control.js';
import { AdminApiError } from '../admin-client.js';
import { CommandError, EXIT_OK, type CliIo } from './io.js';
import { callApi, cliActor, printJson } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import { firstLine, formatTable, orDash } from './table.js';

/** `bouncegate queue`: GET /api/queue, the recipients still waiting for delivery. */
export const queueListCommand: CommandSpec = {
  name: 'queue',
  usage: 'queue [--limit N] [--json]',
  summary: 'list recipients waiting for delivery: why they wait and when they are tried next',
  positionals: [],
  options: {
    limit: { type: 'string', value: 'N', help: 'at most N recipients, 1 to 10000 (default 1000)' },
    json: JSON_OPTION,
  },

  async run(context) {
    const query = { limit: stringOption(context.options, 'limit') };
    const listing = await callApi(this.usage, () => context.client().listQueue(query));
    if (context.options.json === true) {
      printJson(context.io, listing);
      return EXIT_OK;
    }

    if (listing.total === 0) {
      context.io.stdout.write('the queue is empty\n');
      return EXIT_OK;
    }
    const headers = ['QUEUE ID', 'RECIPIENT', 'STATUS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST MX', 'LAST REPLY'];
    context.io.stdout.write(formatTable(headers, listing.queue.map(queueRow)));
    context.io.stdout.write(`${listing.queue.length} of ${listing.total} waiting recipients shown\n`);
    return EXIT_OK;
  },
};

/** `bouncegate queue retry`: POST /api/queue/{queueId}/retry. */
export const queueRetryCommand: CommandSpec = {
  name: 'queue retry',
  usage: 'queue retry QUEUE_ID [--json]',
  summary: 'try every unfinished recipient of a queued message now',
  positionals: ['QUEUE_ID'],
  options: { json: JSON_OPTION },

  async run(context) {
    const queueId = context.positionals[0] ?? '';
    let result: { queueId: string; scheduled: boolean };
    try {
      result = await callApi(this.usage, () => context.client().retry(queueId));
    } catch (error) {
      if (error instanceof AdminApiError && error.status === 404) {
        throw new CommandError(`queued message ${queueId} not found`);
      }
      if (error instanceof AdminApiError && error.status === 409) {
        throw new CommandError(error.message);
      }
      throw error;
    }

    if (context.options.json === true) {
      printJson(context.io, result);
      return EXIT_OK;
    }
    context.io.stdout.write(`scheduled ${result.queueId} for an immediate attempt\n`);
    return EXIT_OK;
  },
};

/** `bouncegate queue summary`: GET /api/queue/summary. */
export const queueSummaryCommand: CommandSpec = {
  name: 'queue summary',
  usage: 'queue summary [--json]',
  summary: 'group waiting recipients by domain and last MX: counts, oldest, next attempt, most common reply',
  positionals: [],
  options: { json: JSON_OPTION },

  async run(context) {
    const summary = await callApi(this.usage, () =>
      context.client().get<{ groups: QueueGroup[]; recipients: number; truncated: boolean }>('/api/queue/summary'),
    );
    if (context.options.json === true) {
      printJson(context.io, summary);
      return EXIT_OK;
    }
    if (summary.recipients === 0) {
      context.io.stdout.write('the queue is empty\n');
      return EXIT_OK;
    }
    const rows = summary.groups.map((group) => [
      group.domain,
      orDash(group.lastMx),
      String(group.recipients),
      String(group.held),
      orDash(group.oldestReceivedAt),
      orDash(group.nextAttemptAt),
      group.topReply ? `${group.topReply.count}x ${firstLine(group.topReply.sample)}` : '-',
    ]);
    context.io.stdout.write(formatTable(['DOMAIN', 'LAST MX', 'WAITING', 'HELD', 'OLDEST', 'NEXT ATTEMPT', 'MOST COMMON LAST REPLY'], rows));
    return EXIT_OK;
  },
};

/** `bouncegate queue hold`: POST /api/queue/{queueId}/hold. */
export const queueHoldCommand: CommandSpec = queueActionCommand('hold', 'hold a queued message: it is not tried until released', 'held');
/** `bouncegate queue release`: POST /api/queue/{queueId}/release. */
export const queueReleaseCommand: CommandSpec = queueActionCommand('release', 'release a held message; its waiting recipients are tried now', 'released');

/** `bouncegate queue delete`: DELETE /api/queue/{queueId} with the required note. */
export const queueDeleteCommand: CommandSpec = {
  name: 'queue delete',
  usage: 'queue delete QUEUE_ID --note TEXT [--json]',
  summary: 'delete a queued message; its waiting recipients expire with reason deleted-by-operator, no bounce is sent',
  positionals: ['QUEUE_ID'],
  required: { note: '--note is required: say why the message is deleted, e.g. --note "duplicate send"' },
  options: {
    note: { type: 'string', value: 'TEXT', help: 'why the message is deleted; recorded on the events' },
    json: JSON_OPTION,
  },

  async run(context) {
    const queueId = context.positionals[0] ?? '';
    const body = { note: stringOption(context.options, 'note'), actor: cliActor(context.io) };
    const result = await callApi(this.usage, () =>
      context.client().send<QueueActionResult>('DELETE', `/api/queue/${encodeURIComponent(queueId)}`, body),
    ).catch(queueNotFound(queueId));
    return printAction(context.io, result, context.options.json === true, 'deleted');
  },
};

function queueActionCommand(action: 'hold' | 'release', summary: string, verb: string): CommandSpec {
  return {
    name: `queue ${action}`,
    usage: `queue ${action} QUEUE_ID [--json]`,
    summary,
    positionals: ['QUEUE_ID'],
    options: { json: JSON_OPTION },

    async run(context) {
      const queueId = context.positionals[0] ?? '';
      const result = await callApi(this.usage, () =>
        context.client().send<QueueActionResult>('POST', `/api/queue/${encodeURIComponent(queueId)}/${action}`),
      ).catch(queueNotFound(queueId));
      return printAction(context.io, result, context.options.json === true, verb);
    },
  };
}

function printAction(io: CliIo, result: QueueActionResult, json: boolean, verb: string): number {
  if (json) {
    printJson(io, result);
    return EXIT_OK;
  }
  io.stdout.write(`${verb} ${result.queueId} (${result.recipients.length} waiting recipients)\n`);
  return EXIT_OK;
}

function queueNotFound(queueId: string) {
  return (error: unknown): never => {
    if (error instanceof AdminApiError && error.status === 404) {
      throw new CommandError(`queued message ${queueId} not found`);
    }
    if (error instanceof AdminApiError && error.status === 409) {
      throw new CommandError(error.message);
    }
    throw error;
  };
}

function queueRow(item: QueueItem): string[] {
  const status = item.held ? `${item.status} (held)` : item.status;
  const reply = item.lastReply ? firstLine(item.lastReply.text) : '-';
  return [item.queueId, item.recipient, status, String(item.attempts), orDash(item.nextAttemptAt), orDash(item.lastMx), reply];
}
