import { BadRequestException } from '@nestjs/common';
import type { OutgoingMail } from './mailer.service.js';

const KEYS = new Set(['to', 'subject', 'body']);
// Deliberately loose: the SMTP server is the judge of an address; this catches typos and header injection.
const ADDRESS = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;
const LIMITS = { to: 254, subject: 200, body: 100_000 } as const;

/**
 * Checks the body of `POST /emails` by hand (no class-validator needed for three fields). Every problem is listed
 * in one 400 answer, like Nest's ValidationPipe does.
 */
export function parseEmailRequest(input: unknown): OutgoingMail {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new BadRequestException('Send a JSON object: { "to": "...", "subject": "...", "body": "..." }');
  }
  const body = input as Record<string, unknown>;
  const problems = Object.keys(body)
    .filter((key) => !KEYS.has(key))
    .map((key) => `unknown field "${key}"`);
  for (const key of KEYS) {
    const value = body[key];
    const max = LIMITS[key as keyof typeof LIMITS];
    if (typeof value !== 'string' || value.trim() === '') problems.push(`${key} must be a non-empty string`);
    else if (value.length > max) problems.push(`${key} must be at most ${max} characters`);
  }
  if (typeof body.to === 'string' && body.to !== '' && !ADDRESS.test(body.to)) problems.push('to must be an email address');
  if (typeof body.subject === 'string' && /[\r\n]/.test(body.subject)) problems.push('subject must be a single line');
  if (problems.length > 0) throw new BadRequestException(problems);
  return { to: body.to as string, subject: body.subject as string, text: body.body as string };
}
