/**
 * Signals that tell a bounce from an auto-reply, a feedback report and ordinary mail. A message with a
 * delivery-status part is a bounce whatever else it contains, so these signals only decide for
 * messages without one.
 */

/** The header facts of a message that the detectors use. */
export interface MessageSignals {
  fromAddress: string | null;
  fromName: string;
  subject: string;
  /** Whether Return-Path is the null path "<>" (RFC 5321 §4.5.5: notifications are sent with it). */
  nullReturnPath: boolean;
  /** Auto-Submitted value (RFC 3834), lowercased, or null. */
  autoSubmitted: string | null;
  /** Lowercased names of every top-level header field. */
  headerNames: ReadonlySet<string>;
  precedence: string | null;
}

const DAEMON_SENDER = /^(?:mailer-daemon|mailerdaemon|mail-daemon|postmaster|post_master|poostmaster|bounce|bounces|mdaemon|mail\.delivery\.system)@/i;
const DAEMON_NAME = /mailer-daemon|mail delivery|postmaster|delivery (status|system|subsystem)|ndr administrator|interscan|mail system|mail deliver/i;
const BOUNCE_SUBJECT =
  /undeliver|undelivered|returned mail|returning message|delivery (status|failure|failed|notification|report|has failed|problem)|failure notice|mail delivery|non-?delivery|not delivered|could not be delivered|could not send|error sending|message you sent|delivery fail|mail system error|loop alert|配信|不達|エラー|недостав|не доставлено|unzustellbar|non remis|no entregado/i;
const BOUNCE_NOTICE =
  /could not be delivered|couldn't be delivered|undeliverable|delivery (has )?failed|failed permanently|permanent (fatal )?error|unable to deliver|not be delivered|wasn't able to deliver|delivery to the following|did not reach|could not deliver|error (delivering|sending)|rejected by|delivery errors|not delivered|delivery failure|failed for the following reason|the following address(es)? failed|message could not|were affected|could not send mail|配信できません|送信できません|送信に失敗|не может быть доставлено|не доставлено/i;
const AUTOREPLY_SUBJECT = /out of (the )?office|auto(matic)?[ -]?(reply|response|antwort)|^auto:|vacation|absence|abwesen|autoreply|away from/i;

/** Checks whether the headers alone mark the message as a delivery failure notification. */
export function hasBounceHeaders(signals: MessageSignals): boolean {
  if (signals.headerNames.has('x-failed-recipients')) {
    return true;
  }
  if (signals.fromAddress !== null && DAEMON_SENDER.test(signals.fromAddress)) {
    return true;
  }
  return DAEMON_NAME.test(signals.fromName) || BOUNCE_SUBJECT.test(signals.subject);
}

/** Checks whether the notice text reads like a delivery failure notification. */
export function hasBounceNotice(notice: string): boolean {
  return BOUNCE_NOTICE.test(notice);
}

/**
 * Checks whether a message is an automatic reply (RFC 3834 §5 Auto-Submitted: auto-replied, or the older
 * X-Autoreply, X-Autorespond and Precedence: auto_reply conventions, or an out-of-office subject on
 * a message sent automatically or with the null return path).
 */
export function isAutoReply(signals: MessageSignals): boolean {
  if (signals.autoSubmitted !== null && signals.autoSubmitted.startsWith('auto-replied')) {
    return true;
  }
  if (signals.headerNames.has('x-autoreply') || signals.headerNames.has('x-autorespond') || signals.headerNames.has('x-autoresponder')) {
    return true;
  }
  if (signals.precedence === 'auto_reply') {
    return true;
  }
  const automatic = (signals.autoSubmitted !== null && signals.autoSubmitted !== 'no') || signals.nullReturnPath;
  return automatic && AUTOREPLY_SUBJECT.test(signals.subject);
}
