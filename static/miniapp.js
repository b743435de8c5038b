// bellhop's onboarding Mini App. It speaks Telegram's Mini App protocol itself instead of
// loading telegram-web-app.js (docs/telegram.md says why): launch data from the URL fragment
// (#tgWebAppData=…), calls to the client as {eventType, eventData} — window.parent.postMessage
// in web clients, TelegramWebviewProxy.postEvent in the apps — and events back through
// `message` events (web) or window.Telegram.WebView.receiveEvent (apps).
(function () {
  'use strict';
  const launch = new URLSearchParams(location.hash.slice(1));
  const initData = launch.get('tgWebAppData') || '';
  const handlers = {};

  function postEvent(eventType, eventData) {
    const data = JSON.stringify(eventData || {});
    if (window.TelegramWebviewProxy && window.TelegramWebviewProxy.postEvent) {
      window.TelegramWebviewProxy.postEvent(eventType, data);
    } else if (window.external && 'notify' in window.external) {
      window.external.notify(JSON.stringify({ eventType, eventData: eventData || {} }));
    } else if (window.parent !== window) {
      window.parent.postMessage(JSON.stringify({ eventType, eventData: eventData || {} }), '*');
    }
  }
  function receiveEvent(eventType, eventData) {
    (handlers[eventType] || []).forEach((h) => h(eventData || {}));
  }
  window.Telegram = window.Telegram || {};
  window.Telegram.WebView = { receiveEvent };
  window.addEventListener('message', (e) => {
    if (e.source !== window.parent) return;
    let m;
    try { m = JSON.parse(e.data); } catch (_) { return; }
    if (m && m.eventType) receiveEvent(m.eventType, m.eventData);
  });
  function once(types) {
    return new Promise((resolve) => {
      const done = (type) => (data) => {
        types.forEach((t) => { handlers[t] = (handlers[t] || []).filter((h) => h !== listeners[t]); });
        resolve({ type, data });
      };
      const listeners = {};
      types.forEach((t) => { listeners[t] = done(t); (handlers[t] = handlers[t] || []).push(listeners[t]); });
    });
  }
  // WebApp.requestChat(req_id): resolves true when the user shared (here: created the bot).
  async function requestChat(reqId) {
    const answer = once(['requested_chat_sent', 'requested_chat_failed']);
    postEvent('web_app_request_chat', { req_id: reqId });
    const r = await answer;
    return r.type === 'requested_chat_sent' ? { ok: true } : { ok: false, error: r.data.error || 'failed' };
  }

  const $ = (id) => document.getElementById(id);
  const show = (id) => ['create', 'waiting', 'ready'].forEach((s) => { $(s).hidden = s !== id; });
  const error = (text) => { $('miniapp-error').textContent = text || ''; };
  async function api(path, body) {
    const r = await fetch('/miniapp/api/' + path, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Object.assign({ init_data: initData }, body)),
    });
    let v = {};
    try { v = await r.json(); } catch (_) { v = { error: 'bellhop did not answer; please try again.' }; }
    return { ok: r.ok, status: r.status, body: v };
  }

  postEvent('web_app_ready');
  postEvent('web_app_expand');
  if (!initData) {
    error('Open this page from the menu button of the bellhop bot in Telegram.');
    $('create-button').disabled = true;
    return;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let username = '';

  $('miniapp-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    error('');
    $('create-button').disabled = true;
    try {
      username = $('username').value.trim().replace(/^@/, '');
      const prepared = await api('prepare', { name: $('name').value, username });
      if (!prepared.ok) { error(prepared.body.error || 'Something went wrong; please try again.'); return; }
      const shared = await requestChat(prepared.body.id);
      if (!shared.ok) { error(shared.error === 'USER_DECLINED' ? 'You cancelled. Tap Create to try again.' : `Telegram did not create the bot (${shared.error}).`); return; }
      document.querySelectorAll('.bot-username').forEach((el) => { el.textContent = '@' + username; });
      show('waiting');
      for (;;) {
        const s = await api('status', { username });
        if (!s.ok) { show('create'); error(s.body.error); return; }
        if (s.body.status === 'live') break;
        if (s.body.status === 'failed') { show('create'); error('Setting up your bot failed; send /bots to the manager bot for details.'); return; }
        await sleep(1000);
      }
      show('ready');
    } finally {
      $('create-button').disabled = false;
    }
  });

  $('open-admin').addEventListener('click', async () => {
    const r = await api('sign-in', {});
    if (!r.ok) { show('create'); error(r.body.error); return; }
    postEvent('web_app_open_link', { url: r.body.url });
  });
})();
