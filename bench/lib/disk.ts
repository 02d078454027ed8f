import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Returns the total size in bytes of the files under a folder. */
export function folderBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      total += folderBytes(child);
    } else if (entry.isFile()) {
      total += statSync(child).size;
    }
  }
  return total;
}
