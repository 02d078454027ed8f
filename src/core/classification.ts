import type { Reply } from './reply.js';
import type { FaultSide } from './types.js';

/** The bounce class of a reply, as the classifier decides it. */
export interface Classification {
  /** Sisimai-style reason name, e.g. "userunknown", "blocked", "mailboxfull". */
  reason: string;
  side: FaultSide;
  /** From the basic code alone: 5xx (or a permanent local failure such as a null MX) is permanent. */
  permanent: boolean;
  /** Whether a permanent failure of this class suppresses the recipient. */
  suppress: boolean;
  /** Name of the rule that matched. */
  rule: string;
}

/** Maps a reply (and the MX host that sent it) to a bounce class. */
export interface Classifier {
  classify(reply: Reply, mx: string | null): Classification;
}
