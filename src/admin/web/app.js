// Operator page of the bouncegate admin API. Plain ES2020 without libraries: the page must work
// offline and under a Content-Security-Policy that forbids inline scripts and styles. Data from the
// API is only ever inserted as text (textContent), never as HTML.
'use strict';

const TOKEN_KEY = 'bouncegate-admin-token';
const COLORS = ['#2457c5', '#d92d20', '#f79009', '#12b76a', '#7a5af8', '#0ba5ec', '#ee46bc', '#667085', '#98a2b3'];
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

/** An API call that failed; `status` is the HTTP status (401 sends the user back to the login form). */
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the admin API with the token from sessionStorage as a Bearer header. */
async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, {
    method: options.method || 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
    if (response.status === 401) {
      showLogin('The token was rejected. Enter the admin token again.');
    }
    throw new ApiError(response.status, message);
  }
  return body;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) {
    node.textContent = String(text);
  }
  if (className) {
    node.className = className;
  }
  return node;
}

function setStatus(text, ok = true) {
  const status = $('status');
  status.textContent = text;
  status.className = ok ? 'ok' : 'error';
}

function report(error) {
  if (!(error instanceof ApiError && error.status === 401)) {
    setStatus(error.message || String(error), false);
  }
}

/** Fills a table from a header list and rows of cells; a cell is text or a DOM node. */
function fillTable(table, headers, rows, emptyText) {
  table.replaceChildren();
  const head = element('tr');
  for (const header of headers) {
    head.append(element('th', header));
  }
  table.append(head);
  if (rows.length === 0) {
    const row = element('tr');
    const cell = element('td', emptyText);
    cell.colSpan = headers.length;
    row.append(cell);
    table.append(row);
    return;
  }
  for (const cells of rows) {
    const row = element('tr');
    for (const cell of cells) {
      if (cell instanceof Node) {
        const td = element('td');
        td.append(cell);
        row.append(td);
      } else if (cell && typeof cell === 'object') {
        row.append(element('td', cell.text, cell.className));
      } else {
        row.append(element('td', cell));
      }
    }
    table.append(row);
  }
}

function link(text, onClick) {
  const anchor = element('a', text);
  anchor.href = '#';
  anchor.addEventListener('click', (event) => {
    event.preventDefault();
    onClick();
  });
  return anchor;
}

function replyCode(event) {
  return [event.code === null ? 'local' : event.code, event.enhancedCode].filter((part) => part !== '').join(' ');
}

// ---- login ----

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('main-view').hidden = true;
  $('logout').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}

async function login(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  if (token === '') {
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await api('/api/queue/summary');
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      $('login-error').textContent = error.message;
    }
    return;
  }
  $('token').value = '';
  showMain();
}

function showMain() {
  $('login-view').hidden = true;
  $('main-view').hidden = false;
  $('logout').hidden = false;
  setStatus('');
  refresh();
}

function refresh() {
  loadChart().catch(report);
  loadTop('domain', $('top-domains')).catch(report);
  loadTop('mx', $('top-mx')).catch(report);
  loadEvents('').catch(report);
  loadSuppressions().catch(report);
}

// ---- chart ----

async function loadChart() {
  const since = new Date(Date.now() - 48 * 3600 * 1000).toISOString();
  const timeline = await api(`/api/timeline?by=reason&action=bounced&since=${encodeURIComponent(since)}`);
  drawChart(timeline);
}

/** Draws stacked bars, one per hour, one color per reason, as inline SVG. */
function drawChart(timeline) {
  const width = 960;
  const height = 220;
  const left = 36;
  const bottom = 20;
  const buckets = timeline.buckets;
  const totals = buckets.map((bucket) => Object.values(bucket.counts).reduce((sum, count) => sum + count, 0));
  const max = Math.max(1, ...totals);
  const barWidth = (width - left) / Math.max(1, buckets.length);

  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'bounces per hour by reason');
  const axis = document.createElementNS(SVG, 'line');
  for (const [name, value] of [['x1', left], ['y1', height - bottom], ['x2', width], ['y2', height - bottom]]) {
    axis.setAttribute(name, String(value));
  }
  axis.setAttribute('class', 'axis');
  svg.append(axis);
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', '0');
  label.setAttribute('y', '10');
  label.textContent = String(max);
  svg.append(label);

  buckets.forEach((bucket, index) => {
    let y = height - bottom;
    timeline.series.forEach((name, seriesIndex) => {
      const count = bucket.counts[name] || 0;
      if (count === 0) {
        return;
      }
      const barHeight = ((height - bottom - 14) * count) / max;
      y -= barHeight;
      const rect = document.createElementNS(SVG, 'rect');
      rect.setAttribute('x', String(left + index * barWidth + 1));
      rect.setAttribute('y', String(y));
      rect.setAttribute('width', String(Math.max(1, barWidth - 2)));
      rect.setAttribute('height', String(barHeight));
      rect.setAttribute('fill', COLORS[seriesIndex % COLORS.length]);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${bucket.hour.slice(0, 13)}:00Z ${name}: ${count}`;
      rect.append(title);
      svg.append(rect);
    });
    if (index % 6 === 0) {
      const tick = document.createElementNS(SVG, 'text');
      tick.setAttribute('x', String(left + index * barWidth));
      tick.setAttribute('y', String(height - 6));
      tick.textContent = `${bucket.hour.slice(5, 10)} ${bucket.hour.slice(11, 13)}h`;
      svg.append(tick);
    }
  });

  $('chart').replaceChildren(svg);
  const legend = $('chart-legend');
  legend.replaceChildren();
  if (timeline.series.length === 0) {
    legend.append(element('span', 'no bounces in the last 48 hours'));
  }
  timeline.series.forEach((name, index) => legend.append(element('span', name, `swatch-${index % COLORS.length}`)));
}

// ---- top failing segments ----

async function loadTop(by, table) {
  const result = await api(`/api/segments?by=${by}&limit=10`);
  const rows = result.segments
    .filter((segment) => segment.failed > 0)
    .map((segment) => [
      by === 'domain' ? link(segment.value, () => runTriage(segment.value)) : segment.value,
      { text: segment.bounced, className: 'num' },
      { text: segment.deferred, className: 'num' },
      { text: segment.delivered, className: 'num' },
    ]);
  fillTable(table, [by === 'domain' ? 'Domain' : 'MX host', 'Bounced', 'Deferred', 'Delivered'], rows, 'no failures');
}

// ---- triage ----

async function runTriage(domain) {
  $('triage-domain').value = domain;
  const result = await api(`/api/triage?domain=${encodeURIComponent(domain)}`);
  const box = $('triage-result');
  box.replaceChildren(
    element('p', result.verdict, 'verdict'),
    element('p', result.summary),
    element('p', `Recommended: ${result.action}`),
    element('p', `Evidence: ${result.evidence.eventIds.length} events (${result.evidence.eventIds.slice(0, 5).join(', ')}${result.evidence.eventIds.length > 5 ? ', ...' : ''})`),
  );
  const escalate = $('escalate-link');
  escalate.hidden = false;
  escalate.href = '#';
  escalate.onclick = (event) => {
    event.preventDefault();
    showEscalation(domain).catch(report);
  };
  $('escalation').hidden = true;
}

async function showEscalation(domain) {
  const packet = await api(`/api/escalate?domain=${encodeURIComponent(domain)}`);
  const pre = $('escalation');
  pre.textContent = packet.text;
  pre.hidden = false;
}

// ---- events and history ----

async function loadEvents(search) {
  const term = search.trim();
  let query = 'limit=50';
  if (term.includes('@')) {
    query += `&recipient=${encodeURIComponent(term)}`;
  } else if (term !== '') {
    query += `&domain=${encodeURIComponent(term)}`;
  }
  const page = await api(`/api/events?${query}`);
  const rows = page.events.map((event) => [
    event.time.replace('T', ' ').slice(0, 19),
    event.action,
    link(event.recipient, () => loadHistory(event.recipient).catch(report)),
    replyCode(event),
    event.reason,
    event.mx || '-',
    { text: event.text, className: 'reply' },
  ]);
  fillTable($('events'), ['Time (UTC)', 'Action', 'Recipient', 'Code', 'Reason', 'MX', 'Reply'], rows, 'no events match');
  if (term.includes('@')) {
    await loadHistory(term);
  }
}

async function loadHistory(address) {
  const history = await api(`/api/history/recipient/${encodeURIComponent(address)}`);
  $('history-panel').hidden = false;
  $('history-address').textContent = history.recipient;

  const box = $('history-suppression');
  box.replaceChildren();
  if (history.suppression) {
    const entry = history.suppression;
    box.append(element('p', `Suppressed (${entry.status}) since ${entry.createdAt}: reason ${entry.reason}, last failure ${entry.last.text}`));
    box.append(removeForm(entry.address, () => loadHistory(address)));
  } else {
    box.append(element('p', 'Not on the suppression list.'));
  }

  const rows = history.events.map((event) => [
    event.time.replace('T', ' ').slice(0, 19),
    event.action,
    event.stage,
    replyCode(event),
    event.reason,
    event.mx || '-',
    { text: event.text, className: 'reply' },
  ]);
  fillTable($('history-events'), ['Time (UTC)', 'Action', 'Stage', 'Code', 'Reason', 'MX', 'Reply'], rows, 'no events');
}

// ---- suppressions ----

async function loadSuppressions() {
  const page = await api('/api/suppressions?limit=100');
  const rows = page.suppressions.map((entry) => [
    link(entry.address, () => loadHistory(entry.address).catch(report)),
    entry.status,
    entry.reason,
    entry.origin,
    entry.updatedAt.replace('T', ' ').slice(0, 19),
    removeForm(entry.address, () => loadSuppressions()),
  ]);
  fillTable($('suppressions'), ['Address', 'Status', 'Reason', 'Origin', 'Updated (UTC)', 'Remove'], rows, 'the list is empty');
}

/** Builds a form that removes an address from the list. The API and the form both require a note. */
function removeForm(address, after) {
  const form = element('form', null, 'remove-form');
  const note = element('input');
  note.name = 'note';
  note.required = true;
  note.placeholder = 'why sending may resume';
  note.setAttribute('aria-label', `removal note for ${address}`);
  const button = element('button', 'Remove');
  button.type = 'submit';
  form.append(note, button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = note.value.trim();
    if (text === '') {
      setStatus('A note is required to remove an address.', false);
      return;
    }
    api(`/api/suppressions/${encodeURIComponent(address)}`, { method: 'DELETE', body: { note: text, actor: 'web' } })
      .then(() => {
        setStatus(`Removed ${address} from the suppression list.`);
        return Promise.all([after(), loadSuppressions()]);
      })
      .catch(report);
  });
  return form;
}

// ---- start ----

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', () => showLogin(''));
  $('search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    loadEvents($('search').value).catch(report);
  });
  $('triage-form').addEventListener('submit', (event) => {
    event.preventDefault();
    runTriage($('triage-domain').value.trim()).catch(report);
  });
  if (sessionStorage.getItem(TOKEN_KEY)) {
    showMain();
  } else {
    showLogin('');
  }
});
