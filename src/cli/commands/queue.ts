import type { QueueItem } from '../../admin/queue-routes.js';
import { AdminApiError } from '../admin-client.js';
import { CommandError, EXIT_OK } from './io.js';
import { callApi, printJson } from './output.js';
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

function queueRow(item: QueueItem): string[] {
  const status = item.held ? `${item.status} (held)` : item.status;
  const reply = item.lastReply ? firstLine(item.lastReply.text) : '-';
  return [item.queueId, item.recipient, status, String(item.attempts), orDash(item.nextAttemptAt), orDash(item.lastMx), reply];
}
