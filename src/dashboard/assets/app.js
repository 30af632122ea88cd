/* global document, window, fetch, EventSource, URLSearchParams, CSS, location, history, setInterval */
/**
 * The dashboard page: plain JavaScript, no framework, no network beyond its own server.
 *
 * - Sessions table: server-side filter and paging (50 rows a page), so 10,000 sessions cost one
 *   small request per change batch.
 * - Live: one EventSource; the server coalesces changes (at most one batch per 250 ms); each batch
 *   re-reads the visible page and, if it is among the changed ids, the selected session.
 * - Replay: a record cursor (`at`) moved by buttons, keys and the scrubber; every read carries it.
 * - Data is always inserted as text (textContent), never as HTML; only the chart, which the
 *   server renders and escapes, is inserted as markup.
 */
(function () {
  'use strict';

  const PAGE = 50;
  const $ = (id) => document.getElementById(id);
  const state = {
    info: null,
    at: 0,
    offset: 0,
    filter: '',
    status: '',
    selected: null,
    rows: [],
    total: 0,
    /** Region whose transitions the detail lists ('' for all). */
    region: '',
  };

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const child of children || []) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  async function api(path, params) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') query.set(k, v);
    if (state.info && state.info.kind === 'replay' && path !== '/api/info' && path !== '/api/records') {
      if (!query.has('at')) query.set('at', String(state.at));
    }
    const res = await fetch(`${path}?${query}`, { headers: { Accept: 'application/json' } });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    return res.json();
  }

  const dash = (v) => (v === null || v === undefined || v === '' ? '–' : String(v));

  function ago(iso) {
    if (!iso) return '–';
    const ms = Date.now() - Date.parse(iso);
    if (!Number.isFinite(ms)) return iso;
    if (ms < 0) return 'just now';
    if (ms < 60_000) return `${Math.round(ms / 1000)} s ago`;
    if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
    if (ms < 86_400_000) return `${Math.round(ms / 3_600_000)} h ago`;
    return iso.slice(0, 10);
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return `${ms} ms`;
    if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.round(ms / 60_000)} min`;
  }

  const isReplay = () => state.info && state.info.kind === 'replay';

  /** XState's generated event types, written the way the chart labels them. */
  function eventLabel(type) {
    let m = /^xstate\.after\.([^.]+)\./.exec(type);
    if (m) return `after(${m[1]})`;
    m = /^xstate\.(done|error)\.actor\.(?:\d+\.)?(?:[^.]+\.)?(.+)$/.exec(type);
    if (m) return `${m[1] === 'done' ? 'onDone' : 'onError'}(${m[2]})`;
    return type;
  }

  function writeHash() {
    const p = new URLSearchParams();
    if (state.selected) p.set('session', state.selected);
    if (isReplay()) p.set('at', String(state.at));
    if (state.filter) p.set('q', state.filter);
    if (state.status) p.set('status', state.status);
    const hash = p.toString();
    history.replaceState(null, '', hash ? `#${hash}` : location.pathname);
  }

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    return {
      session: p.get('session'),
      at: p.has('at') ? Number(p.get('at')) : null,
      q: p.get('q') || '',
      status: p.get('status') || '',
    };
  }

  // Serialises reloads: while one runs, further requests collapse into one more run.
  function serial(fn) {
    let running = null;
    let again = false;
    return function run() {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        try {
          do {
            again = false;
            await fn();
          } while (again);
        } catch (error) {
          showError(error);
        } finally {
          running = null;
        }
      })();
      return running;
    };
  }

  function showError(error) {
    $('summary').textContent = `error: ${error && error.message ? error.message : error}`;
  }

  // ------------------------------------------------------------------ chart

  function highlight(detail) {
    const chart = $('chart');
    for (const node of chart.querySelectorAll('.sc-active')) node.classList.remove('sc-active');
    if (!detail || !detail.state) return;
    const machine = state.info.machine;
    for (const [region, value] of Object.entries(detail.state)) {
      const id = region ? `${machine}.${region}.${value}` : `${machine}.${value}`;
      const node = chart.querySelector(`[data-state="${CSS.escape(id)}"]`);
      if (node) node.classList.add('sc-active');
    }
  }

  // ------------------------------------------------------------------ table

  const loadSessions = serial(async () => {
    const page = await api('/api/sessions', {
      q: state.filter,
      status: state.status,
      offset: state.offset,
      limit: PAGE,
    });
    if (!page) return;
    if (page.total > 0 && state.offset >= page.total) {
      state.offset = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE);
      return loadSessions();
    }
    state.rows = page.rows;
    state.total = page.total;
    renderTable();
  });

  function renderTable() {
    const body = $('table').tBodies[0];
    const rows = state.rows.map((r) =>
      el(
        'tr',
        {
          'data-session-id': r.id,
          class: r.id === state.selected ? 'selected' : null,
          tabindex: '0',
          onclick: () => select(r.id),
          onkeydown: (e) => {
            if (e.key === 'Enter') select(r.id);
          },
        },
        [
          el('td', { class: 'id', title: r.id, text: r.id }),
          el('td', { text: dash(r.mode) }),
          el('td', { text: r.agentGroupId }),
          el('td', { text: dash(r.messagingGroupId) }),
          el('td', { text: dash(r.threadId) }),
          el('td', { class: 'container' }, [
            el('span', {
              class: `status status-${r.status === 'closed' ? 'closed' : r.containerStatus}`,
              text: r.status === 'closed' ? 'closed' : r.containerStatus,
            }),
          ]),
          el('td', { class: 'num queued', text: dash(r.queued) }),
          el('td', { class: 'num', text: dash(r.messagesIn) }),
          el('td', { class: 'num', text: dash(r.messagesOut) }),
          el('td', { class: r.failed ? 'num failed' : 'num', text: dash(r.failed) }),
          el('td', {
            title: r.lastActive || '',
            text: r.lastChange !== null && r.lastChange !== undefined ? `record ${r.lastChange}` : ago(r.lastActive),
          }),
        ],
      ),
    );
    if (rows.length === 0) rows.push(el('tr', {}, [el('td', { colspan: '11', class: 'muted', text: 'no sessions' })]));
    body.replaceChildren(...rows);
    const first = state.total === 0 ? 0 : state.offset + 1;
    const last = state.offset + state.rows.length;
    $('count').textContent = `${state.total} session${state.total === 1 ? '' : 's'}`;
    $('page').textContent = state.total === 0 ? '' : `${first}–${last}`;
    $('page-prev').disabled = state.offset === 0;
    $('page-next').disabled = last >= state.total;
    $('summary').textContent = '';
  }

  // ------------------------------------------------------------------ detail

  const loadDetail = serial(async () => {
    if (!state.selected) {
      renderDetail(null);
      return;
    }
    const detail = await api('/api/session', { id: state.selected });
    renderDetail(detail);
  });

  function field(name, value, cls) {
    return [el('dt', { text: name }), el('dd', { class: cls || null, text: value })];
  }

  function table(headers, rows, cls) {
    return el('table', { class: cls || 'small' }, [
      el('thead', {}, [
        el(
          'tr',
          {},
          headers.map((h) => el('th', { text: h })),
        ),
      ]),
      el('tbody', {}, rows),
    ]);
  }

  function renderDetail(d) {
    const box = $('detail');
    highlight(d);
    // A selected session can be jumped to even where it does not exist yet.
    $('prev-change').disabled = !state.selected;
    $('next-change').disabled = !state.selected;
    if (!d) {
      box.removeAttribute('data-session');
      box.replaceChildren(
        el('p', {
          class: 'muted',
          text: state.selected
            ? `Session ${state.selected} does not exist here${isReplay() ? ' yet' : ''}.`
            : 'Select a session to see its state on the chart.',
        }),
      );
      return;
    }
    const r = d.row;
    box.setAttribute('data-session', r.id);
    const regions = state.info.regions.length > 0 ? state.info.regions : Object.keys(d.state || {});
    const stateLine = el(
      'div',
      { class: 'state' },
      regions.map((region) =>
        el('span', { class: 'region', 'data-region': region }, [
          el('span', { class: 'muted', text: `${region} ` }),
          el('b', { text: d.state && d.state[region] !== undefined ? d.state[region] : '?' }),
        ]),
      ),
    );
    const c = d.container;
    const shown = state.region ? d.transitions.filter((t) => t.region === state.region) : d.transitions;
    const parts = [
      el('h2', { class: 'id', text: r.id }),
      stateLine,
      d.stateComplete
        ? null
        : el('p', {
            class: 'muted note',
            text: d.state
              ? 'Only the container region is known: the session actor is not in memory, or the runtime does not describe sessions.'
              : 'No state recorded for this session yet.',
          }),
      el('dl', {}, [
        ...field('mode', dash(r.mode)),
        ...field('agent group', r.agentGroupId),
        ...field('messaging group', dash(r.messagingGroupId)),
        ...field('thread', dash(r.threadId)),
        ...field('status', r.status === 'closed' ? 'closed' : `${r.containerStatus}`),
        ...field('pid', c ? dash(c.pid) : '–'),
        ...field('heartbeat age', c ? duration(c.heartbeatAgeMs) : '–', 'heartbeat'),
        ...field('started', c && c.startedAt ? c.startedAt : '–'),
        ...field('queued', dash(r.queued), 'queued'),
        ...field('messages in / out', `${dash(r.messagesIn)} / ${dash(r.messagesOut)}`, 'messages'),
        ...field('delivered / failed', `${dash(d.delivered)} / ${dash(r.failed)}`),
        ...field(
          'last active',
          r.lastChange !== null && r.lastChange !== undefined ? `record ${r.lastChange}` : dash(r.lastActive),
        ),
      ]),
      el('div', { class: 'subhead' }, [
        el('h3', { text: 'Recent transitions' }),
        el(
          'select',
          {
            id: 'region-filter',
            'aria-label': 'region',
            onchange: (e) => {
              state.region = e.target.value;
              renderDetail(d);
            },
          },
          ['', ...regions].map((r) =>
            el('option', { value: r, selected: r === state.region, text: r === '' ? 'all regions' : r }),
          ),
        ),
      ]),
      shown.length === 0
        ? el('p', { class: 'muted', text: 'none seen' })
        : table(
            ['when', 'change', 'cause'],
            shown
              .slice()
              .reverse()
              .map((t) =>
                el('tr', { class: 'transition' }, [
                  el('td', { class: 'when' }, [
                    t.index !== null && t.index !== undefined
                      ? recordLink(t.index)
                      : el('span', { title: t.at || '', text: ago(t.at) }),
                  ]),
                  el('td', { class: 'change' }, [
                    el('span', { class: 'muted', text: `${t.region} ` }),
                    `${t.from || '∅'} → ${t.to}`,
                  ]),
                  el('td', { class: 'reason' }, [
                    el('div', { title: t.event, text: eventLabel(t.event) }),
                    t.reason && t.reason !== t.event ? el('div', { class: 'muted', text: t.reason }) : null,
                  ]),
                ]),
              ),
          ),
    ];
    if (!isReplay()) {
      parts.push(
        el('h3', { text: 'Last deliveries' }),
        d.deliveries.length === 0
          ? el('p', { class: 'muted', text: 'none seen' })
          : table(
              ['when', 'message', 'status', 'to', 'error'],
              d.deliveries
                .slice()
                .reverse()
                .map((x) =>
                  el('tr', {}, [
                    el('td', { title: x.at, text: ago(x.at) }),
                    el('td', { class: 'id', text: x.messageId }),
                    el('td', { class: `delivery-${x.status}`, text: x.status }),
                    el('td', { text: [x.channelType, x.platformId, x.threadId].filter(Boolean).join(' / ') || '–' }),
                    el('td', { class: 'reason', text: dash(x.error) }),
                  ]),
                ),
            ),
      );
    } else {
      parts.push(
        el('h3', { text: 'Its records up to here' }),
        d.records.length === 0
          ? el('p', { class: 'muted', text: 'none' })
          : el(
              'ol',
              { class: 'records compact' },
              d.records.map((rec) =>
                el('li', { class: rec.index === state.at ? 'current' : null }, [
                  recordLink(rec.index),
                  ` ${rec.summary}`,
                ]),
              ),
            ),
      );
    }
    box.replaceChildren(...parts.filter(Boolean));
  }

  function recordLink(index) {
    return el('a', {
      href: '#',
      class: 'record-link',
      text: `#${index}`,
      onclick: (e) => {
        e.preventDefault();
        moveTo(index);
      },
    });
  }

  function select(id) {
    state.selected = id;
    for (const tr of $('table').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.sessionId === id);
    writeHash();
    loadDetail();
  }

  // ------------------------------------------------------------------ replay

  async function moveTo(index) {
    if (index === null || index === undefined || !isReplay()) return;
    const max = state.info.records - 1;
    state.at = Math.min(Math.max(0, index), Math.max(0, max));
    $('scrub').value = String(state.at);
    writeHash();
    await Promise.all([loadRecords(), loadSessions(), loadDetail()]);
  }

  async function seek(kind, dir) {
    const params = { from: state.at, kind, dir };
    if (kind === 'session') {
      if (!state.selected) return;
      params.session = state.selected;
    }
    const res = await api('/api/seek', params);
    if (res && res.index !== null) await moveTo(res.index);
  }

  const loadRecords = serial(async () => {
    const before = 6;
    const offset = Math.max(0, state.at - before);
    const res = await api('/api/records', { offset, limit: 14 });
    if (!res) return;
    $('position').textContent = `record ${state.at} of ${state.info.records - 1}`;
    $('records').replaceChildren(
      ...res.records.map((r) =>
        el('li', { class: r.index === state.at ? 'current' : null, 'data-index': String(r.index) }, [
          recordLink(r.index),
          el('span', { class: 'muted', text: ` line ${r.line} ${r.k} ` }),
          el('span', { text: r.summary }),
        ]),
      ),
    );
  });

  function showDivergence(div) {
    if (!div) return;
    $('divergence').hidden = false;
    $('div-index').textContent = String(div.index);
    $('div-line').textContent = String(div.line);
    $('div-what').textContent = div.what;
    $('div-expected').textContent = JSON.stringify(div.expected, null, 2);
    $('div-actual').textContent = JSON.stringify(div.actual, null, 2);
    $('divergence-link').replaceChildren('diverges at ', recordLink(div.index));
  }

  function setupReplay() {
    $('replay').hidden = false;
    const scrub = $('scrub');
    scrub.max = String(Math.max(0, state.info.records - 1));
    let scrubTimer = null;
    scrub.addEventListener('input', () => {
      clearTimeout(scrubTimer);
      scrubTimer = setTimeout(() => moveTo(Number(scrub.value)), 60);
    });
    $('first').addEventListener('click', () => moveTo(0));
    $('last').addEventListener('click', () => moveTo(state.info.records - 1));
    $('prev-record').addEventListener('click', () => seek('record', -1));
    $('next-record').addEventListener('click', () => seek('record', 1));
    $('prev-transition').addEventListener('click', () => seek('transition', -1));
    $('next-transition').addEventListener('click', () => seek('transition', 1));
    $('prev-change').addEventListener('click', () => seek('session', -1));
    $('next-change').addEventListener('click', () => seek('session', 1));
    document.addEventListener('keydown', (e) => {
      const t = e.target;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA') && t.type !== 'range')
        return;
      let handled = true;
      if (e.key === 'ArrowRight') seek(e.shiftKey ? 'transition' : 'record', 1);
      else if (e.key === 'ArrowLeft') seek(e.shiftKey ? 'transition' : 'record', -1);
      else if (e.key === 'Home') moveTo(0);
      else if (e.key === 'End') moveTo(state.info.records - 1);
      else if (e.key === 'n' || e.key === 'N') seek('session', 1);
      else if (e.key === 'p' || e.key === 'P') seek('session', -1);
      else handled = false;
      if (handled) e.preventDefault();
    });
    showDivergence(state.info.divergence);
  }

  // ------------------------------------------------------------------ live

  function connect() {
    const conn = $('conn');
    const source = new EventSource('/api/events');
    source.addEventListener('open', () => {
      conn.className = 'conn on';
      conn.title = 'live updates: connected';
    });
    source.addEventListener('error', () => {
      conn.className = 'conn off';
      conn.title = 'live updates: reconnecting';
    });
    source.addEventListener('changes', (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        // A malformed message cannot name ids: re-read everything shown.
        data = { all: true };
      }
      loadSessions();
      if (state.selected && (data.all || (data.ids && data.ids.includes(state.selected)))) loadDetail();
    });
    // The heartbeat age moves without events: refresh the selected session now and then.
    setInterval(() => {
      if (state.selected && document.visibilityState !== 'hidden') loadDetail();
    }, 2000);
  }

  // ------------------------------------------------------------------ start

  async function start() {
    state.info = await api('/api/info');
    document.title = `${state.info.title} · ${state.info.kind === 'replay' ? 'replay' : 'live'}`;
    $('title').textContent = state.info.title;
    $('kind').textContent = state.info.kind === 'replay' ? 'replay' : 'live';
    $('kind').className = `badge badge-${state.info.kind}`;
    $('chart').setAttribute('data-machine', state.info.machine);

    const hash = readHash();
    state.filter = hash.q;
    state.status = hash.status;
    state.selected = hash.session;
    $('filter').value = state.filter;
    $('status').value = state.status;

    const chart = await fetch('/chart.svg');
    $('chart').innerHTML = await chart.text();
    $('fit').addEventListener('change', (e) => $('chart').classList.toggle('fit', e.target.checked));

    let filterTimer = null;
    $('filter').addEventListener('input', (e) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => {
        state.filter = e.target.value.trim();
        state.offset = 0;
        writeHash();
        loadSessions();
      }, 150);
    });
    $('status').addEventListener('change', (e) => {
      state.status = e.target.value;
      state.offset = 0;
      writeHash();
      loadSessions();
    });
    $('page-prev').addEventListener('click', () => {
      state.offset = Math.max(0, state.offset - PAGE);
      loadSessions();
    });
    $('page-next').addEventListener('click', () => {
      state.offset += PAGE;
      loadSessions();
    });

    if (isReplay()) {
      $('conn').hidden = true;
      const div = state.info.divergence;
      state.at = hash.at !== null && Number.isFinite(hash.at) ? hash.at : div ? div.index : 0;
      setupReplay();
      await moveTo(state.at);
    } else {
      connect();
      await Promise.all([loadSessions(), loadDetail()]);
    }
    document.body.dataset.ready = 'true';
  }

  window.addEventListener('DOMContentLoaded', () => {
    start().catch(showError);
  });
})();
