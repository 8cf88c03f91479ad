import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford's base 32: sorts as text in time order
/** Random bytes drawn 4 KB at a time: one call into OpenSSL per ~400 milliseconds that see an id, not one each. */
const POOL = Buffer.alloc(4096);
let pooled = POOL.length;
let lastTime = -1;
let timePart = '';
const random = new Uint8Array(10);

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, 26 characters. Unique across processes, and ordered by
 * creation time as plain strings (so a store's primary key doubles as its FIFO order). Within one millisecond
 * the random part counts up, keeping ids of one process strictly increasing.
 */
export function newJobId(now = Date.now()): string {
  if (now > lastTime) {
    lastTime = now;
    timePart = encodeTime(now);
    if (pooled + 10 > POOL.length) {
      randomFillSync(POOL);
      pooled = 0;
    }
    random.set(POOL.subarray(pooled, pooled + 10));
    pooled += 10;
    random[0] &= 0x7f; // headroom for the increments below
  } else {
    for (let i = 9; i >= 0; i--) {
      if (random[i] < 255) {
        random[i]++;
        break;
      }
      random[i] = 0;
    }
  }
  // 80 bits as 16 characters of 5 bits each: two 40-bit halves, each exact in a double.
  return timePart + encode40(random, 0) + encode40(random, 5);
}

function encodeTime(time: number): string {
  let text = '';
  for (let i = 0; i < 10; i++) {
    text = ALPHABET[time % 32] + text;
    time = Math.floor(time / 32);
  }
  return text;
}

/** Bytes `at`..`at + 4` as 8 characters. */
function encode40(bytes: Uint8Array, at: number): string {
  let value = bytes[at] * 2 ** 32 + ((bytes[at + 1] << 24) >>> 0) + (bytes[at + 2] << 16) + (bytes[at + 3] << 8) + bytes[at + 4];
  let text = '';
  for (let i = 0; i < 8; i++) {
    text = ALPHABET[value % 32] + text;
    value = Math.floor(value / 32);
  }
  return text;
}
