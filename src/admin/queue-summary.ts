import { domainOf } from '../core/address.js';
import { normalizeReplyText } from '../core/normalize-text.js';
import type { MessageRecord, QueueStore, RecipientRecord } from '../store/queue.js';

/** Groups returned by GET /api/queue/summary at most, busiest first. */
export const MAX_SUMMARY_GROUPS = 500;

/** Waiting recipients of one recipient domain and last MX host. */
export interface QueueGroup {
  domain: string;
  /** MX host of the last attempt; null before the first attempt or after a DNS failure. */
  lastMx: string | null;
  recipients: number;
  messages: number;
  held: number;
  /** ISO-8601 UTC acceptance time of the oldest message in the group. */
  oldestReceivedAt: string | null;
  /** ISO-8601 UTC time of the soonest attempt; null when every recipient is held. */
  nextAttemptAt: string | null;
  /** The most common last reply (normalised), with an exact sample and how many recipients got it. */
  topReply: { text: string; sample: string; code: number | null; enhancedCode: string; count: number } | null;
}

interface Accumulator {
  domain: string;
  lastMx: string | null;
  recipients: number;
  messages: Set<string>;
  held: number;
  oldest: string | null;
  next: number | null;
  replies: Map<string, { sample: string; code: number | null; enhancedCode: string; count: number }>;
}

/**
 * Groups every waiting recipient (due and held) by recipient domain and last MX host, busiest first.
 * NOTE: reads every waiting recipient record, so a queue of millions makes this request slow.
 */
export async function summarizeQueue(queue: QueueStore): Promise<{ groups: QueueGroup[]; recipients: number; truncated: boolean }> {
  const groups = new Map<string, Accumulator>();
  const messages = new Map<string, MessageRecord | null>();
  const seen = new Set<string>();
  let total = 0;

  const add = async (record: RecipientRecord) => {
    const key = `${record.queueId}\u0000${record.index}`;
    if (seen.has(key)) {
      return;
    }
    seen.add(key);
    total += 1;
    let message = messages.get(record.queueId);
    if (message === undefined) {
      message = await queue.getMessage(record.queueId);
      messages.set(record.queueId, message);
    }

    const domain = domainOf(record.recipient);
    const groupKey = `${domain}\u0000${record.lastMx ?? ''}`;
    const group = groups.get(groupKey) ?? {
      domain,
      lastMx: record.lastMx,
      recipients: 0,
      messages: new Set<string>(),
      held: 0,
      oldest: null,
      next: null,
      replies: new Map(),
    };
    group.recipients += 1;
    group.messages.add(record.queueId);
    if (message?.held) {
      group.held += 1;
    }
    if (message && (group.oldest === null || message.receivedAt < group.oldest)) {
      group.oldest = message.receivedAt;
    }
    if (record.nextAttemptAt !== null && !message?.held && (group.next === null || record.nextAttemptAt < group.next)) {
      group.next = record.nextAttemptAt;
    }
    if (record.lastReply) {
      const text = normalizeReplyText(record.lastReply.text);
      const reply = group.replies.get(text) ?? { sample: record.lastReply.text, code: record.lastReply.code, enhancedCode: record.lastReply.enhancedCode, count: 0 };
      reply.count += 1;
      group.replies.set(text, reply);
    }
    groups.set(groupKey, group);
  };

  for await (const record of queue.pending()) {
    await add(record);
  }
  for await (const record of queue.heldRecipients()) {
    await add(record);
  }

  const sorted = [...groups.values()].sort((a, b) => b.recipients - a.recipients || a.domain.localeCompare(b.domain));
  return {
    groups: sorted.slice(0, MAX_SUMMARY_GROUPS).map(toGroup),
    recipients: total,
    truncated: sorted.length > MAX_SUMMARY_GROUPS,
  };
}

function toGroup(group: Accumulator): QueueGroup {
  const top = [...group.replies].sort((a, b) => b[1].count - a[1].count)[0];
  return {
    domain: group.domain,
    lastMx: group.lastMx,
    recipients: group.recipients,
    messages: group.messages.size,
    held: group.held,
    oldestReceivedAt: group.oldest,
    nextAttemptAt: group.next === null ? null : new Date(group.next).toISOString(),
    topReply: top ? { text: top[0], sample: top[1].sample, code: top[1].code, enhancedCode: top[1].enhancedCode, count: top[1].count } : null,
  };
}
