import { describe, expect, it } from 'vitest';
import { newJobId } from '../../lib/jobs/job-ids.js';

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function timeOf(id: string): number {
  return Array.from(id.slice(0, 10)).reduce((time, c) => time * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c), 0);
}

describe('newJobId', () => {
  it('makes 26-character ULIDs whose first ten characters are the time in milliseconds', () => {
    const at = Date.UTC(2026, 11, 6, 12, 0, 0, 123);
    const id = newJobId(at);
    expect(id).toMatch(CROCKFORD);
    expect(timeOf(id)).toBe(at);
  });

  it('keeps the ids of one process strictly increasing within a millisecond and across them', () => {
    const start = Date.now() + 10_000;
    const ids: string[] = [];
    // 20,000 ids over 40 milliseconds: many per millisecond, and more than one pool of random bytes.
    for (let i = 0; i < 20_000; i++) ids.push(newJobId(start + Math.floor(i / 500)));
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws fresh random bits for each new millisecond', () => {
    const start = Date.now() + 20_000;
    const randomParts = new Set<string>();
    for (let i = 0; i < 1_000; i++) randomParts.add(newJobId(start + i).slice(10));
    // Counting up within a millisecond would give neighbours; fresh bits give 1,000 different, scattered parts.
    expect(randomParts.size).toBe(1_000);
    const firstChars = new Set([...randomParts].map((part) => part[0]));
    expect(firstChars.size).toBeGreaterThan(4);
  });
});
