import { z } from 'zod';
import { MIN_SECRET_LENGTH } from '../webhooks/dispatcher.js';
import { WEBHOOK_EVENT_TYPES, WebhookUrlError, type WebhookService } from '../webhooks/types.js';
import { ApiError, invalidParameter } from './errors.js';
import { decodeSegment, readJsonBody } from './http.js';
import { checkParameterNames } from './params.js';
import type { AdminDeps, Route } from './types.js';

const MAX_SECRET_LENGTH = 256;
const WEBHOOK_ID = /^[0-9a-f-]{36}$/;

const createBodySchema = z
  .object({
    url: z.string({ error: 'url is required: an http:// or https:// URL that receives the events' }).trim().min(1, { error: 'url must not be empty' }),
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `each event type must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }), {
        error: `events is required: a list of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
      })
      .min(1, { error: 'events must name at least one event type' }),
    secret: z
      .string({ error: 'secret must be a string' })
      .min(MIN_SECRET_LENGTH, { error: `secret must be at least ${MIN_SECRET_LENGTH} characters` })
      .max(MAX_SECRET_LENGTH, { error: `secret must be at most ${MAX_SECRET_LENGTH} characters` })
      .optional(),
    allowLinkLocal: z.boolean({ error: 'allowLinkLocal must be true or false' }).optional(),
  })
  .strict();

/** Builds the webhook routes: register, list and remove. */
export function webhookRoutes(deps: AdminDeps): Route[] {
  return [
    {
      pattern: '/api/webhooks',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, []);
          return { status: 200, body: { webhooks: await requireWebhooks(deps).list() } };
        },
        POST: async ({ req, query }) => {
          checkParameterNames(query, []);
          const service = requireWebhooks(deps);
          const parsed = createBodySchema.safeParse((await readJsonBody(req)) ?? {});
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            if (issue?.code === 'unrecognized_keys') {
              throw invalidParameter(issue.keys[0] ?? 'body', `unknown body field "${issue.keys[0] ?? ''}"; allowed: url, events, secret, allowLinkLocal`);
            }
            throw invalidParameter(issue?.path[0]?.toString() || 'body', issue?.message ?? 'invalid body');
          }
          try {
            const { webhook, secret } = await service.create(parsed.data);
            return {
              status: 201,
              body: { ...webhook, secret },
              headers: { Location: `/api/webhooks/${webhook.id}` },
            };
          } catch (error) {
            if (error instanceof WebhookUrlError) {
              throw invalidParameter('url', error.message);
            }
            throw error;
          }
        },
      },
    },
    {
      pattern: '/api/webhooks/:id',
      handlers: {
        DELETE: async ({ params, query }) => {
          checkParameterNames(query, []);
          const id = decodeSegment('id', params.id ?? '');
          if (!WEBHOOK_ID.test(id)) {
            throw invalidParameter('id', `invalid webhook id "${id.slice(0, 100)}": expected the id that POST /api/webhooks returned`);
          }
          if (!(await requireWebhooks(deps).remove(id))) {
            throw new ApiError('not_found', `webhook ${id} not found`);
          }
          return { status: 200, body: { id, removed: true } };
        },
      },
    },
  ];
}

function requireWebhooks(deps: AdminDeps): WebhookService {
  if (!deps.webhooks) {
    throw new ApiError('webhooks_unavailable', 'this admin server runs without the webhook dispatcher');
  }
  return deps.webhooks;
}
