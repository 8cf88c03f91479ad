/**
 * Just enough MIME header parsing for the SMTP sink to show a subject: unfolds headers and decodes RFC 2047
 * encoded words (nodemailer encodes any non-ASCII subject). A real inbox would use a full parser such as mailparser.
 */

const ENCODED_WORD = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;

function decodeWords(value: string): string {
  // Whitespace between two encoded words is not part of the text.
  return value.replace(/\?=\s+=\?/g, '?==?').replace(ENCODED_WORD, (word, charset: string, encoding: string, text: string) => {
    const bytes =
      encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      return word; // an unknown charset: show the word as it came
    }
  });
}

/** The decoded Subject header of a raw message, or '' when it has none. */
export function readSubject(raw: string): string {
  const end = raw.search(/\r?\n\r?\n/);
  const head = (end === -1 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const match = /^subject:[ \t]*(.*)$/im.exec(head);
  return match ? decodeWords(match[1].trim()) : '';
}
