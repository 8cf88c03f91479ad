import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford's base 32: sorts as text in time order
let lastTime = -1;
const random = new Uint8Array(10);

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, 26 characters. Unique across processes, and ordered by
 * creation time as plain strings (so a store's primary key doubles as its FIFO order). Within one millisecond
 * the random part counts up, keeping ids of one process strictly increasing.
 */
export function newJobId(now = Date.now()): string {
  if (now > lastTime) {
    lastTime = now;
    randomBytes(10).copy(random);
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
  let id = '';
  let time = lastTime;
  for (let i = 9; i >= 0; i--) {
    id = ALPHABET[time % 32] + id;
    time = Math.floor(time / 32);
  }
  // 80 bits as 16 characters of 5 bits each.
  let bits = 0;
  let value = 0;
  for (const byte of random) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id += ALPHABET[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return id;
}
