/**
 * Finding the SMTP reply code (RFC 5321 §4.2) and enhanced status code (RFC 3463) that a bounce quotes
 * inside free text such as "host mx.example.org said: 550 5.1.1 <a@b>: User unknown".
 */

// A reply code followed by an enhanced code ("550 5.1.1", "550-5.7.26", "550-'5.2.2", "452 #4.3.0").
const CODE_PAIR = /(?<![\d.])([245]\d\d)[ -]['"]?#?([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/g;

// An enhanced code on its own. The guards keep the parts of IP addresses ("192.0.2.25") and of longer
// dotted numbers ("4.16.55.1") out.
const ENHANCED_ALONE = /(?<![\d.])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/;

// Places where a notice quotes a reply code without an enhanced code.
const QUOTED_CODE: readonly RegExp[] = [
  /^\s*[[(<'"]?([245]\d\d)(?=[\s\-:;,.\])'"]|$)/,
  /(?:said|returned|replied|responded with failure|error message|reason|server message|returned was|error_code|error)\s*:?\s*[[(<'"]*([245]\d\d)(?=[\s\-:;,.\])'"]|$)/i,
  /<<<\s*([245]\d\d)\b/,
  /\]:\s*([245]\d\d)(?=[\s\-:;,.]|$)/,
  /:\s+([245]\d\d)(?=[ -][A-Za-z])/,
];

/** The codes found in one explanation. */
export interface QuotedCodes {
  replyCode: number | null;
  enhancedCode: string | null;
}

/**
 * Finds the reply code and enhanced code an explanation quotes. When a relay quotes the remote
 * server's reply inside its own ("554 4.4.7 Message expired ... <421 4.4.2 Connection timed out>"),
 * the last code pair is the remote server's and wins.
 */
export function findQuotedCodes(text: string): QuotedCodes {
  let lastPair: RegExpMatchArray | null = null;
  for (const match of text.matchAll(CODE_PAIR)) {
    lastPair = match;
  }
  if (lastPair) {
    return {
      replyCode: Number(lastPair[1]),
      enhancedCode: `${lastPair[2]}.${Number(lastPair[3])}.${Number(lastPair[4])}`,
    };
  }

  const alone = ENHANCED_ALONE.exec(text);
  return {
    replyCode: quotedReplyCode(text),
    enhancedCode: alone ? `${alone[1]}.${Number(alone[2])}.${Number(alone[3])}` : null,
  };
}

function quotedReplyCode(text: string): number | null {
  for (const pattern of QUOTED_CODE) {
    const match = pattern.exec(text);
    if (match) {
      return Number(match[1]);
    }
  }
  return null;
}

// Phrases that name the SMTP command that drew a reply, by MTA: Postfix ("in reply to RCPT TO
// command"), sendmail and Courier transcripts (">>> DATA"), Exim ("after RCPT TO:"), DragonFly ("did
// not like our final DATA"), and others ("(DATA)", "Sent <<< RCPT TO:").
const COMMAND_MENTIONS: readonly { pattern: RegExp; command: string }[] = [
  { pattern: /in reply to (?:end of )?data\b|after end of data|our final data|>>> data\b|\(data\)|after data\b/i, command: 'end of DATA' },
  { pattern: /in reply to rcpt to|after rcpt to|our rcpt to|>>> rcpt to|<<< rcpt to|\(rcpt to\)|progress was rcpt to|rcpt to:\s*<[^>]*>\s*$/im, command: 'RCPT TO' },
  { pattern: /in reply to mail from|after mail from|our mail from|>>> mail from|\(mail from\)/i, command: 'MAIL FROM' },
  { pattern: /in reply to (?:helo|ehlo)|after (?:helo|ehlo)|>>> (?:helo|ehlo)|greeting|initial connection/i, command: 'HELO' },
];

/** Matches a text that already names the SMTP command that drew its reply. */
export const NAMES_COMMAND = /in reply to (?:rcpt to|mail from|(?:end of )?data|helo|ehlo)/i;

/**
 * Returns the SMTP command that drew a recipient's reply, as the notice text around it names it, in
 * the form "in reply to RCPT TO command", or null. The first text that names a command decides.
 */
export function findCommandContext(texts: readonly string[]): string | null {
  for (const text of texts) {
    for (const { pattern, command } of COMMAND_MENTIONS) {
      if (pattern.test(text)) {
        return `in reply to ${command} command`;
      }
    }
  }
  return null;
}
