// The dashboard page: renders each `snapshot` event of the /events stream.
// Everything from the server is written with textContent, never as markup, so a
// node's error message or a page's host cannot inject HTML (the CSP forbids
// inline script as well).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  // A snapshot comes at least every 5 s; twice that of silence means the
  // connection is dead even if the browser has not noticed.
  const STALE_MS = 12000;
  let source = null;
  let lastEvent = 0;
  let backoff = 1000;
  let timer = null;

  function setConnection(state, text) {
    document.body.dataset.connection = state;
    $('connection').textContent = text;
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    const none = text === undefined || text === null || text === '';
    td.textContent = none ? '—' : String(text);
    td.className = [className, none ? 'none' : ''].filter(Boolean).join(' ');
    row.appendChild(td);
    return td;
  }

  function pill(row, text, kind) {
    const td = document.createElement('td');
    const span = document.createElement('span');
    span.className = 'pill ' + kind + '-' + text;
    span.textContent = text.replace('_', '-');
    td.appendChild(span);
    row.appendChild(td);
  }

  function load(row, inFlight, capacity) {
    const td = cell(row, inFlight + ' / ' + capacity, 'num load');
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = (capacity > 0 ? Math.min(100, (100 * inFlight) / capacity) : 0) + '%';
    bar.appendChild(fill);
    td.appendChild(bar);
  }

  // Sessions open / the most the node holds; blank while unknown.
  function sessions(n) {
    if (n.sessions == null) return null;
    return n.sessions_max == null ? n.sessions : n.sessions + ' / ' + n.sessions_max;
  }

  function emptyRow(columns, text) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = cell(tr, text);
    td.colSpan = columns;
    return tr;
  }

  function renderNodes(nodes) {
    const rows = nodes.map((n) => {
      const tr = document.createElement('tr');
      tr.dataset.node = n.name;
      tr.dataset.state = n.state;
      tr.dataset.breaker = n.breaker;
      cell(tr, n.name, 'name');
      pill(tr, n.state, 'state');
      pill(tr, n.breaker, 'breaker');
      load(tr, n.in_flight, n.capacity);
      cell(tr, sessions(n), 'num');
      // Sessions moved off this node (it died, was cut off or restarted).
      const moved = cell(tr, n.sessions_moved ? String(n.sessions_moved) : null, 'num');
      if (n.last_move) moved.title = n.last_move;
      cell(tr, n.jobs_ok + ' / ' + n.jobs_failed, 'num');
      cell(tr, n.arch);
      cell(tr, Object.entries(n.tags || {}).map(([k, v]) => k + '=' + v).join(', '));
      cell(tr, n.last_heartbeat_secs == null ? null : n.last_heartbeat_secs + ' s ago');
      const error = cell(tr, n.last_error, 'error-text');
      if (n.last_error) error.title = n.last_error;
      return tr;
    });
    $('nodes-body').replaceChildren(...(rows.length ? rows : [emptyRow(11, 'no nodes')]));
  }

  function clock(time) {
    const date = new Date(time);
    return isNaN(date) ? time : date.toLocaleTimeString();
  }

  function duration(ms) {
    return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  }

  function renderCalls(calls) {
    const rows = calls.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.tool = c.tool;
      tr.dataset.status = c.status;
      cell(tr, clock(c.time), 'time');
      cell(tr, c.tool, 'name');
      cell(tr, c.host);
      cell(tr, c.node);
      // Who called (the token's name, with --tokens-file), then with what.
      cell(tr, c.principal ? c.principal + (c.client ? ' · ' + c.client : '') : c.client);
      pill(tr, c.status, 'status');
      if (c.error_kind) tr.lastChild.title = c.error_kind;
      cell(tr, duration(c.duration_ms), 'num');
      return tr;
    });
    $('calls-body').replaceChildren(...(rows.length ? rows : [emptyRow(7, 'no calls yet')]));
  }

  function render(snapshot) {
    const t = snapshot.totals;
    $('nodes-up').textContent = t.nodes_up + ' / ' + t.nodes;
    $('nodes-up').className = 'value' + (t.nodes_up === 0 ? ' bad' : t.nodes_up < t.nodes ? ' warn' : '');
    $('calls-ok').textContent = t.calls_ok;
    $('calls-failed').textContent = t.calls_failed;
    $('calls-failed').className = 'value' + (t.calls_failed > 0 ? ' warn' : '');
    $('sessions').textContent = t.sessions;
    $('version').textContent = 'v' + snapshot.version;
    $('sign-out').hidden = !snapshot.auth;
    renderNodes(snapshot.farm.nodes);
    renderCalls(snapshot.recent);
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  function reconnectLater() {
    setConnection('reconnecting', 'reconnecting…');
    clearTimeout(timer);
    timer = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10000);
  }

  // EventSource retries on its own after a network error, but gives up for good
  // on an HTTP error: then ask why, and show the sign-in page if that is it.
  async function afterClose() {
    try {
      const probe = new AbortController();
      const response = await fetch('events', { signal: probe.signal, cache: 'no-store' });
      probe.abort();
      if (response.status === 401) {
        location.reload();
        return;
      }
    } catch (_) {
      // The server is unreachable: keep trying.
    }
    reconnectLater();
  }

  function connect() {
    if (source) source.close();
    setConnection(lastEvent ? 'reconnecting' : 'connecting', lastEvent ? 'reconnecting…' : 'connecting…');
    source = new EventSource('events');
    source.addEventListener('snapshot', (event) => {
      lastEvent = Date.now();
      backoff = 1000;
      setConnection('live', 'live');
      render(JSON.parse(event.data));
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        afterClose();
      } else {
        setConnection('reconnecting', 'reconnecting…');
      }
    };
  }

  setInterval(() => {
    if (lastEvent && Date.now() - lastEvent > STALE_MS && document.body.dataset.connection === 'live') {
      reconnectLater();
    }
  }, 2000);

  connect();
})();
