// @ts-check
/**
 * The nestjs-background-work dashboard, in the browser. Plain JavaScript, no framework, no CDN: it draws every
 * value with DOM calls and textContent (never HTML text), so nothing a job carries can run as markup; the page's
 * Content-Security-Policy forbids inline script and style besides.
 *
 * Live data comes from a server-sent event stream (a snapshot a second); while it is down the page polls every
 * 2 s. Lists and jobs are read from the store page by page through the JSON API.
 */

/** @typedef {'scheduled' | 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled'} JobState */
/** @typedef {{ text: string, length: number, truncated: boolean }} CappedText */
/** @typedef {{ attempt: number, name: string, message: string, stack: string | null, at: number }} ErrorView */
/**
 * @typedef {{ id: string, name: string, queue: string, state: JobState, key: string | null, group: string | null, priority: number,
 *   attempts: number, maxAttempts: number, progress: number | null, createdAt: number, runAt: number,
 *   startedAt: number | null, finishedAt: number | null, payload: CappedText, lastError: ErrorView | null }} JobSummary
 */
/**
 * @typedef {JobSummary & { stalls: number, result: CappedText | null, errors: ErrorView[],
 *   timeline: { at: number, what: string }[] }} JobDetail
 */
/**
 * @typedef {{ from: number, succeeded: number[], failed: number[], p50: (number | null)[], p95: (number | null)[],
 *   hour: { succeeded: number, failed: number, p50: number | null, p95: number | null } }} HistoryView
 */
/**
 * @typedef {{ name: string, local: boolean, closed: boolean, concurrency: number | null, capacity: number | null,
 *   work: Record<string, number> | null, jobs: Record<JobState, number> | null, history: HistoryView | null }} QueueView
 */
/** @typedef {{ p50: number, p90: number, p99: number, max: number, mean: number }} Percentiles */
/**
 * @typedef {{ id: string, cron: string, tz: string, name: string, queue: string, payload: CappedText,
 *   overlap: 'skip' | 'allow', misfire: 'skip' | 'once', source: 'decorator' | 'call', nextRunAt: number | null,
 *   lastJobId: string | null, updatedAt: number }} ScheduleView
 */
/**
 * @typedef {{ at: number, phase: 'starting' | 'running' | 'stopping' | 'stopped',
 *   stop: { since: number, deadline: number } | null,
 *   store: { description: string, durable: boolean, error: string | null, countedAt: number | null },
 *   queues: QueueView[],
 *   services: { name: string, order: number, state: string, error: { name: string, message: string, stack: string | null } | null }[],
 *   threads: { threads: number, maxThreads: number, queued: number, running: number, completed: number,
 *     utilization: number, runTime: Percentiles, waitTime: Percentiles } | null }} Snapshot
 */

/** @type {JobState[]} */
const STATES = ['scheduled', 'pending', 'running', 'succeeded', 'failed', 'cancelled'];
const ACTIVE = new Set(['scheduled', 'pending', 'running']);
const POLL_MS = 2000;

/** @param {string} name */
function meta(name) {
  const element = document.querySelector(`meta[name="${name}"]`);
  return element === null ? '' : (element.getAttribute('content') ?? '');
}

const BASE = meta('bw-base');
const TOKEN = meta('bw-token');
const READ_ONLY = meta('bw-read-only') !== 'false';

// ---- DOM helpers: every text goes through textContent ----------------------------------------------------------

/**
 * @param {string} tag
 * @param {Record<string, string | number | boolean | undefined | null | ((event: Event) => void)>} [props]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/**
 * @param {Element} parent
 * @param {(Node | string | number | null | undefined | false)[]} children
 */
function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** @param {Element} parent @param {...(Node | string | number | null | undefined | false)} children */
function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

const SVG = 'http://www.w3.org/2000/svg';
/** @param {string} tag @param {Record<string, string | number>} attributes */
function svg(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** @param {string} state */
function badge(state) {
  return h('span', { class: `badge state-${state} phase-${state}` }, state);
}

/** @param {number | null | undefined} n */
function figure(n) {
  return n === null || n === undefined ? '∞' : n.toLocaleString();
}

/** @param {number | null} ms */
function duration(ms) {
  if (ms === null) return '–';
  if (ms < 1) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** "3 min ago", "in 7 h". @param {number} at */
function ago(at) {
  const signed = Math.round((Date.now() - at) / 1000);
  const s = Math.abs(signed);
  if (s < 2) return 'just now';
  const span = s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : s < 129_600 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86_400)} d`;
  return signed < 0 ? `in ${span}` : `${span} ago`;
}

/** Hours to milliseconds, local time. @param {number} at */
function clock(at) {
  const date = new Date(at);
  return `${date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** A time, relative, with the exact one on hover. @param {number | null} at */
function when(at) {
  if (at === null) return h('span', { class: 'muted' }, '–');
  return h('time', { datetime: new Date(at).toISOString(), title: new Date(at).toLocaleString() }, ago(at));
}

/** @param {Record<string, string | undefined>} params */
function jobsLink(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') query.set(name, value);
  const text = query.toString();
  return `#/jobs${text === '' ? '' : `?${text}`}`;
}

/** @param {string} id */
const jobLink = (id) => `#/jobs/${encodeURIComponent(id)}`;

// ---- the API ------------------------------------------------------------------------------------------------------

class ApiError extends Error {}

/**
 * @param {string} path
 * @param {{ method?: string }} [options]
 * @returns {Promise<any>}
 */
async function api(path, options = {}) {
  const method = options.method ?? 'GET';
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-BW-Token'] = TOKEN;
  const response = await fetch(`${BASE}/api/${path}`, { method, headers, credentials: 'same-origin', cache: 'no-store' });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body !== null && typeof body.message === 'string' ? body.message : `${response.status} ${response.statusText}`;
    throw new ApiError(message);
  }
  return body;
}

// ---- live data ----------------------------------------------------------------------------------------------------

/** @type {Snapshot | null} */
let snapshot = null;
/** @type {'live' | 'polling' | 'offline'} */
let connection = 'offline';
/** @type {EventSource | null} */
let stream = null;
/** @type {number | undefined} */
let pollTimer;

/** The pool's utilization at each snapshot of the last two minutes, for the threads page's line. */
/** @type {{ at: number, utilization: number }[]} */
const utilization = [];
const UTILIZATION_WINDOW_MS = 120_000;

/** @param {Snapshot} next */
function receive(next) {
  snapshot = next;
  if (next.threads !== null) {
    utilization.push({ at: next.at, utilization: next.threads.utilization });
    while (utilization.length > 0 && utilization[0].at < next.at - UTILIZATION_WINDOW_MS) utilization.shift();
  }
  renderStatus();
  current?.update?.(next);
}

function connect() {
  stream?.close();
  const source = new EventSource(`${BASE}/api/stream`);
  stream = source;
  source.addEventListener('open', () => {
    connection = 'live';
    stopPolling();
    renderStatus();
  });
  source.addEventListener('message', (event) => {
    connection = 'live';
    stopPolling();
    receive(JSON.parse(event.data));
  });
  source.addEventListener('error', () => {
    // The browser retries a dropped stream by itself; one it gave up on (a 503 while the app stops) is polled for.
    if (source.readyState === EventSource.CLOSED) {
      startPolling();
      setTimeout(() => {
        if (stream === source) connect();
      }, 5000);
    } else {
      connection = connection === 'live' ? 'polling' : connection;
      startPolling();
    }
    renderStatus();
  });
}

async function poll() {
  try {
    receive(await api('overview'));
    if (connection !== 'live') connection = 'polling';
  } catch {
    connection = 'offline';
  }
  renderStatus();
}

function startPolling() {
  if (pollTimer !== undefined) return;
  void poll();
  pollTimer = window.setInterval(poll, POLL_MS);
}

function stopPolling() {
  if (pollTimer !== undefined) window.clearInterval(pollTimer);
  pollTimer = undefined;
}

// ---- the frame: header, navigation, the drain ---------------------------------------------------------------------

const app = /** @type {HTMLElement} */ (document.getElementById('app'));
const statusBox = h('div', { class: 'status' });
const nav = h('nav');
const drainBox = h('div');
const content = h('div');
append(app, [h('header', { class: 'top' }, h('h1', {}, 'Background work'), nav, statusBox), h('main', {}, drainBox, content)]);

const SECTIONS = [
  ['overview', '#/', 'Overview'],
  ['jobs', '#/jobs', 'Jobs'],
  ['schedules', '#/schedules', 'Schedules'],
  ['services', '#/services', 'Services'],
  ['threads', '#/threads', 'Threads'],
];

/** @param {string} section */
function renderNav(section) {
  replace(nav, ...SECTIONS.map(([id, href, label]) => h('a', { href, class: id === section ? 'current' : undefined }, label)));
}

function renderStatus() {
  const s = snapshot;
  const connectionText = connection === 'live' ? 'live' : connection === 'polling' ? 'polling every 2 s' : 'disconnected';
  replace(
    statusBox,
    s === null ? null : h('span', { class: `badge phase-${s.phase}`, 'data-phase': s.phase }, s.phase),
    h('span', { class: `conn-${connection}`, 'data-connection': connection }, h('span', { class: 'dot' }), connectionText),
    s === null ? null : h('span', { class: 'mono', title: s.store.durable ? 'durable store' : 'memory store: nothing survives the process' }, s.store.description),
    READ_ONLY ? h('span', { class: 'badge', title: 'retry and cancel are off' }, 'read-only') : null,
  );
  renderDrain();
}

function renderDrain() {
  const s = snapshot;
  if (s === null || s.stop === null) return replace(drainBox);
  const total = s.stop.deadline - s.stop.since;
  const elapsed = Math.min(total, (s.phase === 'stopped' ? s.at : Date.now()) - s.stop.since);
  const share = total === 0 ? 100 : Math.round((elapsed / total) * 100);
  const busy = s.queues.filter((q) => q.work !== null && q.work.pending + q.work.running > 0);
  const stopping = s.services.filter((service) => service.state === 'stopping');
  const bar = h('div');
  bar.style.width = `${share}%`;
  replace(
    drainBox,
    h(
      'section',
      { class: `drain${s.phase === 'stopped' ? ' stopped' : ''}`, 'data-drain': s.phase },
      h(
        'div',
        { class: 'spread' },
        h('strong', {}, s.phase === 'stopped' ? 'The application has stopped' : 'The application is stopping: draining the background work'),
        h('span', { class: 'muted' }, `${duration(elapsed)} of the ${duration(total)} deadline`),
      ),
      h('div', { class: `meter${share > 80 ? ' bad' : ' warn'}` }, bar),
      s.phase === 'stopped'
        ? h('div', { class: 'muted' }, 'This page reconnects by itself when the application starts again.')
        : h(
            'div',
            {},
            stopping.length > 0 ? h('div', {}, `Stopping: ${stopping.map((service) => service.name).join(', ')}`) : null,
            busy.length === 0
              ? h('div', { class: 'muted' }, 'Every queue has drained.')
              : h('div', {}, ...busy.map((q) => h('div', { 'data-draining': q.name }, `Queue ${q.name}: ${q.work?.running ?? 0} running, ${q.work?.pending ?? 0} pending`))),
          ),
    ),
  );
}

// ---- pages --------------------------------------------------------------------------------------------------------

/** @typedef {{ update?: (s: Snapshot) => void, leave?: () => void }} Page */
/** @type {Page | null} */
let current = null;

/** @param {string} message */
function failure(message) {
  return h('div', { class: 'notice bad', role: 'alert' }, message);
}

/** Marks the first complete draw of a page (a performance mark, what the browser tests time). */
function ready() {
  if (document.body.dataset.ready !== 'true') {
    document.body.dataset.ready = 'true';
    performance.mark('bw-ready');
  }
}

/** @param {Snapshot} s */
function totals(s) {
  /** @type {Record<string, number>} */
  const sum = Object.fromEntries(STATES.map((state) => [state, 0]));
  for (const q of s.queues) for (const state of STATES) sum[state] += q.jobs?.[state] ?? 0;
  return sum;
}

/** Overview: every queue's counts and its last hour. @returns {Page} */
function overviewPage() {
  const totalsBox = h('div', { class: 'totals' });
  const grid = h('div', { class: 'grid' });
  /** @type {Map<string, { element: HTMLElement, key: string }>} */
  const cards = new Map();
  replace(content, totalsBox, grid);
  return {
    update(s) {
      const sum = totals(s);
      replace(
        totalsBox,
        ...STATES.map((state) =>
          h('a', { href: jobsLink({ state }), 'data-total': state }, h('div', { class: 'muted' }, `${state} jobs`), h('div', { class: 'figure' }, figure(sum[state]))),
        ),
      );
      if (s.store.error !== null) totalsBox.prepend(failure(s.store.error));
      const seen = new Set();
      for (const q of s.queues) {
        seen.add(q.name);
        // Redrawn only when something in it changed: a selection or a hover survives the pushes.
        const key = JSON.stringify(q);
        const card = cards.get(q.name);
        if (card !== undefined && card.key === key) continue;
        const element = queueCard(q);
        if (card === undefined) grid.append(element);
        else card.element.replaceWith(element);
        cards.set(q.name, { element, key });
      }
      for (const [name, card] of cards) {
        if (!seen.has(name)) {
          card.element.remove();
          cards.delete(name);
        }
      }
      ready();
    },
  };
}

/** @param {QueueView} q */
function queueCard(q) {
  const work = q.work;
  const jobs = q.jobs;
  /** @param {string} label @param {Node | string} value @param {Record<string, string>} data */
  const stat = (label, value, data) => h('div', { class: 'stat', ...data }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
  return h(
    'section',
    { class: 'panel', 'data-queue': q.name },
    h(
      'div',
      { class: 'spread' },
      h('h2', {}, q.name),
      h(
        'span',
        { class: 'row' },
        q.closed ? h('span', { class: 'badge state-closed' }, 'closed') : null,
        q.local ? h('span', { class: 'muted' }, `concurrency ${figure(q.concurrency)} · capacity ${figure(q.capacity)}`) : h('span', { class: 'muted' }, 'not run by this process'),
      ),
    ),
    work === null
      ? null
      : h(
          'div',
          { class: 'stats' },
          h('div', { class: 'caption' }, 'work items in this process'),
          ...['pending', 'running', 'succeeded', 'failed', 'cancelled', 'abandoned'].map((k) => stat(k, figure(work[k]), { 'data-work': k })),
        ),
    jobs === null
      ? null
      : h(
          'div',
          { class: 'stats' },
          h('div', { class: 'caption' }, 'stored jobs, every process'),
          ...STATES.map((state) => stat(state, h('a', { href: jobsLink({ state, queue: q.name }) }, figure(jobs[state])), { 'data-jobs': state })),
        ),
    q.history === null ? null : historyChart(q.history),
  );
}

/** Throughput a minute as bars (succeeded under failed), run time p50 and p95 as lines, over the last hour. @param {HistoryView} history */
function historyChart(history) {
  const width = 600;
  const height = 80;
  const n = history.succeeded.length;
  const step = width / n;
  const most = Math.max(1, ...history.succeeded.map((ok, i) => ok + history.failed[i]));
  const slowest = Math.max(1, ...history.p95.map((v) => v ?? 0));
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img' });
  const label = svg('title', {});
  label.textContent = `Last hour: ${history.hour.succeeded} succeeded, ${history.hour.failed} failed`;
  chart.append(label, svg('line', { class: 'axis', x1: 0, y1: height, x2: width, y2: height }));
  for (let i = 0; i < n; i++) {
    const ok = history.succeeded[i];
    const bad = history.failed[i];
    const minute = new Date(history.from + i * 60_000);
    const okHeight = (ok / most) * height;
    const badHeight = (bad / most) * height;
    const group = svg('g', {});
    const tip = svg('title', {});
    tip.textContent = `${minute.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: ${ok} succeeded, ${bad} failed${history.p95[i] === null ? '' : `, p50 ${duration(history.p50[i])}, p95 ${duration(history.p95[i])}`}`;
    group.append(tip, svg('rect', { x: i * step + 1, y: 0, width: step - 2, height, fill: 'transparent' }));
    if (ok > 0) group.append(svg('rect', { class: 'bar-ok', x: i * step + 1, y: height - okHeight, width: step - 2, height: okHeight }));
    if (bad > 0) group.append(svg('rect', { class: 'bar-bad', x: i * step + 1, y: height - okHeight - badHeight, width: step - 2, height: badHeight }));
    chart.append(group);
  }
  for (const [key, css] of /** @type {const} */ ([['p50', 'line-p50'], ['p95', 'line-p95']])) {
    const points = history[key].map((v, i) => (v === null ? null : `${(i + 0.5) * step},${height - (v / slowest) * (height - 4)}`)).filter((p) => p !== null);
    if (points.length > 1) chart.append(svg('polyline', { class: css, points: points.join(' ') }));
  }
  const hour = history.hour;
  return h(
    'div',
    { 'data-history': '' },
    h(
      'div',
      { class: 'spread' },
      h('span', { class: 'legend' }, h('span', { class: 'ok' }, 'succeeded'), h('span', { class: 'bad' }, 'failed'), h('span', { class: 'p50' }, 'p50'), h('span', { class: 'p95' }, 'p95 run time')),
      h('span', { class: 'muted', 'data-hour': '' }, `last hour: ${hour.succeeded} ok · ${hour.failed} failed · p50 ${duration(hour.p50)} · p95 ${duration(hour.p95)}`),
    ),
    chart,
    axisLabels('60 min ago'),
  );
}

/** Under a chart, in HTML: text in the SVG would stretch with it. @param {string} from */
function axisLabels(from) {
  return h('div', { class: 'axis-labels' }, h('span', {}, from), h('span', {}, 'now'));
}

/**
 * Jobs by state: tabs with live counts, filters, a page read by the store from a cursor, and actions when writable.
 * @param {URLSearchParams} params
 * @returns {Page}
 */
function jobsPage(params) {
  const state = params.get('state') ?? 'all';
  const queue = params.get('queue') ?? '';
  const by = params.get('by') ?? 'name';
  const q = params.get('q') ?? '';
  const order = params.get('order') ?? 'desc';
  const after = params.get('after') ?? '';
  /** @type {Record<string, string | undefined>} */
  const here = { state: state === 'all' ? undefined : state, queue, by: q === '' ? undefined : by, q, order: order === 'desc' ? undefined : order };

  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const notice = h('div');
  const list = h('div', { class: 'panel' }, h('div', { class: 'empty' }, 'Loading…'));
  const queueSelect = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': 'queue', name: 'queue' }, h('option', { value: '' }, 'every queue')));
  const bySelect = /** @type {HTMLSelectElement} */ (
    h('select', { 'aria-label': 'search by', name: 'by' }, ...['name', 'key', 'id'].map((b) => h('option', { value: b, selected: b === by }, `by ${b}`)))
  );
  const searchInput = /** @type {HTMLInputElement} */ (h('input', { type: 'search', name: 'q', value: q, placeholder: 'job name, key or id', 'aria-label': 'search' }));
  const form = /** @type {HTMLFormElement} */ (
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (event) => {
          event.preventDefault();
          location.hash = jobsLink({ ...here, queue: queueSelect.value, by: searchInput.value === '' ? undefined : bySelect.value, q: searchInput.value.trim() });
        },
      },
      queueSelect,
      bySelect,
      searchInput,
      h('button', { type: 'submit' }, 'Search'),
      h('a', { href: jobsLink({ ...here, order: order === 'desc' ? 'asc' : undefined }) }, order === 'desc' ? 'newest first ↓' : 'oldest first ↑'),
      q !== '' ? h('a', { href: jobsLink({ ...here, q: undefined, by: undefined }) }, 'clear search') : null,
    )
  );
  queueSelect.addEventListener('change', () => form.requestSubmit());
  replace(content, tabs, form, notice, list);

  /** @type {Set<string>} */
  let queueNames = new Set();
  let shownCounts = '';
  let loadedAt = 0;

  /** @param {Snapshot} s */
  const drawTabs = (s) => {
    const scoped = queue === '' ? s.queues : s.queues.filter((view) => view.name === queue);
    /** @type {Record<string, number>} */
    const counts = Object.fromEntries(STATES.map((st) => [st, 0]));
    for (const view of scoped) for (const st of STATES) counts[st] += view.jobs?.[st] ?? 0;
    const all = STATES.reduce((n, st) => n + counts[st], 0);
    replace(
      tabs,
      ...[['all', all], ...STATES.map((st) => [st, counts[st]])].map(([st, n]) =>
        h('a', { href: jobsLink({ ...here, state: st === 'all' ? undefined : String(st) }), class: st === state ? 'current' : undefined, role: 'tab', 'data-tab': st }, String(st), h('span', { class: 'count' }, figure(Number(n)))),
      ),
    );
    const names = new Set(s.queues.map((view) => view.name));
    if ([...names].join() !== [...queueNames].join()) {
      queueNames = names;
      replace(queueSelect, h('option', { value: '' }, 'every queue'), ...[...names].map((name) => h('option', { value: name, selected: name === queue }, name)));
    }
    return JSON.stringify(counts);
  };

  const load = async () => {
    loadedAt = Date.now();
    const query = new URLSearchParams({ order, limit: '25' });
    if (state !== 'all') query.set('state', state);
    if (queue !== '') query.set('queue', queue);
    if (q !== '') {
      query.set('by', by);
      query.set('q', q);
    }
    if (after !== '') query.set('after', after);
    try {
      /** @type {{ jobs: JobSummary[], next: string | null }} */
      const page = await api(`jobs?${query}`);
      replace(list, jobsTable(page.jobs, state, reload), pager(page.next));
    } catch (error) {
      replace(list, failure(error instanceof Error ? error.message : String(error)));
    }
    ready();
  };
  const reload = () => void load();

  /** @param {string | null} next */
  const pager = (next) =>
    h(
      'div',
      { class: 'pager' },
      after !== '' ? h('a', { href: jobsLink(here) }, order === 'desc' ? '« newest' : '« oldest') : null,
      after !== '' ? h('button', { type: 'button', onclick: () => history.back() }, '‹ back') : null,
      next !== null ? h('a', { href: jobsLink({ ...here, after: next }), 'data-next': '' }, order === 'desc' ? 'older ›' : 'newer ›') : null,
    );

  if (!READ_ONLY && state === 'failed') {
    const retryAll = h('button', { class: 'primary', 'data-action': 'retry-all' }, queue === '' ? 'Retry all failed' : `Retry all failed of ${queue}`);
    retryAll.addEventListener('click', async () => {
      if (!confirm(`Retry every failed job${queue === '' ? '' : ` of queue ${queue}`}? They run again from attempt 1.`)) return;
      retryAll.setAttribute('disabled', '');
      let total = 0;
      try {
        for (;;) {
          /** @type {{ retried: number, remaining: number }} */
          const done = await api(`jobs/retry-failed${queue === '' ? '' : `?queue=${encodeURIComponent(queue)}`}`, { method: 'POST' });
          total += done.retried;
          replace(notice, h('div', { class: 'notice ok' }, `${total} failed jobs retried${done.remaining > 0 ? `, ${done.remaining} left…` : '.'}`));
          if (done.retried === 0 || done.remaining === 0) break;
        }
      } catch (error) {
        replace(notice, failure(error instanceof Error ? error.message : String(error)));
      }
      retryAll.removeAttribute('disabled');
      reload();
    });
    form.append(retryAll);
  }

  void load();
  return {
    update(s) {
      const counts = drawTabs(s);
      // The first page follows the counts (at most every 2 s); a later page stays as it was read.
      if (after === '' && counts !== shownCounts && shownCounts !== '' && Date.now() - loadedAt > 2000) reload();
      shownCounts = counts;
    },
  };
}

/**
 * @param {JobSummary[]} jobs
 * @param {string} state
 * @param {() => void} reload
 */
function jobsTable(jobs, state, reload) {
  if (jobs.length === 0) return h('div', { class: 'empty' }, 'No jobs here.');
  const failedTab = state === 'failed';
  return h(
    'table',
    { 'data-jobs-table': '' },
    h(
      'tr',
      {},
      h('th', {}, 'Job'),
      h('th', {}, 'Queue'),
      h('th', {}, 'State'),
      h('th', { class: 'num' }, 'Attempts'),
      h('th', {}, 'Created'),
      h('th', {}, failedTab ? 'Error' : 'Payload'),
      failedTab ? h('th', {}, 'Payload') : null,
      READ_ONLY ? null : h('th', {}, ''),
    ),
    ...jobs.map((job) =>
      h(
        'tr',
        { 'data-job': job.id },
        h('td', {}, h('a', { href: jobLink(job.id) }, job.name), h('div', { class: 'mono muted' }, job.id), job.key === null ? null : h('div', { class: 'muted' }, `key ${job.key}`)),
        h('td', {}, job.queue),
        h('td', {}, badge(job.state), job.progress === null || job.state !== 'running' ? null : h('div', { class: 'muted' }, `${Math.round(job.progress * 100) / 100}`)),
        h('td', { class: 'num' }, `${job.attempts} / ${job.maxAttempts}`),
        h('td', {}, when(job.createdAt)),
        failedTab
          ? h('td', { class: 'cell-wrap' }, job.lastError === null ? '–' : h('span', { class: 'error-text' }, `${job.lastError.name}: ${job.lastError.message}`))
          : h('td', { class: 'cell-text mono', title: job.payload.text }, job.payload.text),
        failedTab ? h('td', { class: 'cell-text mono', title: job.payload.text }, job.payload.text) : null,
        READ_ONLY ? null : h('td', {}, actions(job, reload)),
      ),
    ),
  );
}

/** Retry and cancel, where the job's state allows them (the server checks again). @param {JobSummary} job @param {() => void} after */
function actions(job, after) {
  const box = h('span', { class: 'row' });
  /** @param {string} label @param {string} action @param {string | null} question */
  const button = (label, action, question) => {
    const element = h('button', { 'data-action': action, class: action === 'cancel' ? 'danger' : undefined }, label);
    element.addEventListener('click', async () => {
      if (question !== null && !confirm(question)) return;
      element.setAttribute('disabled', '');
      try {
        await api(`jobs/${encodeURIComponent(job.id)}/${action}`, { method: 'POST' });
        after();
      } catch (error) {
        element.removeAttribute('disabled');
        replace(box, failure(error instanceof Error ? error.message : String(error)));
      }
    });
    return element;
  };
  if (job.state === 'failed' || job.state === 'cancelled') box.append(button('Retry', 'retry', null));
  if (ACTIVE.has(job.state)) box.append(button('Cancel', 'cancel', `Cancel job ${job.name} (${job.id})?`));
  return box;
}

/** One job: its facts, payload, result, errors (latest first) and timeline. @param {string} id @returns {Page} */
function jobPage(id) {
  const box = h('div', {}, h('div', { class: 'empty' }, 'Loading…'));
  replace(content, box);
  /** @type {JobDetail | null} */
  let job = null;
  let loadedAt = 0;
  const load = async () => {
    loadedAt = Date.now();
    try {
      job = await api(`jobs/${encodeURIComponent(id)}`);
      replace(box, jobView(/** @type {JobDetail} */ (job), () => void load()));
    } catch (error) {
      replace(box, h('p', {}, h('a', { href: '#/jobs' }, '‹ jobs')), failure(error instanceof Error ? error.message : String(error)));
    }
    ready();
  };
  void load();
  return {
    update() {
      // A job that may still change is read again every 2 s while its page is open.
      if (job !== null && ACTIVE.has(job.state) && Date.now() - loadedAt >= 2000) void load();
    },
  };
}

/** @param {CappedText} text */
function capped(text) {
  return h(
    'div',
    {},
    h('pre', { 'data-text': '' }, text.text),
    text.truncated ? h('div', { class: 'muted' }, `Cut at ${text.text.length.toLocaleString()} of ${text.length.toLocaleString()} characters.`) : null,
  );
}

/** @param {JobDetail} job @param {() => void} reload */
function jobView(job, reload) {
  return h(
    'div',
    { 'data-job-detail': job.id },
    h('p', {}, h('a', { href: jobsLink({ state: job.state }) }, `‹ ${job.state} jobs`)),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'spread' }, h('h2', {}, job.name, ' ', badge(job.state)), READ_ONLY ? null : actions(job, reload)),
      h(
        'dl',
        { class: 'facts' },
        ...[
          ['id', h('span', { class: 'mono' }, job.id)],
          ['queue', job.queue],
          ['key', job.key ?? '–'],
          ['group', job.group ?? '–'],
          ['priority', String(job.priority)],
          ['attempts', `${job.attempts} of ${job.maxAttempts}`],
          ['stalls', String(job.stalls)],
          ['progress', job.progress === null ? '–' : String(job.progress)],
          ['created', when(job.createdAt)],
          ['due', when(job.runAt)],
          ['started', when(job.startedAt)],
          ['finished', when(job.finishedAt)],
        ].flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
      ),
    ),
    h('section', { class: 'panel' }, h('h3', {}, 'Payload'), h('div', { 'data-payload': '' }, capped(job.payload))),
    job.result === null ? null : h('section', { class: 'panel' }, h('h3', {}, 'Result'), capped(job.result)),
    h(
      'section',
      { class: 'panel' },
      h('h3', {}, `Errors (${job.errors.length}), latest first`),
      job.errors.length === 0
        ? h('div', { class: 'muted' }, 'None.')
        : h(
            'div',
            { 'data-errors': '' },
            ...job.errors.map((error) =>
              h(
                'div',
                { class: 'error-block' },
                h('div', { class: 'spread' }, h('strong', { class: 'error-text' }, `${error.name}: ${error.message}`), h('span', { class: 'muted' }, `attempt ${error.attempt} · `, when(error.at))),
                error.stack === null ? null : h('pre', { 'data-stack': '' }, error.stack),
              ),
            ),
          ),
    ),
    h(
      'section',
      { class: 'panel' },
      h('h3', {}, 'Timeline'),
      h(
        'ol',
        { class: 'timeline', 'data-timeline': '' },
        ...job.timeline.map((entry) =>
          h(
            'li',
            {},
            h('time', { class: 'mono', datetime: new Date(entry.at).toISOString(), title: new Date(entry.at).toLocaleString() }, clock(entry.at)),
            ' ',
            h('span', { class: 'muted' }, entry.at === job.createdAt ? '' : `+${duration(entry.at - job.createdAt)} `),
            entry.what,
          ),
        ),
      ),
    ),
  );
}

/** Recurring schedules: what each tick inserts, when the next is, and the last job it made. @returns {Page} */
function schedulesPage() {
  const box = h('section', { class: 'panel' }, h('h2', {}, 'Recurring schedules'), h('div', { class: 'empty' }, 'Loading…'));
  replace(content, box);
  let loadedAt = 0;
  const load = async () => {
    loadedAt = Date.now();
    try {
      /** @type {{ supported: boolean, schedules: ScheduleView[] }} */
      const answer = await api('schedules');
      replace(box, h('h2', {}, 'Recurring schedules'), schedulesTable(answer));
    } catch (error) {
      replace(box, h('h2', {}, 'Recurring schedules'), failure(error instanceof Error ? error.message : String(error)));
    }
    ready();
  };
  void load();
  return {
    update() {
      // Next ticks move on: read again every 5 s while the page is open.
      if (Date.now() - loadedAt >= 5000) void load();
    },
  };
}

/** @param {{ supported: boolean, schedules: ScheduleView[] }} answer */
function schedulesTable(answer) {
  if (!answer.supported) return h('div', { class: 'empty' }, 'This job store keeps no schedules.');
  if (answer.schedules.length === 0) return h('div', { class: 'empty' }, 'No recurring schedules: see @Recurring and BackgroundJobs.schedule().');
  return h(
    'table',
    { 'data-schedules-table': '' },
    h('tr', {}, h('th', {}, 'Schedule'), h('th', {}, 'Cron'), h('th', {}, 'Job'), h('th', {}, 'Next tick'), h('th', {}, 'Last job'), h('th', {}, 'Payload')),
    ...answer.schedules.map((schedule) =>
      h(
        'tr',
        { 'data-schedule': schedule.id },
        h('td', {}, schedule.id, h('div', { class: 'muted' }, schedule.source === 'decorator' ? '@Recurring' : 'schedule()')),
        h('td', {}, h('code', {}, schedule.cron), h('div', { class: 'muted' }, `${schedule.tz} · overlap ${schedule.overlap} · misfire ${schedule.misfire}`)),
        h('td', {}, h('a', { href: jobsLink({ by: 'name', q: schedule.name }) }, schedule.name), h('div', { class: 'muted' }, `on ${schedule.queue}`)),
        h('td', {}, schedule.nextRunAt === null ? h('span', { class: 'muted' }, 'none to come') : when(schedule.nextRunAt)),
        h('td', {}, schedule.lastJobId === null ? h('span', { class: 'muted' }, '–') : h('a', { href: jobLink(schedule.lastJobId), class: 'mono' }, schedule.lastJobId)),
        h('td', { class: 'cell-text mono', title: schedule.payload.text }, schedule.payload.text),
      ),
    ),
  );
}

/** Hosted services in start order, with their state and error. @returns {Page} */
function servicesPage() {
  const box = h('section', { class: 'panel' });
  replace(content, box);
  let key = '';
  return {
    update(s) {
      const next = JSON.stringify(s.services);
      if (next === key) return ready();
      key = next;
      replace(
        box,
        h('h2', {}, 'Hosted services'),
        s.services.length === 0
          ? h('div', { class: 'empty' }, 'No hosted services in this application.')
          : h(
              'table',
              {},
              h('tr', {}, h('th', {}, 'Service'), h('th', { class: 'num' }, 'Order'), h('th', {}, 'State'), h('th', {}, 'Error')),
              ...s.services.map((service) =>
                h(
                  'tr',
                  { 'data-service': service.name },
                  h('td', {}, service.name),
                  h('td', { class: 'num' }, service.order),
                  h('td', {}, badge(service.state)),
                  h(
                    'td',
                    { class: 'cell-wrap' },
                    service.error === null
                      ? '–'
                      : h('details', {}, h('summary', { class: 'error-text' }, `${service.error.name}: ${service.error.message}`), service.error.stack === null ? null : h('pre', {}, service.error.stack)),
                  ),
                ),
              ),
            ),
      );
      ready();
    },
  };
}

/** The worker-thread pool: size, utilization, queue and time percentiles. @returns {Page} */
function threadsPage() {
  const box = h('section', { class: 'panel' });
  replace(content, box);
  return {
    update(s) {
      const t = s.threads;
      if (t === null) {
        replace(box, h('h2', {}, 'Worker threads'), h('div', { class: 'empty' }, 'Worker threads are off (threads: false).'));
        return ready();
      }
      const share = Math.round(t.utilization * 100);
      const bar = h('div');
      bar.style.width = `${share}%`;
      /** @param {string} label @param {Percentiles} p */
      const times = (label, p) =>
        h('tr', {}, h('td', {}, label), ...[p.p50, p.p90, p.p99, p.max, p.mean].map((v) => h('td', { class: 'num' }, duration(v))));
      replace(
        box,
        h('h2', {}, 'Worker threads'),
        h('div', { class: 'spread' }, h('span', {}, `Utilization over the last seconds`), h('strong', { 'data-utilization': share }, `${share}%`)),
        h('div', { class: `meter${share > 90 ? ' bad' : ''}` }, bar),
        utilizationChart(s.at),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'threads'),
          h('dd', { 'data-threads': t.threads }, `${t.threads} of at most ${t.maxThreads}`),
          h('dt', {}, 'tasks running'),
          h('dd', {}, figure(t.running)),
          h('dt', {}, 'tasks queued'),
          h('dd', {}, figure(t.queued)),
          h('dt', {}, 'tasks completed'),
          h('dd', {}, figure(t.completed)),
        ),
        h('h3', {}, 'Times'),
        h('table', {}, h('tr', {}, h('th', {}, ''), ...['p50', 'p90', 'p99', 'max', 'mean'].map((k) => h('th', { class: 'num' }, k))), times('run', t.runTime), times('wait for a thread', t.waitTime)),
      );
      ready();
    },
  };
}

/** Utilization over the last two minutes, as this page saw it. @param {number} now */
function utilizationChart(now) {
  const width = 600;
  const height = 60;
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'data-utilization-chart': '' });
  const label = svg('title', {});
  label.textContent = 'Utilization over the last two minutes';
  chart.append(label, svg('line', { class: 'axis', x1: 0, y1: height, x2: width, y2: height }));
  const points = utilization.map((p) => `${(width * (p.at - (now - UTILIZATION_WINDOW_MS))) / UTILIZATION_WINDOW_MS},${height - p.utilization * (height - 2)}`);
  if (points.length > 1) chart.append(svg('polyline', { class: 'line-p50', points: points.join(' ') }));
  return h('div', {}, chart, axisLabels('2 min ago'));
}

// ---- routing ------------------------------------------------------------------------------------------------------

function route() {
  current?.leave?.();
  document.body.dataset.ready = 'false';
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  const detail = /^\/jobs\/(.+)$/.exec(path);
  if (detail !== null) {
    renderNav('jobs');
    current = jobPage(decodeURIComponent(detail[1]));
  } else if (path === '/jobs') {
    renderNav('jobs');
    current = jobsPage(params);
  } else if (path === '/schedules') {
    renderNav('schedules');
    current = schedulesPage();
  } else if (path === '/services') {
    renderNav('services');
    current = servicesPage();
  } else if (path === '/threads') {
    renderNav('threads');
    current = threadsPage();
  } else {
    renderNav('overview');
    current = overviewPage();
  }
  if (snapshot !== null) current.update?.(snapshot);
}

window.addEventListener('hashchange', route);
route();
renderStatus();
connect();
// Times shown as "3 s ago" and the drain's clock move on between pushes.
window.setInterval(() => {
  if (snapshot?.phase === 'stopping') renderDrain();
}, 500);

// A module (the page loads it with type="module"), so that its names stay its own.
export const DASHBOARD_SCRIPT = true;
