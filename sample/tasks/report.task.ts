/**
 * Renders a multi-page sales report as a PDF with pdfkit, on a worker thread. Each page has a title band, a line
 * chart drawn with vector paths (three series of a year of daily values) and a table of weekly figures, all computed
 * from a seeded generator so that the same request gives the same document. Rendering and compressing the pages is
 * pure JavaScript CPU work: inline, each 50-page report would hold the event loop for a quarter to half a second
 * (measured on 2 cores), delaying every request of the process by as much.
 */
import type { TaskContext } from 'nestjs-background-work';
import PdfDocument from 'pdfkit';

export interface ReportInput {
  title: string;
  pages: number;
  /** When the report was asked for, printed in the footer (passed in, so that the task is deterministic). */
  requestedAt: string;
}

const PAGE = { width: 595.28, height: 841.89 }; // A4 in points
const MARGIN = 48;
const INNER = PAGE.width - 2 * MARGIN;
const SERIES = [
  { name: 'North', color: '#1d3557' },
  { name: 'South', color: '#e63946' },
  { name: 'East', color: '#2a9d8f' },
] as const;
const DAYS = 364;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKS_SHOWN = 26;
const numbers = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A small, fast, seeded PRNG (mulberry32): the same page number always draws the same data. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Daily sales of one region over a year: a random walk with a seasonal swing. */
function series(next: () => number, base: number): number[] {
  const values: number[] = [];
  let level = base;
  for (let day = 0; day < DAYS; day++) {
    level = Math.max(100, level + (next() - 0.5) * base * 0.08);
    values.push(level * (1 + 0.25 * Math.sin((2 * Math.PI * day) / DAYS)));
  }
  return values;
}

function drawHeader(doc: PDFKit.PDFDocument, input: ReportInput, page: number): void {
  doc.rect(0, 0, PAGE.width, 78).fill('#1d3557');
  doc.fillColor('#ffffff').font('Helvetica-Bold').fontSize(18).text(input.title, MARGIN, 24, { width: INNER - 90, lineBreak: false, ellipsis: true });
  doc.font('Helvetica').fontSize(10).text(`Page ${page} of ${input.pages}`, MARGIN, 30, { width: INNER, align: 'right' });
  doc.fontSize(10).text(`Region ${page}: daily sales over a year, in euros (simulated data)`, MARGIN, 50);
}

function drawChart(doc: PDFKit.PDFDocument, data: number[][], top: number, height: number): void {
  const left = MARGIN + 40;
  const width = INNER - 40;
  const max = Math.max(...data.flat());
  const step = 10 ** Math.floor(Math.log10(max / 4));
  const ceiling = Math.ceil(max / step / 4) * step * 4;
  const y = (v: number): number => top + height - (v / ceiling) * height;

  doc.lineWidth(0.5).strokeColor('#d0d0d0').fillColor('#555555').font('Helvetica').fontSize(7);
  for (let i = 0; i <= 4; i++) {
    const value = (ceiling / 4) * i;
    doc.moveTo(left, y(value)).lineTo(left + width, y(value)).stroke();
    doc.text(numbers.format(value), MARGIN, y(value) - 3, { width: 36, align: 'right' });
  }
  for (let month = 0; month <= 12; month++) {
    const x = left + (width * month) / 12;
    doc.moveTo(x, top + height).lineTo(x, top + height + 3).stroke();
    if (month < 12) doc.text(MONTHS[month], x, top + height + 6, { width: width / 12, align: 'center' });
  }
  doc.lineWidth(1).strokeColor('#333333').moveTo(left, top).lineTo(left, top + height).lineTo(left + width, top + height).stroke();

  data.forEach((values, s) => {
    doc.lineWidth(0.8).strokeColor(SERIES[s].color);
    values.forEach((v, day) => {
      const x = left + (width * day) / (DAYS - 1);
      if (day === 0) doc.moveTo(x, y(v));
      else doc.lineTo(x, y(v));
    });
    doc.stroke();
    // Legend
    const lx = left + 10 + s * 80;
    doc.rect(lx, top - 14, 10, 6).fill(SERIES[s].color);
    doc.fillColor('#333333').fontSize(8).text(SERIES[s].name, lx + 14, top - 15);
  });
}

function drawTable(doc: PDFKit.PDFDocument, data: number[][], top: number): void {
  const columns = ['Week', ...SERIES.map((s) => s.name), 'Total', 'Change'];
  const colWidth = INNER / columns.length;
  const rowHeight = 13;
  doc.rect(MARGIN, top, INNER, rowHeight).fill('#e9ecef');
  doc.fillColor('#000000').font('Helvetica-Bold').fontSize(8);
  columns.forEach((c, i) => doc.text(c, MARGIN + i * colWidth + 4, top + 3, { width: colWidth - 8, align: i === 0 ? 'left' : 'right' }));

  doc.font('Helvetica');
  let previous = 0;
  for (let week = 0; week < WEEKS_SHOWN; week++) {
    const rowTop = top + rowHeight * (week + 1);
    const sums = data.map((values) => values.slice(week * 14, week * 14 + 7).reduce((a, b) => a + b, 0));
    const total = sums.reduce((a, b) => a + b, 0);
    const change = week === 0 ? '' : `${(((total - previous) / previous) * 100).toFixed(1)} %`;
    previous = total;
    if (week % 2 === 1) doc.rect(MARGIN, rowTop, INNER, rowHeight).fill('#f8f9fa');
    doc.fillColor('#000000');
    const cells = [`W${week * 2 + 1}`, ...sums.map((v) => numbers.format(v)), numbers.format(total), change];
    cells.forEach((cell, i) => doc.text(cell, MARGIN + i * colWidth + 4, rowTop + 3, { width: colWidth - 8, align: i === 0 ? 'left' : 'right' }));
  }
}

/**
 * The task: renders the report, reporting as progress the share of pages finished, and returns the PDF. Its bytes are
 * moved to the app rather than copied there: the copy into a buffer of their own is made here, off the event loop.
 */
export default async function renderReport(input: ReportInput, context: TaskContext): Promise<Uint8Array> {
  const doc = new PdfDocument({
    size: 'A4',
    margin: 0,
    autoFirstPage: false,
    info: { Title: input.title, Author: 'nestjs-background-work sample', CreationDate: new Date(input.requestedAt) },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });

  for (let page = 1; page <= input.pages; page++) {
    doc.addPage();
    const next = random(page * 7919);
    const data = SERIES.map((_, s) => series(next, 2_000 + 1_000 * s));
    drawHeader(doc, input, page);
    drawChart(doc, data, 120, 250);
    drawTable(doc, data, 410);
    doc.fillColor('#777777').fontSize(7).text(`nestjs-background-work sample, requested ${input.requestedAt}`, MARGIN, PAGE.height - 30, { lineBreak: false });
    // A page is written out (and compressed) when the next one is added, or at end(): this one counts as done then.
    if (page > 1) context.progress((page - 1) / input.pages);
  }
  doc.end();
  await ended;
  context.progress(1);
  return context.move(Buffer.concat(chunks));
}
