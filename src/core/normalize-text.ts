/**
 * Normalises a reply text so that the same rejection sent for different recipients, from different
 * servers or at different times compares equal: addresses, IP addresses, timestamps, host names in
 * brackets, hex and numeric tokens are replaced by placeholders, and whitespace is collapsed.
 * The reply code and the enhanced status code at the start of each line are kept.
 */
export function normalizeReplyText(text: string): string {
  return text
    .replace(/\r?\n\d{3}[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?/g, ' ')
    .replace(/<?[^\s<>@"]+@[^\s<>@"\]]+>?/g, '<address>')
    .replace(/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '<ip>')
    .replace(/\b(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\b/gi, '<ip>')
    .replace(/\[[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\]]*\]/g, '[<host>]')
    .replace(/\b[0-9A-F]{8,}\b/gi, '<id>')
    .replace(/\b[A-Za-z0-9]*\d[A-Za-z0-9]{6,}\b/g, '<id>')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}
