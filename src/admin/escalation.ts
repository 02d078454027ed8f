import { domainOf } from '../core/address.js';
import type { DeliveryEvent } from '../core/types.js';

/** Sample recipients named in a packet; more would expose addresses the recipient's admin does not need. */
const MAX_SAMPLE_RECIPIENTS = 2;

/** The facts a recipient's mail admin needs to find one rejection in their logs. */
export interface EscalationPacket {
  domain: string;
  /** The exact reply text, every line. */
  bounceText: string;
  code: number | null;
  enhancedCode: string;
  /** ISO-8601 UTC time of the rejection. */
  time: string;
  senderDomain: string;
  envelopeSender: string;
  /** Our sending IP (the event's localIp). */
  sendingIp: string | null;
  remoteMx: string | null;
  remoteIp: string | null;
  sampleRecipients: string[];
  /** The event the packet is built from, and the other events with the same reply text. */
  eventId: string;
  relatedEventIds: string[];
  queueId: string;
  /** The packet as plain text, ready to paste into a message. */
  text: string;
}

/**
 * Builds the escalation packet for a domain from its events: the newest permanent failure (else the
 * newest failure), with up to two recipients that got the same reply text. Returns null when the
 * events hold no failure.
 */
export function buildEscalation(domain: string, events: DeliveryEvent[]): EscalationPacket | null {
  const failures = events
    .filter((event) => event.action === 'bounced' || event.action === 'expired' || event.action === 'deferred')
    .filter((event) => event.stage !== 'submit' && event.stage !== 'queue')
    .sort((a, b) => (a.id < b.id ? 1 : -1));
  const chosen = failures.find((event) => event.permanent) ?? failures[0];
  if (!chosen) {
    return null;
  }

  const same = failures.filter((event) => event.text === chosen.text && event.mx === chosen.mx);
  const samples = [...new Set([chosen.recipient, ...same.map((event) => event.recipient)])].slice(0, MAX_SAMPLE_RECIPIENTS);
  const packet: Omit<EscalationPacket, 'text'> = {
    domain,
    bounceText: chosen.text,
    code: chosen.code,
    enhancedCode: chosen.enhancedCode,
    time: chosen.time,
    senderDomain: domainOf(chosen.sender) || '(null sender)',
    envelopeSender: chosen.sender === '' ? '<>' : chosen.sender,
    sendingIp: chosen.localIp,
    remoteMx: chosen.mx,
    remoteIp: chosen.remoteIp,
    sampleRecipients: samples,
    eventId: chosen.id,
    relatedEventIds: same.map((event) => event.id).filter((id) => id !== chosen.id),
    queueId: chosen.queueId,
  };
  return { ...packet, text: formatEscalation(packet, same.length) };
}

/** Formats a packet as a plain-text message to the recipient domain's mail administrator. */
export function formatEscalation(packet: Omit<EscalationPacket, 'text'>, occurrences: number): string {
  const time = packet.time.replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC').replace(/Z$/, ' UTC');
  const bounce = packet.bounceText.split('\n').join('\n    ');
  const repeated = occurrences > 1 ? ` The same reply was recorded ${occurrences} times.` : '';
  const lines = [
    `Subject: Mail from ${packet.senderDomain} to ${packet.domain} rejected by your mail server`,
    '',
    'Hello,',
    '',
    `Your mail server rejects mail that we send to addresses at ${packet.domain}.${repeated}`,
    'Details of the most recent rejection, to find it in your logs:',
    '',
    `  Time:             ${time}`,
    `  Reply:            ${bounce}`,
    `  Sender domain:    ${packet.senderDomain}`,
    `  Envelope sender:  ${packet.envelopeSender}`,
    `  Our sending IP:   ${packet.sendingIp ?? 'unknown'}`,
    `  Your MX host:     ${packet.remoteMx ?? 'unknown'}`,
    `  Your MX IP:       ${packet.remoteIp ?? 'unknown'}`,
    `  Recipients:       ${packet.sampleRecipients.join(', ')}`,
    '',
    'Could you check why these recipients are rejected and tell us whether the addresses are valid?',
    'Thank you.',
  ];
  return `${lines.join('\n')}\n`;
}
