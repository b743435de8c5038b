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
  // How long the page waits for the bot to be set up before sending the owner to the manager
  // chat, where the manager bot says how it went either way.
  const WAIT_MS = 2 * 60 * 1000;
  const manager = document.body.dataset.manager || '';
  const managerChat = manager ? '@' + manager : 'the manager bot';
  const showUsername = (name) => document.querySelectorAll('.bot-username').forEach((el) => { el.textContent = '@' + name; });

  $('miniapp-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    error('');
    $('create-button').disabled = true;
    try {
      let username = $('username').value.trim().replace(/^@/, '');
      const prepared = await api('prepare', { name: $('name').value, username });
      if (!prepared.ok) { error(prepared.body.error || 'Something went wrong; please try again.'); return; }
      const since = prepared.body.since;
      const shared = await requestChat(prepared.body.id);
      if (!shared.ok) { error(shared.error === 'USER_DECLINED' ? 'You cancelled. Tap Create to try again.' : `Telegram did not create the bot (${shared.error}).`); return; }
      showUsername(username);
      show('waiting');
      // The bot is found by when it was made, not by the username typed here: Telegram's
      // confirm screen lets the owner change it (and they must when it is taken).
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const s = await api('status', { since, username });
        if (!s.ok) { show('create'); error(s.body.error); return; }
        if (s.body.username) { username = s.body.username; showUsername(username); }
        const st = s.body.status;
        if (st === 'live') break;
        if (st === 'failed') { show('create'); error(`Setting up @${username} failed; send /bots to ${managerChat} for details.`); return; }
        if (st === 'parked') { show('create'); error(`@${username} was created, but it waits: your plan's number of bots is used up. Send /plan to ${managerChat} to upgrade, and it goes live.`); return; }
        if (st === 'disconnected') { show('create'); error(`@${username} is no longer connected to bellhop (it was taken back in Telegram). Send /bots to ${managerChat} for details.`); return; }
        if (Date.now() > deadline) { show('create'); error(`Setting up your bot is taking longer than usual. Check your chat with ${managerChat}: it messages you as soon as your bot is ready, or if something went wrong.`); return; }
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
