import { domainOf } from '../core/address.js';

/** Mailbox provider classes used as a metric label; everything else is "other". */
export type DomainClass = 'outlook' | 'gmail' | 'yahoo' | 'icloud' | 'other';

// MX host suffixes of the large providers, e.g. "tenant-com.mail.protection.outlook.com",
// "gmail-smtp-in.l.google.com", "mta5.am0.yahoodns.net", "mx01.mail.icloud.com".
const MX_SUFFIXES: Array<[string, DomainClass]> = [
  ['.outlook.com', 'outlook'],
  ['.hotmail.com', 'outlook'],
  ['.google.com', 'gmail'],
  ['.googlemail.com', 'gmail'],
  ['.yahoodns.net', 'yahoo'],
  ['.yahoo.com', 'yahoo'],
  ['.icloud.com', 'icloud'],
];

const DOMAINS: Record<string, DomainClass> = {
  'outlook.com': 'outlook',
  'hotmail.com': 'outlook',
  'live.com': 'outlook',
  'msn.com': 'outlook',
  'gmail.com': 'gmail',
  'googlemail.com': 'gmail',
  'yahoo.com': 'yahoo',
  'ymail.com': 'yahoo',
  'icloud.com': 'icloud',
  'me.com': 'icloud',
  'mac.com': 'icloud',
};

/**
 * Returns the provider class of a delivery: from the MX host suffix when known, else from the
 * recipient domain. The label has few values, so metric cardinality stays bounded.
 */
export function domainClass(mx: string | null, recipient: string): DomainClass {
  if (mx) {
    let byMx = mxClasses.get(mx);
    if (byMx === undefined) {
      byMx = mxClass(mx);
      // A relay delivers to few MX hosts, and the metrics look up the class of every event's host.
      if (mxClasses.size >= MX_CLASS_CACHE_SIZE) {
        mxClasses.clear();
      }
      mxClasses.set(mx, byMx);
    }
    if (byMx !== null) {
      return byMx;
    }
  }
  return DOMAINS[domainOf(recipient)] ?? 'other';
}

const MX_CLASS_CACHE_SIZE = 10_000;
const mxClasses = new Map<string, DomainClass | null>();

/** Returns the provider class of an MX host from its suffix, or null when no suffix is known. */
function mxClass(mx: string): DomainClass | null {
  const host = `.${mx.toLowerCase().replace(/\.$/, '')}`;
  for (const [suffix, name] of MX_SUFFIXES) {
    if (host.endsWith(suffix)) {
      return name;
    }
  }
  return null;
}
