import { isIP } from 'node:net';
import { createAddressMatcher } from '../config/cidr.js';
import { WebhookUrlError } from './types.js';

/**
 * Link-local and cloud metadata addresses: 169.254.0.0/16 (IPv4 link-local, where AWS, GCP and
 * Azure serve instance metadata at 169.254.169.254), fe80::/10 (IPv6 link-local) and fd00:ec2::254
 * (the AWS metadata service over IPv6). A webhook may point there only when explicitly allowed.
 */
export const LINK_LOCAL_BLOCKS = ['169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254/128'];

/** Longest accepted webhook URL, in characters. */
const MAX_URL_LENGTH = 2048;

const isLinkLocal = createAddressMatcher(LINK_LOCAL_BLOCKS);

/** Checks whether an IP address is link-local or a cloud metadata address. */
export function isLinkLocalAddress(address: string): boolean {
  return isLinkLocal(address);
}

/**
 * Checks a webhook URL: http or https, no credentials, and a host that is not a link-local or
 * metadata address literal unless `allowLinkLocal` is set. Host names are checked again against the
 * addresses they resolve to at each delivery. Returns the normalised URL.
 */
export function checkWebhookUrl(raw: string, allowLinkLocal: boolean): string {
  if (raw.length > MAX_URL_LENGTH) {
    throw new WebhookUrlError(`url is longer than ${MAX_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError(`invalid url "${raw.slice(0, 200)}": expected an absolute http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookUrlError(`invalid url scheme "${url.protocol}": only http:// and https:// URLs are allowed`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new WebhookUrlError('url must not carry a user name or password; the signature authenticates each delivery');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowLinkLocal && isIP(host) !== 0 && isLinkLocalAddress(host)) {
    throw new WebhookUrlError(
      `url host ${host} is a link-local or cloud metadata address; set allowLinkLocal to true to register it anyway`,
    );
  }
  return url.toString();
}
