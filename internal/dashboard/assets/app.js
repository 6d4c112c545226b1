// Custodian dashboard: the table list (counts by state, search, filters, a
// page of rows, the picked table's card), history log and actions, kept live
// over Server-Sent Events. Plain DOM, no dependencies.
'use strict';

(() => {
  const PAGE = 50;        // history rows per page
  const LIVE_ROWS = 100;  // rows kept on the newest page as events arrive
  const VERBS = ['compact', 'backup', 'verify', 'drill', 'restore'];

  const state = {
    session: { auth_required: false, logged_in: true },
    filter: {},
    before: 0,          // 0: the newest page, which live events extend
    oldest: 0,          // seq of the last row shown
    // The table list: its filters and page (GET /api/tables), the rows
    // shown, the selected table's key ("node/table") and its card.
    tables: { q: '', state: '', node: '' },
    offset: 0,
    page: null,          // the last answer of GET /api/tables
    rowEls: new Map(),   // card key -> {json, el, card} of the rows shown
    selected: '',
    detail: null,        // {key, json} of the card shown
    tablesReq: 0,        // the newest request for a page: older answers are dropped
    tablesTimer: null,
    tablesDue: 0,        // when tablesTimer fires
    msgs: new Map(),    // card key -> last action message
    pollTimer: null,    // polling instead of live updates (see connect)
    polledSeq: 0,       // the newest row a poll saw
    // Live rows lately received, oldest first: a history load that was
    // answered before some of them arrived puts them back (see loadHistory).
    recent: [],
  };
  window.custodian = { pageId: Math.random().toString(36).slice(2), ready: false };

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs = {}) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  }

  async function getJSON(path) {
    const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && body.error && body.error.message) || `${path}: HTTP ${r.status}`);
    return body;
  }

  // ---- formatting ----
  function fmtBytes(n) {
    if (n === undefined || n === null) return '–';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return `${i ? n.toFixed(1) : n} ${u[i]}`;
  }
  function fmtDur(ms) {
    if (ms === undefined || ms === null) return '';
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }
  function fmtAge(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  }
  const ago = (iso) => `${fmtAge(Date.now() - Date.parse(iso))} ago`;
  function fmtTime(iso) {
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  function resultOf(r) {
    if (r.result) return r.result;
    if (r.type.endsWith('.failed')) return 'failed';
    if (r.type.endsWith('.skipped')) return 'skipped';
    if (r.type.endsWith('.completed')) return 'ok';
    return '';
  }

  // ---- session ----
  async function loadSession() {
    const s = await getJSON('/api/session');
    state.session = s;
    $('#login').hidden = !(s.auth_required && !s.logged_in);
    $('#logout').hidden = !(s.auth_required && s.logged_in);
  }

  // ---- cards ----
  const fmtCount = (n) => Number(n).toLocaleString('en-US');
  const stateLabel = (st) => st.replace('_', ' ');
  const keyOf = (c) => `${c.node}/${c.table}`;

  function outcomeText(o, extra) {
    if (!o) return 'never';
    const parts = [o.result];
    if (o.duration_ms) parts.push(fmtDur(o.duration_ms));
    parts.push(...extra.filter(Boolean));
    if (o.error) parts.push(o.error);
    else if (o.reason) parts.push(o.reason);
    parts.push(ago(o.time));
    return parts.join(' · ');
  }

  function plot(series) {
    const W = 300, H = 48;
    const s = svg('svg', { class: 'plot', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
    const pts = (series || []).filter((p) => p.bytes !== undefined);
    if (pts.length < 2) {
      const t = svg('text', { x: 4, y: 28 });
      t.textContent = pts.length ? `one size sample: ${fmtBytes(pts[0].bytes)}` : 'no size samples yet';
      s.append(t);
      s.setAttribute('aria-label', t.textContent);
      return s;
    }
    const t0 = Date.parse(pts[0].time), t1 = Date.parse(pts[pts.length - 1].time) || t0 + 1;
    const max = Math.max(...pts.map((p) => p.bytes)), min = Math.min(...pts.map((p) => p.bytes));
    const span = max - min || 1;
    const xy = pts.map((p) => {
      const x = ((Date.parse(p.time) - t0) / ((t1 - t0) || 1)) * (W - 2) + 1;
      const y = H - 3 - ((p.bytes - min) / span) * (H - 14);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    s.append(svg('polyline', { points: xy.join(' ') }));
    const label = svg('text', { x: 4, y: 10 });
    label.textContent = `${fmtBytes(min)} – ${fmtBytes(max)} over ${fmtAge(t1 - t0)}`;
    s.append(label);
    s.setAttribute('aria-label', `size from ${fmtBytes(pts[0].bytes)} to ${fmtBytes(pts[pts.length - 1].bytes)}`);
    return s;
  }

  // LAG_HIGH_MS: an off-site journal lag above it is highlighted (the
  // goal is at most 1 s behind under normal load).
  const LAG_HIGH_MS = 1000;

  // offsiteRows adds the table's off-site state (supervisor --offsite on)
  // to a card's list: the last backup copied off-site, the journal's lag
  // behind the stream, why shipping fails, a copy that failed.
  function offsiteRows(o, dl) {
    if (!o) return;
    const add = (k, v, cls) => dl.append(el('dt', { text: k }), el('dd', { class: cls, text: v }));
    const lc = o.last_copy;
    add('Off-site', lc ? `${fmtTime(lc.time)} · ${fmtBytes(lc.bytes)} stored, ${fmtBytes(lc.reused_bytes)} reused` : 'no copy yet', 'offsite-copy');
    if (o.journal_lag_ms !== undefined) {
      const high = o.journal_lag_ms > LAG_HIGH_MS;
      add('Journal', `off-site lag ${(o.journal_lag_ms / 1000).toFixed(1)} s`, high ? 'offsite-lag high' : 'offsite-lag');
    }
    if (o.error) add('Off-site error', o.error, 'offsite-error');
    const f = o.last_failure;
    if (f) add('Off-site failed', outcomeText(f, [f.backup_id ? `backup ${f.backup_id} is on this disk only` : '']), 'offsite-failed');
  }

  function cardEl(c) {
    const key = `${c.node}/${c.table}`;
    const dl = el('dl');
    const row = (k, v) => dl.append(el('dt', { text: k }), el('dd', { text: v }));
    row('Size', fmtBytes(c.bytes));
    row('Records', String(c.records));
    row('Dead', `${(100 * (c.dead_ratio || 0)).toFixed(1)} % (${c.dead_records} records)`);
    if (c.queue > 0) row('Queued', `${c.queue} command${c.queue === 1 ? '' : 's'}`);
    const lc = c.last_compaction;
    let reclaimed = '';
    if (lc && lc.bytes_reclaimed > 0) reclaimed = `reclaimed ${fmtBytes(lc.bytes_reclaimed)}`;
    else if (lc && lc.bytes_reclaimed < 0) reclaimed = `grew ${fmtBytes(-lc.bytes_reclaimed)}`;
    row('Compaction', outcomeText(lc, [reclaimed]));
    const lb = c.last_backup;
    row('Backup', lb ? `${lb.backup_id || '?'} · ${fmtAge(c.last_backup_age_ms)} old` : 'never');
    if (c.last_backup_failure) row('Backup failed', outcomeText(c.last_backup_failure, []));
    row('Verify', outcomeText(c.last_verify, [c.last_verify && c.last_verify.records ? `${c.last_verify.records} records` : '']));
    const lr = c.last_restore;
    if (lr) {
      row('Restore', outcomeText(lr, [lr.trigger, lr.at ? `to ${fmtTime(lr.at)}` : '', lr.records ? `${lr.records} records` : '',
        lr.journal_records ? `${lr.journal_records} journal writes` : '',
        lr.recovered_to ? `recovered to ${fmtTime(lr.recovered_to)}` : '',
        lr.backup_age_ms ? `backup ${fmtAge(lr.backup_age_ms)} old` : '']));
    }
    const ld = c.last_drill;
    row('Drill', outcomeText(ld, [ld && ld.journal_records ? `${ld.journal_records} journal writes` : '']));
    if (c.recoverable_to) row('Recoverable to', fmtTime(c.recoverable_to));
    offsiteRows(c.offsite, dl);
    for (const [op, t] of Object.entries(c.next || {})) {
      const d = Date.parse(t) - Date.now();
      row(`Next ${op}`, d > 0 ? `in ${fmtAge(d)}` : `due (${fmtTime(t)})`);
    }
    const buttons = el('div', { class: 'actions' });
    const canAct = !state.session.auth_required || state.session.logged_in;
    const msg = el('p', { class: 'msg', 'aria-live': 'polite', text: state.msgs.get(key) || '' });
    for (const verb of VERBS) {
      const b = el('button', {
        type: 'button', 'data-verb': verb, disabled: !canAct,
        title: canAct ? `${verb} ${c.table}` : 'log in with the admin token first',
        text: verb[0].toUpperCase() + verb.slice(1),
      });
      b.addEventListener('click', () => act(c, verb, b, msg));
      buttons.append(b);
    }
    return el('article', { class: `card state-${c.state}`, 'data-table': c.table, 'data-node': c.node, 'data-state': c.state },
      el('h3', {}, el('span', {}, el('span', { class: 'table-name', text: c.table }), ' ', el('span', { class: 'node', text: `on ${c.node}` })),
        el('span', { class: 'title-badges' },
          el('span', { class: 'badge state', text: c.state.replace('_', ' ') }),
          c.critical ? el('span', {
            class: 'badge critical', text: 'critical',
            title: c.on_unrecoverable === 'stop'
              ? 'critical table: if it cannot be repaired the whole node stops serving data'
              : 'critical table: if it cannot be repaired the node reports itself failing',
          }) : null)),
      c.state === 'degraded' && c.reason ? el('p', { class: 'reason', text: c.reason }) : null,
      lr && lr.lost ? el('p', { class: 'reason lost', text: `The last restore (${fmtTime(lr.time)}) LOST acknowledged writes: ${lr.lost_reason || 'no reason given'}${lr.recovered_to ? `; recovered to ${fmtTime(lr.recovered_to)}` : ''}` }) : null,
      c.writes === 'failing' ? el('p', { class: 'reason writes', text: `writes fail${c.writes_code === 'no_space' ? ' (disk full)' : ''} since ${c.writes_since || '?'}: ${c.writes_error || ''}; reads go on` }) : null,
      dl, plot(c.series), buttons, msg);
  }

  // ---- the table list ----
  // TABLE_ROWS is the page of the list: the page stays short at any
  // number of tables (the search, the state and node filters and the
  // pager reach the others).
  const TABLE_ROWS = 20;
  // Events of tables on the page reload it within SOON_MS; others, which
  // change only the counts or the order, within LATER_MS: a burst of
  // events across thousands of tables costs a request now and then.
  const SOON_MS = 300;
  const LATER_MS = 2000;
  const NODE_VERBS = { compact: 'Compact', backup: 'Back up', verify: 'Verify', drill: 'Drill' };

  function tablesQuery() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state.tables)) if (v) q.set(k, v);
    q.set('limit', String(TABLE_ROWS));
    if (state.offset) q.set('offset', String(state.offset));
    return `/api/tablepage?${q}`;
  }

  // loadTables fetches the page of the list with its counts and renders
  // what changed (everything with force, for the relative times).
  async function loadTables(force) {
    const req = ++state.tablesReq;
    let p;
    try {
      p = await getJSON(tablesQuery());
    } catch (e) {
      if (req === state.tablesReq) showTablesError(e);
      return;
    }
    if (req !== state.tablesReq) return; // a newer request is on its way
    if (p.tables.length === 0 && state.offset > 0 && p.filtered > 0) {
      // Tables went away under this page: show the last one.
      state.offset = Math.floor((p.filtered - 1) / TABLE_ROWS) * TABLE_ROWS;
      await loadTables(force);
      return;
    }
    $('#tables-error').hidden = true;
    state.page = p;
    renderSummary(p);
    renderNodeChoice(p);
    renderRows(p, force);
    await renderDetail(force);
  }

  function showTablesError(e) {
    const err = $('#tables-error');
    err.textContent = e.message;
    err.hidden = false;
  }

  function scheduleTables(delay) {
    const due = Date.now() + delay;
    if (state.tablesTimer) {
      if (state.tablesDue <= due) return;
      clearTimeout(state.tablesTimer);
    }
    state.tablesDue = due;
    state.tablesTimer = setTimeout(() => {
      state.tablesTimer = null;
      loadTables();
    }, delay);
  }

  // tableEvent takes a live event about a table.
  function tableEvent(r) {
    const key = `${r.node}/${r.table}`;
    scheduleTables(state.rowEls.has(key) || state.selected === key ? SOON_MS : LATER_MS);
  }

  function setTableFilter(k, v) {
    if (state.tables[k] === v) return;
    state.tables[k] = v;
    state.offset = 0;
    loadTables();
  }

  // renderSummary shows the number of tables and the counts by state,
  // failures first; a count is a button that lists those tables.
  function renderSummary(p) {
    const nodes = p.nodes.length;
    $('#table-total').textContent = `${fmtCount(p.total)} table${p.total === 1 ? '' : 's'} on ${fmtCount(nodes)} node${nodes === 1 ? '' : 's'}`;
    const box = $('#summary');
    const sig = JSON.stringify([p.states, state.tables.state]);
    if (box.dataset.sig !== sig) {
      box.dataset.sig = sig;
      box.replaceChildren(...p.states.map((s) => {
        const on = state.tables.state === s.state;
        const b = el('button', {
          type: 'button', class: `count state-${s.state}${s.tables ? '' : ' zero'}`,
          'data-state': s.state, 'data-count': String(s.tables), 'aria-pressed': on ? 'true' : 'false',
          title: on ? 'list the tables of every state' : `list the ${stateLabel(s.state)} tables`,
        }, el('span', { class: 'n', text: fmtCount(s.tables) }), ' ', el('span', { class: 'label', text: stateLabel(s.state) }));
        b.addEventListener('click', () => setTableFilter('state', on ? '' : s.state));
        return b;
      }));
    }
    const sel = $('#table-filters').elements.state;
    if (sel.options.length === 1) sel.append(...p.states.map((s) => el('option', { value: s.state, text: stateLabel(s.state) })));
    sel.value = state.tables.state;
  }

  function renderNodeChoice(p) {
    const sel = $('#table-filters').elements.node;
    const chosen = state.tables.node;
    const sig = JSON.stringify([p.nodes, chosen]);
    if (sel.dataset.sig !== sig) {
      sel.dataset.sig = sig;
      const opts = p.nodes.map((n) => el('option', { value: n.node, text: `${n.node} (${fmtCount(n.tables)})` }));
      if (chosen && !p.nodes.some((n) => n.node === chosen)) opts.push(el('option', { value: chosen, text: `${chosen} (0)` }));
      sel.replaceChildren(el('option', { value: '', text: 'every node' }), ...opts);
    }
    sel.value = chosen;
    renderNodeActions();
  }

  function nodeTables(node) {
    const n = state.page && state.page.nodes.find((x) => x.node === node);
    return n ? n.tables : 0;
  }

  // renderNodeActions enables the node-wide buttons once a node with
  // tables is chosen (and the session may act).
  function renderNodeActions() {
    const node = state.tables.node;
    const canAct = !state.session.auth_required || state.session.logged_in;
    const n = nodeTables(node);
    $('#node-actions-label').textContent = node ? `Every table of ${node} (${fmtCount(n)}):` : 'Pick a node for node-wide actions.';
    for (const b of $$('#node-actions button')) {
      b.disabled = !node || !canAct || n === 0;
      b.title = !canAct ? 'log in with the admin token first' : node ? `${b.dataset.nodeVerb} every table of node ${node}` : 'pick a node first';
    }
  }

  // sig is what a row or card shows of c; the age of the last backup
  // moves on with every answer: the periodic forced render updates it.
  const sig = (c) => JSON.stringify({ ...c, last_backup_age_ms: undefined });

  function rowOf(c) {
    const key = keyOf(c);
    const tr = el('tr', {
      class: `state-${c.state}`, 'data-table': c.table, 'data-node': c.node, 'data-state': c.state,
      tabindex: '0', 'aria-selected': state.selected === key ? 'true' : 'false',
    },
    el('td', { class: 'name', title: c.table }, el('span', { class: 'table-name', text: c.table }), c.critical ? el('span', { class: 'badge critical', text: 'critical' }) : null),
    el('td', { text: c.node, title: c.node }),
    el('td', {}, el('span', { class: 'badge state', text: stateLabel(c.state), title: c.reason || c.writes_error || null })),
    el('td', { class: 'num', text: fmtBytes(c.bytes) }),
    el('td', { class: 'num', text: fmtCount(c.records || 0) }),
    el('td', { class: 'num', text: `${(100 * (c.dead_ratio || 0)).toFixed(1)} %` }),
    el('td', { text: c.last_backup ? `${fmtAge(c.last_backup_age_ms)} ago` : (c.last_backup_failure ? 'failed' : 'never') }));
    tr.addEventListener('click', () => select(key));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        select(key);
      }
    });
    return tr;
  }

  function renderRows(p, force) {
    const body = $('#table-list tbody');
    const next = new Map();
    const els = p.tables.map((c) => {
      const key = keyOf(c);
      const json = sig(c);
      const old = state.rowEls.get(key);
      const tr = !force && old && old.json === json ? old.el : rowOf(c);
      tr.setAttribute('aria-selected', state.selected === key ? 'true' : 'false');
      next.set(key, { json, el: tr, card: c });
      return tr;
    });
    state.rowEls = next;
    // Touch the DOM only where a row changed or moved.
    els.forEach((tr, i) => {
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    while (body.children.length > els.length) body.lastElementChild.remove();
    $('#no-tables').hidden = p.total > 0;
    $('#no-match').hidden = !(p.total > 0 && p.filtered === 0);
    const to = p.offset + p.tables.length;
    $('#tables-range').textContent = p.filtered ? `${fmtCount(p.offset + 1)}–${fmtCount(to)} of ${fmtCount(p.filtered)}` : '';
    $('#tables-first').disabled = p.offset === 0;
    $('#tables-prev').disabled = p.offset === 0;
    $('#tables-next').disabled = to >= p.filtered;
    const names = [...new Set(p.tables.map((c) => c.table))];
    $('#table-names').replaceChildren(...names.map((n) => el('option', { value: n })));
  }

  function select(key) {
    state.selected = key;
    for (const [k, r] of state.rowEls) r.el.setAttribute('aria-selected', k === key ? 'true' : 'false');
    renderDetail();
  }

  // renderDetail shows the selected table's full card: from the page when
  // the table is on it, otherwise from GET /api/tables/<table>.
  async function renderDetail(force) {
    const key = state.selected;
    const box = $('#detail');
    if (!key) {
      state.detail = null;
      if (!$('#detail-hint')) box.replaceChildren(el('p', { id: 'detail-hint', class: 'muted', text: 'Pick a table in the list to see its card and its actions.' }));
      return;
    }
    const row = state.rowEls.get(key);
    let c = row && row.card;
    if (!c) {
      const [node, table] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      try {
        c = (await getJSON(`/api/tables/${encodeURIComponent(table)}`)).find((x) => x.node === node);
      } catch {
        c = null;
      }
      if (state.selected !== key) return; // another table was picked meanwhile
      if (!c) {
        state.detail = null;
        box.replaceChildren(el('p', { class: 'muted', text: `${table} on ${node}: no card now.` }));
        return;
      }
    }
    const json = sig(c);
    if (!force && state.detail && state.detail.key === key && state.detail.json === json) return;
    const close = el('button', { type: 'button', class: 'close', id: 'detail-close', title: 'close the card', 'aria-label': 'close the card', text: '×' });
    close.addEventListener('click', () => select(''));
    state.detail = { key, json };
    box.replaceChildren(close, cardEl(c));
  }

  // askNode asks in its dialog whether to run a node-wide action and
  // resolves with the answer (as askRestore does, from the form's submit).
  let nodePending = null;
  function askNode(text, confirmText) {
    const dlg = $('#node-dialog');
    if (nodePending) nodePending(false);
    $('#node-text').textContent = text;
    $('#node-confirm').textContent = confirmText;
    return new Promise((resolve) => {
      const finish = (ok) => {
        if (nodePending !== finish) return;
        nodePending = null;
        dlg.removeEventListener('submit', onSubmit);
        dlg.removeEventListener('close', onClose);
        resolve(ok);
      };
      const onSubmit = (e) => finish(!!e.submitter && e.submitter.value === 'confirm');
      const onClose = () => { if (!dlg.open) finish(false); };
      nodePending = finish;
      dlg.addEventListener('submit', onSubmit);
      dlg.addEventListener('close', onClose);
      dlg.returnValue = '';
      dlg.showModal();
    });
  }

  // nodeAct runs verb on every table of the chosen node, once the
  // operator confirmed it in the dialog that names how many tables.
  async function nodeAct(verb, button) {
    const node = state.tables.node;
    const n = nodeTables(node);
    if (!node || !n) return;
    const tables = n === 1 ? 'the only table' : `all ${fmtCount(n)} tables`;
    const yes = await askNode(`${NODE_VERBS[verb]} ${tables} of node ${node}?`, `${NODE_VERBS[verb]} ${fmtCount(n)} table${n === 1 ? '' : 's'}`);
    if (!yes) return;
    const msg = $('#node-msg');
    const say = (text, err) => { msg.textContent = text; msg.classList.toggle('error', !!err); };
    button.disabled = true;
    say(`${verb} every table of ${node}: sending…`);
    try {
      const headers = { Accept: 'application/json' };
      if (state.session.csrf_token) headers['X-CSRF-Token'] = state.session.csrf_token;
      const r = await fetch(`/api/nodes/${encodeURIComponent(node)}/${verb}`, { method: 'POST', credentials: 'same-origin', headers });
      const answer = await r.json().catch(() => null);
      if (r.ok && answer) {
        const cmds = (answer.commands || []).length;
        const refused = answer.refused || [];
        const why = refused.slice(0, 3).map((x) => `${x.table}: ${(x.error && x.error.message) || '?'}`).join('; ');
        say(`${verb} on ${node}: ${fmtCount(cmds)} command${cmds === 1 ? '' : 's'} accepted${refused.length ? `, ${fmtCount(refused.length)} refused (${why}${refused.length > 3 ? '; …' : ''})` : ''}`, refused.length > 0);
      } else {
        say(`${verb} on ${node} refused: ${(answer && answer.error && answer.error.message) || `HTTP ${r.status}`}`, true);
      }
    } catch (e) {
      say(`${verb} on ${node} failed: ${e.message}`, true);
    } finally {
      renderNodeActions();
    }
  }

  // wireTables connects the list's search, filters, pager and node-wide
  // buttons.
  function wireTables() {
    const form = $('#table-filters');
    let searchTimer = null;
    const search = () => setTableFilter('q', form.elements.q.value.trim().toLowerCase());
    form.elements.q.addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(search, 200);
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      clearTimeout(searchTimer);
      search();
    });
    form.elements.state.addEventListener('change', () => setTableFilter('state', form.elements.state.value));
    form.elements.node.addEventListener('change', () => {
      setTableFilter('node', form.elements.node.value);
      renderNodeActions();
    });
    $('#tables-first').addEventListener('click', () => { state.offset = 0; loadTables(); });
    $('#tables-prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - TABLE_ROWS); loadTables(); });
    $('#tables-next').addEventListener('click', () => { state.offset += TABLE_ROWS; loadTables(); });
    for (const b of $$('#node-actions button')) b.addEventListener('click', () => nodeAct(b.dataset.nodeVerb, b));
  }

  // askRestore opens the restore dialog for table and resolves with the
  // command's body ({} for the latest state, {at} for a point in time), or
  // null when the operator cancels.
  //
  // The answer is taken when the form is submitted, not from the dialog's
  // close event: that event is a queued task, fired after the dialog
  // closed, and a click on a card's Restore button can run before it (the
  // browser puts input first on a busy page). A close event of an earlier
  // opening then reached this opening's listener with the dialog open and
  // returnValue '': it resolved this opening with null, and the operator's
  // confirm went nowhere.
  let restorePending = null; // finish of the opening not answered yet
  function askRestore(table) {
    const dlg = $('#restore-dialog');
    const input = dlg.querySelector('input[name="at"]');
    const err = $('#restore-error');
    // An earlier opening closed (Esc) whose close event has not come yet:
    // it was not confirmed (a confirm answers at once).
    if (restorePending) restorePending(null);
    $('#restore-title').textContent = `Restore ${table}`;
    $('#restore-text').textContent = `Restore table "${table}"? The table refuses requests while it restores.`;
    const off = -new Date().getTimezoneOffset();
    const p = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
    $('#restore-tz').textContent = `UTC${off < 0 ? '-' : '+'}${p(off / 60)}:${p(off % 60)}`;
    // A reset, not value = '': it also clears a half-typed time of an
    // earlier opening (its value is '' already).
    dlg.querySelector('form').reset();
    err.hidden = true;
    return new Promise((resolve) => {
      const finish = (body) => {
        if (restorePending !== finish) return;
        restorePending = null;
        dlg.removeEventListener('submit', onSubmit);
        dlg.removeEventListener('close', onClose);
        resolve(body);
      };
      const onSubmit = (e) => {
        // Cancel (or a submit without the Restore button): the form
        // closes the dialog.
        if (!e.submitter || e.submitter.value !== 'restore') { finish(null); return; }
        // A half-typed time has an empty value: it must not mean "the
        // latest state".
        if (input.validity.badInput || (input.value && Number.isNaN(new Date(input.value).getTime()))) {
          e.preventDefault();
          err.textContent = 'Not a time: pick a date and time, or leave the field empty.';
          err.hidden = false;
          return;
        }
        // A datetime-local value is the browser's local time: sent as
        // RFC 3339 in UTC. The form closes the dialog.
        finish(input.value ? { at: new Date(input.value).toISOString() } : {});
      };
      // Closed without the form (Esc): cancelled. A close event that
      // finds the dialog open is an earlier opening's, late: not ours.
      const onClose = () => { if (!dlg.open) finish(null); };
      restorePending = finish;
      dlg.addEventListener('submit', onSubmit);
      dlg.addEventListener('close', onClose);
      dlg.returnValue = '';
      dlg.showModal();
    });
  }

  async function act(c, verb, button, msg) {
    const key = `${c.node}/${c.table}`;
    let body = null;
    if (verb === 'restore') {
      body = await askRestore(c.table);
      if (!body) return;
      if (!body.at) body = null; // the latest state: the command's defaults
    }
    const say = (text, err) => { state.msgs.set(key, text); msg.textContent = text; msg.classList.toggle('error', !!err); };
    button.disabled = true;
    say(`${verb}: sending…`);
    try {
      // No body unless needed: the command's defaults. (An upload body
      // costs the browser a round trip through its network process.)
      const headers = { Accept: 'application/json' };
      if (state.session.csrf_token) headers['X-CSRF-Token'] = state.session.csrf_token;
      const init = { method: 'POST', credentials: 'same-origin', headers };
      if (body) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      const r = await fetch(`/api/tables/${encodeURIComponent(c.table)}/${verb}`, init);
      const answer = await r.json().catch(() => null);
      const what = body && body.at ? `${verb} to ${fmtTime(body.at)}` : verb;
      if (r.ok && answer) say(`${what} accepted · command ${answer.command_id}`);
      else say(`${what} refused: ${(answer && answer.error && answer.error.message) || `HTTP ${r.status}`}`, true);
    } catch (e) {
      say(`${verb} failed: ${e.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  // ---- history ----
  function parseSince(v) {
    if (!v) return 0;
    const t = Date.parse(v);
    if (!Number.isNaN(t) && /\d{4}-\d\d-\d\d/.test(v)) return t;
    const units = { ms: 1, s: 1e3, m: 6e4, h: 36e5 };
    let total = 0, rest = v;
    const re = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
    while (rest) {
      const m = re.exec(rest);
      if (!m) return 0;
      total += parseFloat(m[1]) * units[m[2]];
      rest = rest.slice(m[0].length);
    }
    return Date.now() - total;
  }
  // The size reports every table sends (when its figures change, and as
  // progress of running work) live in their own stream: shown only when the
  // type filter asks for them by name (the history then comes from there).
  const STATS = 'table.stats';
  const hideStats = () => (state.filter.type || '').replace(/\.$/, '') !== STATS;

  function matches(r) {
    const f = state.filter;
    if (r.type === STATS && hideStats()) return false;
    if (f.table && r.table !== f.table) return false;
    if (f.type) {
      const want = f.type.replace(/\.$/, '');
      if (r.type !== want && !r.type.startsWith(`${want}.`)) return false;
    }
    if (f.result && resultOf(r) !== f.result) return false;
    if (f.since && Date.parse(r.time) < parseSince(f.since)) return false;
    return true;
  }

  function details(r) {
    if (r.error) return r.error;
    const d = r.data || {};
    const bits = [];
    if (d.verb) bits.push(d.verb);
    if (d.reason) bits.push(d.reason);
    if (d.backup_id) bits.push(`backup ${d.backup_id}`);
    if (d.bytes_before !== undefined && d.bytes_after !== undefined) bits.push(`${fmtBytes(d.bytes_before)} → ${fmtBytes(d.bytes_after)}`);
    else if (d.bytes !== undefined) bits.push(fmtBytes(d.bytes));
    if (d.records !== undefined) bits.push(`${d.records} records`);
    if (d.offsite_bytes !== undefined) bits.push(`off-site ${fmtBytes(d.offsite_bytes)} stored, ${fmtBytes(d.offsite_reused_bytes || 0)} reused`);
    if (d.at) bits.push(`to ${fmtTime(d.at)}`);
    if (d.journal_records !== undefined) bits.push(`${d.journal_records} journal writes`);
    if (d.recovered_to) bits.push(`recovered to ${fmtTime(d.recovered_to)}`);
    if (d.lost) bits.push(`LOST writes: ${d.lost_reason || '?'}`);
    if (d.critical) bits.push(d.on_unrecoverable === 'stop' ? 'CRITICAL, node stopped' : 'CRITICAL');
    if (r.trigger) bits.push(r.trigger);
    return bits.join(' · ');
  }

  function rowEl(r) {
    const res = resultOf(r);
    return el('tr', { class: res ? `result-${res}` : '', 'data-seq': r.seq, 'data-type': r.type, 'data-table': r.table, 'data-command-id': r.command_id || null },
      el('td', { text: fmtTime(r.time), title: r.time }),
      el('td', { text: r.node }),
      el('td', { text: r.table || '–' }),
      el('td', { text: r.type }),
      el('td', { text: res }),
      el('td', { class: 'num', text: r.duration_ms ? fmtDur(r.duration_ms) : '' }),
      el('td', { text: details(r) }),
      el('td', { class: 'num', text: String(r.seq) }));
  }

  function historyQuery(before) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state.filter)) if (v) q.set(k, v);
    if (hideStats()) q.set('exclude', STATS);
    q.set('limit', String(PAGE));
    if (before) q.set('before', String(before));
    return `/api/history?${q}`;
  }

  async function loadHistory(before) {
    const err = $('#history-error');
    let rows;
    try {
      rows = await getJSON(historyQuery(before));
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      return;
    }
    err.hidden = true;
    state.before = before;
    $('#history tbody').replaceChildren(...rows.map(rowEl));
    state.oldest = rows.length ? rows[rows.length - 1].seq : 0;
    $('#older').disabled = rows.length < PAGE;
    $('#newest').disabled = before === 0;
    // Rows that arrived live while the page was loading and are newer
    // than what the server answered would be lost by the replacement.
    const newest = rows.length ? rows[0].seq : 0;
    for (const r of state.recent) if (r.seq > newest) addLive(r);
  }

  function addLive(r) {
    if (state.before !== 0 || !matches(r)) return;
    const body = $('#history tbody');
    if (body.querySelector(`tr[data-seq="${r.seq}"]`)) return;
    const tr = rowEl(r);
    // Highlight new rows for a moment: one class change each way, no
    // animation frames (the page stays cheap under a burst of events).
    tr.classList.add('fresh');
    setTimeout(() => tr.classList.remove('fresh'), 3000);
    const first = body.firstElementChild;
    if (first && Number(first.dataset.seq) > r.seq) {
      // Out of order (a reconnect catching up): put it in place.
      let at = first;
      while (at && Number(at.dataset.seq) > r.seq) at = at.nextElementSibling;
      body.insertBefore(tr, at);
    } else {
      body.prepend(tr);
    }
    while (body.children.length > LIVE_ROWS) body.lastElementChild.remove();
    if (body.children.length >= PAGE) $('#older').disabled = false;
  }

  // ---- live updates ----
  // The dashboard caps its live-update clients (--max-streams): over the
  // cap it answers 503, and an EventSource does not retry an answer other
  // than 200. The page then polls the history and the cards every
  // POLL_MS, says so, and tries live updates again every RETRY_LIVE_MS.
  const POLL_MS = 5000;
  const RETRY_LIVE_MS = 15000;

  function setLive(mode, text, title) {
    const live = $('#live');
    live.textContent = text;
    live.className = `live ${mode}`;
    live.title = title;
  }

  // connect opens the live updates; after (a sequence seen while polling)
  // makes the server send what came after it first.
  function connect(after) {
    const es = new EventSource(after ? `/api/stream?after=${after}` : '/api/stream');
    es.onopen = () => {
      stopPolling();
      setLive('on', 'live', 'live updates');
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (at the cap: 503), or another error answer.
        es.close();
        startPolling();
        setTimeout(() => connect(state.polledSeq), RETRY_LIVE_MS);
        return;
      }
      setLive('off', 'reconnecting…', 'live updates: reconnecting');
    };
    es.onmessage = (m) => {
      let r;
      try { r = JSON.parse(m.data); } catch { return; }
      state.recent.push(r);
      if (state.recent.length > LIVE_ROWS) state.recent.shift();
      addLive(r);
      if (r.table && r.table !== '_') tableEvent(r);
    };
    // The event stream was deleted and created anew: its sequences start
    // over, so the rows on the page mean nothing now. Load the new ones.
    es.addEventListener('reset', () => {
      state.recent = [];
      loadHistory(0);
      loadTables();
    });
  }

  function startPolling() {
    setLive('poll', 'polling', `live updates refused (the dashboard is at its limit of live clients) or unavailable: new events every ${POLL_MS / 1000} s`);
    if (state.pollTimer) return;
    state.pollTimer = setInterval(poll, POLL_MS);
    poll();
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  // poll adds the newest rows of the current filter that the page lacks,
  // and refreshes the cards.
  async function poll() {
    loadTables();
    if (state.before !== 0) return;
    let rows;
    try {
      rows = await getJSON(historyQuery(0));
    } catch (e) {
      showError(e);
      return;
    }
    const first = $('#history tbody tr');
    if (rows.length && first && rows[0].seq < Number(first.dataset.seq)) {
      loadHistory(0); // sequences went back: the stream was created anew
      return;
    }
    if (rows.length) state.polledSeq = Math.max(state.polledSeq, rows[0].seq);
    for (const r of rows.reverse()) addLive(r);
  }

  function showError(e) {
    const err = $('#history-error');
    err.textContent = e.message;
    err.hidden = false;
  }

  const FILTERS = ['table', 'type', 'result', 'since'];

  // readFilter takes the filter from the form and puts it in the address,
  // so that a filtered view can be bookmarked or shared.
  function readFilter() {
    const fd = new FormData($('#filters'));
    state.filter = {};
    for (const k of FILTERS) {
      const v = String(fd.get(k) || '').trim();
      if (v) state.filter[k] = v;
    }
    const q = new URLSearchParams(state.filter);
    const qs = q.toString();
    history.replaceState(null, '', qs ? `/?${qs}` : '/');
  }

  // filterFromAddress fills the form and the filter from /?table=...
  function filterFromAddress() {
    const q = new URLSearchParams(location.search);
    const form = $('#filters');
    for (const k of FILTERS) {
      const v = (q.get(k) || '').trim();
      if (!v) continue;
      state.filter[k] = v;
      form.elements[k].value = v;
    }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    $('#filters').addEventListener('submit', (e) => { e.preventDefault(); readFilter(); loadHistory(0); });
    $('#reset').addEventListener('click', () => { $('#filters').reset(); readFilter(); loadHistory(0); });
    filterFromAddress();
    wireTables();
    $('#older').addEventListener('click', () => loadHistory(state.oldest));
    $('#newest').addEventListener('click', () => loadHistory(0));
    try {
      await loadSession();
    } catch (e) {
      showError(e);
    }
    connect();
    await Promise.all([loadTables(), loadHistory(0)]);
    setInterval(() => loadTables(true), 30000);
    window.custodian.ready = true;
  });
})();
