import { BouncegateError } from '../core/errors.js';
import { parseReply } from '../core/reply.js';
import type { DeliveryEvent, Stage } from '../core/types.js';
import { replayEvents } from '../classify/replay.js';
import { STAGES } from '../classify/rules.js';
import { ApiError, invalidParameter } from './errors.js';
import { collectBody, MAX_BODY_BYTES, readJsonBody } from './http.js';
import { checkParameterNames, enumParameter, integerParameter, stringParameter, timeParameter } from './params.js';
import type { AdminDeps, Route } from './types.js';

/** Events read by one replay at most. */
export const MAX_REPLAY_EVENTS = 200_000;
/** Changed events listed in a replay report at most; the summary counts all of them. */
const MAX_LISTED_CHANGES = 500;
/** Events read per page while replaying. */
const REPLAY_PAGE = 1000;
/** Longest reply text accepted by GET /api/classify, in characters. */
const MAX_REPLY_LENGTH = 8192;

/**
 * Builds the routes for asynchronous bounces and classification: POST /api/dsn, GET /api/classify,
 * POST /api/rules/reload, POST /api/classify/replay and GET /api/alerts.
 */
export function classificationRoutes(deps: AdminDeps): Route[] {
  return [
    {
      pattern: '/api/dsn',
      handlers: {
        POST: async ({ req, query }) => {
          checkParameterNames(query, ['recipient']);
          if (!deps.bounces) {
            throw new ApiError('bounces_unavailable', 'this admin server records no bounces');
          }
          const recipient = stringParameter(query, 'recipient');
          const raw = await collectBody(req, deps.bounces.maxSize);
          if (raw.length === 0) {
            throw invalidParameter('body', 'the body must be the raw bounce message (RFC 5322), e.g. curl --data-binary @bounce.eml');
          }
          try {
            const result = await deps.bounces.ingest(raw, recipient ? [recipient] : []);
            return { status: 200, body: result };
          } catch (error) {
            if (error instanceof BouncegateError && error.code === 'BOUNCEGATE_DSN_INVALID') {
              throw invalidParameter('body', error.message);
            }
            throw error;
          }
        },
      },
    },
    {
      pattern: '/api/classify',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['reply', 'mx', 'stage']);
          const classification = requireClassification(deps);
          const text = stringParameter(query, 'reply');
          if (text === undefined || text.trim() === '' || text.length > MAX_REPLY_LENGTH) {
            throw invalidParameter('reply', `reply is required: the SMTP reply text, at most ${MAX_REPLY_LENGTH} characters`);
          }
          const stage = enumParameter(query, 'stage', STAGES) ?? 'rcpt';
          const mx = stringParameter(query, 'mx') ?? null;
          const reply = parseReply(text.replace(/\\n/g, '\n'), stage as Stage);
          const explained = classification.current.explain(reply, mx);
          return {
            status: 200,
            body: {
              reply: reply.text,
              mx,
              stage,
              code: reply.code,
              enhancedCode: reply.enhancedCode,
              ...explained.classification,
              ruleSource: `${explained.rule.source}${explained.rule.line === null ? '' : `:${explained.rule.line}`}`,
              why: explained.why,
            },
          };
        },
      },
    },
    {
      pattern: '/api/rules/reload',
      handlers: {
        POST: async () => {
          const classification = requireClassification(deps);
          try {
            return { status: 200, body: classification.reload() };
          } catch (error) {
            if (error instanceof BouncegateError && error.code === 'BOUNCEGATE_RULES_INVALID') {
              throw invalidParameter('rules', `${error.message}; the rules in use are unchanged`);
            }
            throw error;
          }
        },
      },
    },
    {
      pattern: '/api/classify/replay',
      handlers: {
        POST: async ({ req, query }) => {
          checkParameterNames(query, ['since', 'until', 'limit', 'domain']);
          const classification = requireClassification(deps);
          const body = (await readJsonBody(req, MAX_BODY_BYTES)) ?? {};
          if (typeof body !== 'object' || body === null || Array.isArray(body)) {
            throw invalidParameter('body', 'the body must be a JSON object such as {"rules": "<YAML rules>"} or {}');
          }
          const rules = (body as Record<string, unknown>).rules;
          if (rules !== undefined && typeof rules !== 'string') {
            throw invalidParameter('rules', 'rules must be a string with YAML rules in the format of config/bounce-rules.yaml');
          }
          let classifier = classification.current;
          if (rules !== undefined) {
            try {
              classifier = classification.candidate(rules);
            } catch (error) {
              if (error instanceof BouncegateError) {
                throw invalidParameter('rules', error.message);
              }
              throw error;
            }
          }
          const limit = integerParameter(query, 'limit', 1, MAX_REPLAY_EVENTS) ?? 50_000;
          const filter = {
            since: timeParameter(query, 'since'),
            until: timeParameter(query, 'until'),
            domain: stringParameter(query, 'domain'),
          };
          const report = await replayEvents(storedEvents(deps, filter, limit), classifier, MAX_LISTED_CHANGES);
          return { status: 200, body: { candidate: rules !== undefined, ...report } };
        },
      },
    },
    {
      pattern: '/api/alerts',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, []);
          return { status: 200, body: { alerts: [...(deps.alerts?.() ?? [])].reverse() } };
        },
      },
    },
  ];
}

function requireClassification(deps: AdminDeps): NonNullable<AdminDeps['classification']> {
  if (!deps.classification) {
    throw new ApiError('classification_unavailable', 'this admin server has no classifier');
  }
  return deps.classification;
}

/** Reads stored events newest first, page by page, up to `limit`. */
async function* storedEvents(
  deps: AdminDeps,
  filter: { since: number | undefined; until: number | undefined; domain: string | undefined },
  limit: number,
): AsyncGenerator<DeliveryEvent> {
  let before: string | undefined;
  let read = 0;
  for (;;) {
    const page = await deps.events.query({
      ...(filter.since === undefined ? {} : { since: filter.since }),
      ...(filter.until === undefined ? {} : { until: filter.until }),
      ...(filter.domain === undefined ? {} : { domain: filter.domain }),
      ...(before === undefined ? {} : { before }),
      limit: Math.min(REPLAY_PAGE, limit - read),
    });
    for (const event of page.events) {
      yield event;
    }
    read += page.events.length;
    if (page.next === null || read >= limit) {
      return;
    }
    before = page.next;
  }
}
