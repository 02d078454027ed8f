import type { Logger } from 'pino';
import { domainOf, normalizeAddress } from '../core/address.js';
import type { Classifier } from '../core/classification.js';
import type { Action, DeliveryEvent } from '../core/types.js';
import { parseVerpAddress, type VerpTarget } from '../core/verp.js';
import type { Config } from '../config/schema.js';
import { dsnIngested, dsnRecipients } from '../metrics/dsn.js';
import type { EventStore, NewEvent } from '../store/events.js';
import type { MessageIdIndex } from '../store/message-index.js';
import type { MessageRecord, QueueStore } from '../store/queue.js';
import type { SuppressionStore } from '../store/suppressions.js';
import type { GuardAlert, SuppressionGuard } from '../suppression/guard.js';
import { parseDsn } from './parse.js';
import type { DsnKind, ParsedBounce } from './types.js';

/** Dependencies of bounce recording. */
export interface DsnIngestDeps {
  config: Config;
  logger: Logger;
  classifier: Classifier;
  queue: QueueStore;
  events: EventStore;
  suppressions: SuppressionStore;
  messageIndex: MessageIdIndex;
  guard?: SuppressionGuard;
  onAlert?: (alert: GuardAlert) => void;
  verpSecret?: string;
}

/** The method that matched a bounce to the message it reports on. */
export type Correlation = 'verp' | 'queue-id' | 'message-id' | 'none';

/** The outcome of recording one bounce message. */
export interface DsnIngestResult {
  kind: DsnKind;
  correlation: Correlation;
  queueId: string | null;
  events: DeliveryEvent[];
  /** Addresses that went on the suppression list (active or pending). */
  suppressed: string[];
}

/**
 * Parses an asynchronous bounce and records one `stage: "dsn"` event per reported recipient, then
 * applies the suppression policy of delivery-time failures. A bounce is matched to our message by its
 * VERP return path (verified HMAC), else by the X-Bouncegate-Queue-Id or Message-ID of the returned
 * headers. Only a recipient of the matched message can be suppressed, so a forged bounce cannot put an
 * arbitrary address on the list. Unmatched bounces are recorded without suppressing anyone.
 * Auto-replies and feedback reports are logged and never recorded as failures.
 */
export async function ingestDsn(raw: Buffer, envelopeRecipients: readonly string[], deps: DsnIngestDeps): Promise<DsnIngestResult> {
  let parsed;
  try {
    parsed = await parseDsn(raw, deps.classifier);
  } catch (error) {
    dsnIngested.inc({ result: 'invalid' });
    throw error;
  }
  const log = deps.logger.child({ component: 'dsn' });
  if (parsed.kind === 'autoreply' || parsed.kind === 'feedback' || parsed.bounces.length === 0) {
    dsnIngested.inc({ result: 'ignored' });
    log.info({ kind: parsed.kind, originalMessageId: parsed.originalMessageId }, 'message on the bounce path is not a failure report; nothing recorded');
    return { kind: parsed.kind, correlation: 'none', queueId: null, events: [], suppressed: [] };
  }

  const { message, correlation, verp } = await correlate(parsed.originalQueueId, parsed.originalMessageId, envelopeRecipients, deps);
  const normalize = { caseSensitiveLocalPart: deps.config.suppression.caseSensitiveLocalPart };
  const recipients = message ? new Map(message.recipients.map((address, index) => [normalizeAddress(address, normalize), index])) : new Map<string, number>();
  const now = new Date().toISOString();
  const events: NewEvent[] = [];
  const suppressed: string[] = [];

  for (const bounce of parsed.bounces) {
    const verpRecipient = verp && message ? message.recipients[verp.index] : undefined;
    const recipient = verpRecipient ?? bounce.recipient;
    const matched = verpRecipient !== undefined || (message !== null && recipients.has(normalizeAddress(recipient, normalize)));
    const action = actionOf(bounce);
    const suppress = matched && action === 'bounced' && bounce.suppress && mayOriginateSuppression(correlation, message, deps.config);
    const status = suppress ? await suppressFromDsn(recipient, bounce, message, deps) : null;
    if (status) {
      suppressed.push(recipient);
    }

    events.push({
      time: now,
      queueId: message?.queueId ?? '',
      messageId: message?.messageId ?? (parsed.originalMessageId ? `<${parsed.originalMessageId}>` : null),
      sender: message?.sender ?? '',
      recipient,
      stage: 'dsn',
      mx: bounce.remoteMta ?? parsed.reportingMta,
      remoteIp: null,
      remotePort: null,
      localIp: null,
      tls: null,
      code: bounce.replycode,
      enhancedCode: bounce.status ?? '',
      text: bounce.diagnostic,
      attempt: 0,
      permanent: bounce.permanent,
      reason: bounce.reason,
      action,
      source: message?.source ?? null,
      campaign: message?.campaign ?? null,
      side: null,
      rule: bounce.rule,
      suppressed: status !== null,
    });
    log.info(
      { queueId: message?.queueId ?? null, correlation, recipient, status: bounce.status, reason: bounce.reason, action, suppressed: status },
      matched ? 'bounce recorded' : 'bounce recorded without a matching recipient; not suppressed',
    );
  }

  const stored = await deps.events.append(events);
  dsnIngested.inc({ result: 'recorded' });
  for (const event of stored) {
    dsnRecipients.inc({ action: event.action });
  }
  return { kind: parsed.kind, correlation, queueId: message?.queueId ?? null, events: stored, suppressed };
}

/**
 * Decides whether a matched bounce may suppress. Every recipient of a message receives its Message-ID
 * and queue id, so one recipient could forge a bounce naming another. With VERP on, only a verified
 * VERP match suppresses. Without VERP, a queue-id or Message-ID match suppresses only for a message
 * with a single recipient, whose only reader is the address the bounce names.
 */
function mayOriginateSuppression(correlation: Correlation, message: MessageRecord | null, config: Config): boolean {
  if (correlation === 'verp') {
    return true;
  }
  if (config.bounce.verp) {
    return false;
  }
  return message !== null && message.recipients.length === 1;
}

async function correlate(
  originalQueueId: string | null,
  originalMessageId: string | null,
  envelopeRecipients: readonly string[],
  deps: DsnIngestDeps,
): Promise<{ message: MessageRecord | null; correlation: Correlation; verp: VerpTarget | null }> {
  const { bounce } = deps.config;
  if (bounce.domain && deps.verpSecret) {
    for (const address of envelopeRecipients) {
      const target = parseVerpAddress(address, bounce.domain, deps.verpSecret);
      const message = target ? await deps.queue.getMessage(target.queueId) : null;
      if (target && message && message.recipients[target.index] !== undefined) {
        return { message, correlation: 'verp', verp: target };
      }
    }
  }
  if (originalQueueId) {
    const message = await deps.queue.getMessage(originalQueueId);
    if (message) {
      return { message, correlation: 'queue-id', verp: null };
    }
  }
  if (originalMessageId) {
    const queueId = await deps.messageIndex.lookup(originalMessageId);
    const message = queueId ? await deps.queue.getMessage(queueId) : null;
    if (message) {
      return { message, correlation: 'message-id', verp: null };
    }
  }
  return { message: null, correlation: 'none', verp: null };
}

function actionOf(bounce: ParsedBounce): Action {
  if (bounce.action === 'delivered' || bounce.action === 'relayed' || bounce.action === 'expanded') {
    return 'delivered';
  }
  if (bounce.action === 'delayed' || !bounce.permanent) {
    return 'deferred';
  }
  return 'bounced';
}

async function suppressFromDsn(
  recipient: string,
  bounce: ParsedBounce,
  message: MessageRecord | null,
  deps: DsnIngestDeps,
): Promise<'active' | 'pending'> {
  const mx = bounce.remoteMta;
  const guarded = deps.guard?.noteSuppressingFailure({ mx, domain: domainOf(recipient), recipient, text: bounce.diagnostic });
  if (guarded?.alert) {
    deps.logger.error({ ...guarded.alert, recipients: guarded.alert.recipients.length }, 'mass suppression guard tripped by bounces; new suppressions held for review');
    deps.onAlert?.(guarded.alert);
  }
  const status = guarded?.status ?? 'active';
  await deps.suppressions.recordFailure(
    recipient,
    {
      time: isoTime(bounce.lastAttemptDate),
      code: bounce.replycode,
      enhancedCode: bounce.status ?? '',
      text: bounce.diagnostic,
      mx,
      remoteIp: null,
      queueId: message?.queueId ?? null,
    },
    { reason: bounce.reason, origin: 'dsn', status },
  );
  return status;
}

/** Converts a DSN date (RFC 5322 or ISO) to ISO-8601 UTC; falls back to now when it cannot be read. */
function isoTime(value: string | null): string {
  const parsed = value ? Date.parse(value) : Number.NaN;
  return new Date(Number.isNaN(parsed) ? Date.now() : parsed).toISOString();
}
