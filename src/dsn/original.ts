import { parseHeaderBlock } from './fields.js';

/** Header that the relay adds to outgoing mail so a bounce can be traced back to its queue entry. */
export const QUEUE_ID_HEADER = 'x-bouncegate-queue-id';

/** Most header fields read from a returned original message. */
const MAX_RETURNED_FIELDS = 200;

/** The facts a bounce gives about the message it returns. */
export interface ReturnedMessage {
  headers: Record<string, string>;
  messageId: string | null;
  queueId: string | null;
}

/**
 * Reads the headers of the returned original message from the first source that has any: attached
 * parts (message/rfc822, text/rfc822-headers, message/global-headers), the inline copy after the
 * notice, or a part marker in the raw body when the MIME structure is broken.
 */
export function readReturnedMessage(sources: readonly (string | null)[], rawBody: string): ReturnedMessage {
  for (const source of sources) {
    if (source === null || source.trim() === '') {
      continue;
    }
    const headers = parseHeaderBlock(source, MAX_RETURNED_FIELDS);
    if (Object.keys(headers).length > 0 && looksLikeMessageHeaders(headers)) {
      return {
        headers,
        messageId: messageIdOf(headers['message-id']) ?? lastFieldInBody(rawBody, 'message-id'),
        queueId: headers[QUEUE_ID_HEADER]?.trim() || lastFieldInBody(rawBody, QUEUE_ID_HEADER),
      };
    }
  }
  return { headers: {}, messageId: lastFieldInBody(rawBody, 'message-id'), queueId: lastFieldInBody(rawBody, QUEUE_ID_HEADER) };
}

/**
 * Finds the headers that follow a message/rfc822, text/rfc822-headers or message/global-headers part
 * header in a raw body whose MIME boundaries did not parse.
 */
export function returnedPartInRawBody(body: string): string | null {
  const marker = /^content-type:[ \t]*(?:message\/rfc822|text\/rfc822-headers|message\/global-headers)\b[^\n]*\n/im.exec(body);
  if (!marker) {
    return null;
  }
  // Skip the rest of the part's header lines up to the first empty line. A line scan, because a
  // regular expression for "non-empty lines, then an empty one" backtracks exponentially when no
  // empty line follows.
  let position = marker.index + marker[0].length;
  while (position < body.length) {
    const end = body.indexOf('\n', position);
    if (end < 0) {
      return null;
    }
    const line = body.slice(position, end);
    position = end + 1;
    if (line.trim() === '') {
      return body.slice(position);
    }
  }
  return null;
}

/**
 * Finds the last line of the body that starts with a header field name, for returned headers quoted
 * in a shape the block reader does not recognise.
 */
// NOTE: when the returned message itself quotes other messages, the last Message-ID line may be one of
// theirs. This fallback runs only when no returned header block was found.
function lastFieldInBody(body: string, name: string): string | null {
  const pattern = new RegExp(`^[ \\t]*${name}[ \\t]*:[ \\t]*(\\S[^\\r\\n]*)`, 'gim');
  let last: string | null = null;
  for (const match of body.matchAll(pattern)) {
    last = match[1] ?? null;
  }
  if (last === null) {
    return null;
  }
  return name === 'message-id' ? messageIdOf(last) : last.trim();
}

function looksLikeMessageHeaders(headers: Record<string, string>): boolean {
  return ['message-id', 'from', 'to', 'subject', 'date', 'received', 'return-path', QUEUE_ID_HEADER].some((name) => name in headers);
}

function messageIdOf(value: string | undefined): string | null {
  if (value === undefined) {
    return null;
  }
  const bracketed = /<([^<>\s]+)>/.exec(value);
  const id = bracketed ? bracketed[1] : value.trim().split(/\s+/)[0];
  return id ? id : null;
}
