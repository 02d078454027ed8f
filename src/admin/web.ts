import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TextResponse } from './http.js';

/**
 * Content-Security-Policy of the web page: scripts, styles and API calls from this origin only, no
 * inline scripts or styles, no framing, no form posts elsewhere.
 */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'";

/** Files of the web page by URL path, with their content types. They contain no data, so they need no token. */
const ASSETS: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', contentType: 'text/css; charset=utf-8' },
};

/** URL paths of the web page and its assets. */
export const WEB_PATHS: readonly string[] = Object.keys(ASSETS);

/**
 * Reads the web page files once, at server creation. They live in src/admin/web; a build in dist/
 * has no copy, so the source folder next to dist/ is tried second. Returns null when neither exists.
 */
export function loadWebAssets(): Map<string, TextResponse> | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const folder = [join(here, 'web'), join(here, '..', '..', 'src', 'admin', 'web')].find((candidate) => existsSync(join(candidate, 'index.html')));
  if (folder === undefined) {
    return null;
  }
  const assets = new Map<string, TextResponse>();
  for (const [path, { file, contentType }] of Object.entries(ASSETS)) {
    assets.set(path, {
      kind: 'text',
      status: 200,
      contentType,
      body: readFileSync(join(folder, file)),
      headers: {
        'Content-Security-Policy': PAGE_CSP,
        'X-Frame-Options': 'DENY',
        'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Opener-Policy': 'same-origin',
      },
    });
  }
  return assets;
}
