// Progressive enhancement only: every page works without this file.
// Live validation of the landing form, mirroring src/domain/username.rs (the server checks again).
(function () {
  const form = document.getElementById('create-form');
  if (!form) return;
  const name = form.querySelector('#name');
  const user = form.querySelector('#username');
  const nameErr = form.querySelector('#name-error');
  const userErr = form.querySelector('#username-error');
  function checkName(v) {
    v = v.trim();
    const n = [...v].length;
    if (n < 1 || n > 64 || /[\u0000-\u001f\u007f]/.test(v)) return "The bot's name must be 1 to 64 characters long.";
    return '';
  }
  function checkUser(v) {
    v = v.trim().replace(/^@/, '');
    if (v.length < 5 || v.length > 32) return 'A bot username must be 5 to 32 characters long.';
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(v)) return 'A bot username may use only Latin letters, digits and underscores, and must start with a letter.';
    if (!/bot$/i.test(v)) return 'A bot username must end in "bot", for example tetris_bot or TetrisBot.';
    return '';
  }
  function show(input, el, msg, touched) {
    if (!touched) return;
    el.textContent = msg;
    input.setAttribute('aria-invalid', msg ? 'true' : 'false');
  }
  // A username made from the business's name while the owner has not typed one (the same rule
  // as suggest_username in src/web/landing.rs).
  const FOLD = { 'æ': 'ae', 'œ': 'oe', 'ß': 'ss', 'ł': 'l', 'đ': 'd', 'ı': 'i', 'ø': 'o' };
  function suggest(n) {
    const plain = [...n.replace(/([\p{L}\p{N}])&(?=[\p{L}\p{N}])/gu, '$1n').toLowerCase()].map((c) => FOLD[c] || c.normalize('NFD').replace(/[\u0300-\u036f]/g, '')).join('');
    const words = plain.replace(/['’]/g, '').split(/[^a-z0-9]+/).filter(Boolean);
    while (words.length && !/^[a-z]/.test(words[0])) words.shift();
    const tail = words.length && /bot$/.test(words[words.length - 1]) ? words.pop() : 'bot';
    let out = '';
    for (const w of words) {
      const sep = out ? 1 : 0;
      if (out.length + sep + w.length + 1 + tail.length > 32) break;
      out += (sep ? '_' : '') + w;
    }
    out = (out ? out + '_' : '') + tail;
    return out.length >= 5 && out.length <= 32 && /^[a-z]/.test(out) ? out : '';
  }
  let touchedName = !!name.value, touchedUser = !!user.value, suggested = '';
  name.addEventListener('input', () => {
    touchedName = true; show(name, nameErr, checkName(name.value), true);
    if (!touchedUser || user.value === suggested) {
      suggested = suggest(name.value);
      user.value = suggested;
      touchedUser = false;
      show(user, userErr, '', true);
    }
  });
  user.addEventListener('input', () => { touchedUser = true; show(user, userErr, checkUser(user.value), true); });
  form.addEventListener('submit', (e) => {
    // An empty username is made from the name by the server; only a typed one is checked here.
    const a = checkName(name.value), b = user.value.trim() ? checkUser(user.value) : '';
    show(name, nameErr, a, true); show(user, userErr, b, true);
    if (a || b) { e.preventDefault(); (a ? name : user).focus(); }
  });
})();

// Every file box (a label.drop): the browser's own file control is hidden, and the box says
// what was chosen, or dropped on it, instead.
document.querySelectorAll('label.drop').forEach((drop) => {
  const input = drop.querySelector('input[type=file]');
  const chosen = drop.querySelector('.chosen');
  if (!input || !chosen) return;
  const showChosen = () => {
    const names = Array.from(input.files).map((f) => f.name);
    chosen.textContent = names.length === 0 ? '' : names.length === 1 ? `Chosen: ${names[0]}` : `${names.length} files chosen: ${names.join(', ')}`;
  };
  ['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
  input.addEventListener('change', showChosen);
  drop.addEventListener('drop', (e) => { input.files = e.dataTransfer.files; showChosen(); });
});

// Sources page: drag-and-drop upload with a progress bar, and live status of the list.
(function () {
  const form = document.getElementById('upload');
  if (!form) return;
  const input = document.getElementById('files');
  const bar = document.getElementById('progress');
  form.addEventListener('submit', (e) => {
    if (!window.XMLHttpRequest || !input.files.length) return;
    e.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    bar.hidden = false;
    xhr.upload.onprogress = (p) => { if (p.lengthComputable) bar.value = Math.round((100 * p.loaded) / p.total); };
    xhr.onload = () => { document.open(); document.write(xhr.responseText); document.close(); history.replaceState(null, '', form.elements.bot ? '/app/sources?bot=' + form.elements.bot.value : '/app/sources'); };
    xhr.onerror = () => { bar.hidden = true; alert('The upload did not finish. Check your connection and try again.'); };
    xhr.send(new FormData(form));
  });
})();
(function () {
  const table = document.getElementById('sources');
  if (!table) return;
  const busy = () => table.querySelector('.pill.wait');
  if (!busy()) return;
  const timer = setInterval(async () => {
    try {
      const r = await fetch('/app/sources/status', { headers: { accept: 'application/json' } });
      if (!r.ok) return;
      const list = await r.json();
      for (const s of list) {
        const row = table.querySelector(`tr[data-id="${s.id}"] .status`);
        if (!row) continue;
        row.textContent = '';
        const pill = document.createElement('span');
        pill.className = 'pill ' + (s.status === 'ready' ? 'ok' : s.status === 'failed' || s.status === 'deleting' ? 'bad' : 'wait');
        pill.textContent = s.status === 'ready' ? `ready · ${s.chunk_count} passage${s.chunk_count === 1 ? '' : 's'}` : s.status === 'failed' ? 'failed' : s.status === 'deleting' ? 'not fully deleted' : s.status === 'processing' ? (s.progress == null ? 'reading…' : `reading… ${s.progress} %`) : 'queued';
        row.appendChild(pill);
        if (s.status === 'ready' && s.left_out) {
          const note = document.createElement('span');
          note.className = 'reason left-out';
          note.textContent = s.left_out;
          row.appendChild(note);
        }
        if (s.status === 'failed' && s.status_reason) {
          const why = document.createElement('span');
          why.className = 'reason';
          why.textContent = s.status_reason;
          row.appendChild(why);
        }
      }
      if (!busy()) clearInterval(timer);
    } catch (_) { /* keep trying */ }
  }, 1500);
})();

// Test chat: the newest exchange in view, and a note while the answer is being written.
(function () {
  const form = document.getElementById('ask');
  if (!form) return;
  const chat = document.getElementById('chat');
  if (chat && chat.lastElementChild) chat.lastElementChild.scrollIntoView({ block: 'nearest' });
  form.addEventListener('submit', () => {
    const note = document.getElementById('thinking');
    if (note) note.hidden = false;
    const b = form.querySelector('button[type=submit]');
    if (b) setTimeout(() => { b.disabled = true; }, 0);
  });
})();

// Announcements: Send works once — a second click while the page is on its way would post it again
// (the server sends it once anyway: the form carries a one-time token).
(function () {
  const form = document.getElementById('announce-form');
  if (!form) return;
  form.addEventListener('submit', () => {
    const b = form.querySelector('button[type=submit]');
    if (b) setTimeout(() => { b.disabled = true; }, 0);
  });
})();

// Announcements: the number of customers beside the days, asked again as the owner changes them
// (a moment after the last keystroke), so it is never the number of other days.
(function () {
  const days = document.getElementById('days');
  if (!days || !days.dataset.audienceUrl) return;
  const count = document.getElementById('audience');
  const noun = document.getElementById('audience-noun');
  const shownDays = document.getElementById('audience-days');
  const leftOut = document.getElementById('audience-left-out');
  let timer = null;
  let asked = 0;
  async function ask() {
    const n = parseInt(days.value, 10);
    if (!(n >= 1 && n <= parseInt(days.max, 10))) return;
    const mine = ++asked;
    try {
      const r = await fetch(days.dataset.audienceUrl + '&days=' + n, { credentials: 'same-origin' });
      if (!r.ok) return;
      const a = await r.json();
      if (mine !== asked) return; // a later change was asked meanwhile
      count.textContent = a.audience;
      noun.textContent = a.audience === 1 ? 'customer' : 'customers';
      shownDays.textContent = a.days;
      leftOut.textContent = a.left_out ? ' ' + a.left_out : '';
    } catch (e) {
      // The number stays as it was; the next change asks again.
    }
  }
  days.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 300);
  });
})();

// Announcements: their progress, refreshed while they are being sent.
(function () {
  const items = document.querySelectorAll('[data-progress-url]');
  items.forEach((li) => {
    if (li.dataset.status === 'done') return;
    const bar = li.querySelector('progress');
    const text = li.querySelector('.progress-text');
    // A failed answer (a restart, a network blip) is asked again later, each time waiting
    // twice as long, up to a minute; an answer that works goes back to every 1.5 seconds.
    let wait = 1500;
    async function tick() {
      try {
        const r = await fetch(li.dataset.progressUrl, { credentials: 'same-origin' });
        if (!r.ok) throw new Error('HTTP ' + r.status);
        const p = await r.json();
        bar.max = p.total; bar.value = p.done;
        let t = (p.status === 'done' ? 'Done' : 'Sending') + ': ' + p.sent + ' of ' + p.total + ' delivered';
        if (p.blocked) t += ', ' + p.blocked + ' blocked the bot';
        if (p.failed) t += ', ' + p.failed + ' could not be reached';
        if (p.unknown) t += ', ' + p.unknown + ' not known (interrupted; not sent again)';
        if (p.stopped) t += ', ' + p.stopped + ' sent /stop before it reached them';
        text.textContent = t + '.';
        if (p.status === 'done') {
          li.dataset.status = 'done';
          // The "Sending to …" notice above it goes: the row says how it went.
          document.querySelectorAll('.notice[data-sending="' + li.dataset.id + '"]').forEach((n) => n.remove());
          return;
        }
        wait = 1500;
      } catch (e) {
        wait = Math.min(wait * 2, 60000);
      }
      setTimeout(tick, wait);
    }
    setTimeout(tick, 1000);
  });
})();

// Delete buttons ask first: a form with data-confirm is sent only if the owner says yes.
document.addEventListener('submit', (e) => {
  const form = e.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
});

// Copy buttons: a button with data-copy="ID" copies the field with that id (hidden without this
// file, where the owner copies by hand). Where the browser refuses, the text is left selected.
document.querySelectorAll('button[data-copy]').forEach((b) => {
  const field = document.getElementById(b.dataset.copy);
  if (!field) return;
  const label = b.textContent;
  b.hidden = false;
  b.addEventListener('click', async () => {
    field.select();
    let done = false;
    try { await navigator.clipboard.writeText(field.value); done = true; } catch (_) {
      try { done = document.execCommand('copy'); } catch (_) { /* left selected */ }
    }
    if (!done) return;
    b.textContent = 'Copied';
    setTimeout(() => { b.textContent = label; }, 2000);
  });
});

// On a phone the tabs are one row that scrolls sideways (static/app.css): the open one is shown.
(function () {
  const nav = document.querySelector('nav.tabs');
  const on = nav && nav.querySelector('a.on');
  if (on && nav.scrollWidth > nav.clientWidth) nav.scrollLeft = on.offsetLeft - nav.offsetLeft - 12;
})();
