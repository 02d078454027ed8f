/** Target false-positive rate of the filter. */
const FALSE_POSITIVE_RATE = 0.01;
/** Smallest capacity in keys, so a small list that grows does not need a rebuild soon. */
const MIN_CAPACITY = 1_000_000;

/**
 * A Bloom filter over strings: `mightContain` is false only for keys never added. It settles the
 * common case of a suppression check (the address is not on the list) without a LevelDB read.
 * Keys cannot be removed, so a removed key stays a false positive until the next rebuild.
 */
export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;
  private readonly hashes: number;
  /** Keys added; past the capacity the false-positive rate rises above its target. */
  private added = 0;
  readonly capacity: number;

  constructor(expectedKeys: number) {
    this.capacity = Math.max(MIN_CAPACITY, Math.ceil(expectedKeys));
    // m = -n ln p / (ln 2)^2 bits and k = (m / n) ln 2 hash functions minimise the false-positive rate.
    const bits = Math.ceil((-this.capacity * Math.log(FALSE_POSITIVE_RATE)) / Math.LN2 ** 2);
    this.size = Math.ceil(bits / 32) * 32;
    this.bits = new Uint32Array(this.size / 32);
    this.hashes = Math.max(1, Math.round((this.size / this.capacity) * Math.LN2));
  }

  add(key: string): void {
    const [first, second] = hashPair(key);
    for (let i = 0; i < this.hashes; i += 1) {
      const bit = (first + i * second) % this.size;
      this.bits[bit >>> 5] = (this.bits[bit >>> 5] ?? 0) | (1 << (bit & 31));
    }
    this.added += 1;
  }

  mightContain(key: string): boolean {
    const [first, second] = hashPair(key);
    for (let i = 0; i < this.hashes; i += 1) {
      const bit = (first + i * second) % this.size;
      if (((this.bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) === 0) {
        return false;
      }
    }
    return true;
  }

  /** Returns whether more keys were added than the filter was sized for. */
  isOverfull(): boolean {
    return this.added > this.capacity;
  }
}

/** Two independent 32-bit FNV-1a hashes (different offset bases) for double hashing. */
function hashPair(key: string): [number, number] {
  let first = 0x811c9dc5;
  let second = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i += 1) {
    const code = key.charCodeAt(i);
    first = Math.imul(first ^ code, 0x01000193);
    second = Math.imul(second ^ code, 0x5bd1e995);
  }
  // An odd step visits distinct bits for each i; keep both non-negative.
  return [first >>> 0, (second | 1) >>> 0];
}
