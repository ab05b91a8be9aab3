import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The `vector <name>: <hex>` lines of PROTOCOL.md §7, so tests check the code against the
 * written protocol itself. Spaces in the hex only separate fields.
 */
export function protocolVectors(): Map<string, string> {
  const doc = readFileSync(join(__dirname, '..', '..', 'PROTOCOL.md'), 'utf8');
  const vectors = new Map<string, string>();
  for (const match of doc.matchAll(/^vector ([a-z0-9-]+): ([0-9a-f ]+)$/gm)) {
    if (vectors.has(match[1])) throw new Error(`PROTOCOL.md: vector ${match[1]} appears twice`);
    vectors.set(match[1], match[2].trim());
  }
  return vectors;
}

/** One vector's hex without the separating spaces; throws naming the vector when it is missing. */
export function protocolVector(name: string): string {
  const hex = protocolVectors().get(name);
  if (hex === undefined) throw new Error(`PROTOCOL.md has no vector ${name}`);
  return hex.replace(/ /g, '');
}
