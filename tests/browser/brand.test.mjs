// Browser test: an owner gives their bot its brand on the settings page — a new name and a
// profile photo — and the sandbox (Telegram) then shows the bot with that name and photo in the
// chat header, with its description in the empty chat. Run by scripts/test.sh against
// `bellhop demo`, beside the other browser tests (own owner, own bot):
//   BELLHOP_URL=http://127.0.0.1:PORT SANDBOX_URL=http://127.0.0.1:PORT+1 node --test tests/browser/
// The photo is a JPEG the browser draws itself (a canvas), so no file is shipped with the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TG, SHOTS, chromiumPages, sandbox as api, eventually as waitFor } from './support.mjs';

const newPage = chromiumPages();
const eventually = (what, f, ms = 60000) => waitFor(what, f, ms);
const textOf = (m) => m.message?.text || m.raw_text || '';

test('an owner changes the bot name and photo, and the sandbox shows the bot with them', async () => {
  const state = await api('state');
  const manager = (await api(`bots/${state.manager_id}`)).username;
  const sara = (await api('users', { first_name: 'Sara' })).id;
  const request = await api(`users/${sara}/creation_links`, { link: `https://t.me/newbot/${manager}/saras_cafe_bot?name=Sara%27s%20Caf%C3%A9` });
  const bot = (await api(`creation_requests/${request.id}/confirm`, {})).id;
  const link = await eventually('the welcome message', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${sara}&from_bot=true`);
    const text = msgs.map(textOf).find((t) => t.includes('is live'));
    return text && text.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0];
  });

  const page = await newPage({ viewport: { width: 1000, height: 1000 } });
  await page.goto(link);
  await page.click('text=Continue to my admin page');
  await page.waitForURL(/\/app$/);
  await page.goto(new URL(`/app/bots/${bot}/settings`, page.url()).toString());

  // The name.
  await page.fill('#brand-name', 'Sunny Side Café ☀️');
  await page.click('#brand-save');
  await page.waitForSelector('#brand-status');
  assert.match(await page.textContent('#brand-status'), /Telegram shows it now/);
  assert.equal((await api(`bots/${bot}`)).name, 'Sunny Side Café ☀️');

  // Spanish, for customers whose Telegram is in Spanish.
  await page.selectOption('#new-language', 'es');
  await page.click('button[name=add]');
  await page.waitForSelector('#description-es');
  await page.fill('#description-es', '¡Hola! Soy el asistente de Sunny Side Café: horarios, pedidos y alérgenos.');
  await page.fill('#short-es', 'Asistente de Sunny Side Café');
  await page.click('#brand-save');
  await page.waitForSelector('#brand-status');
  assert.equal((await api(`bots/${bot}`)).localised.es.short_description, 'Asistente de Sunny Side Café');

  // The photo: a JPEG drawn in the browser (a sun on blue, the café's initials).
  const jpeg = Buffer.from(await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = c.height = 320;
    const g = c.getContext('2d');
    g.fillStyle = '#2b7bd6'; g.fillRect(0, 0, 320, 320);
    g.fillStyle = '#ffd23f'; g.beginPath(); g.arc(160, 130, 70, 0, 2 * Math.PI); g.fill();
    g.fillStyle = '#fff'; g.font = 'bold 64px sans-serif'; g.textAlign = 'center'; g.fillText('SSC', 160, 280);
    return c.toDataURL('image/jpeg', 0.9).split(',')[1];
  }), 'base64');
  await page.setInputFiles('#brand-photo', { name: 'logo.jpg', mimeType: 'image/jpeg', buffer: jpeg });
  // The browser's own file control is hidden; the box names the chosen photo.
  assert.equal(await page.$eval('#brand-photo', (e) => getComputedStyle(e).opacity), '0');
  assert.equal(await page.textContent('#brand .drop .chosen'), 'Chosen: logo.jpg');
  await page.locator('#brand .brand-photo').screenshot({ path: `${SHOTS}/brand-photo-chosen.png` });
  await page.click('form[action$="/brand/photo"] button[type=submit]');
  await page.waitForSelector('#brand-photo-preview');
  assert.match(await page.textContent('#brand-status'), /Telegram shows it now/);
  // The element is there before its image has loaded: wait for the image itself.
  await page.waitForFunction(() => { const i = document.querySelector('#brand-photo-preview'); return i && i.complete && i.naturalWidth > 0; });
  const shown = await page.evaluate(() => { const i = document.querySelector('#brand-photo-preview'); return i.complete && i.naturalWidth; });
  assert.equal(shown, 320, 'the settings page shows the photo');
  await page.locator('#brand').screenshot({ path: `${SHOTS}/brand-settings.png` });

  // Telegram (the sandbox) has the very bytes uploaded.
  const tg = await api(`bots/${bot}`);
  const served = Buffer.from(await (await fetch(`${TG}${tg.profile_photo_url}`)).arrayBuffer());
  assert.ok(served.equals(jpeg), 'the sandbox holds the uploaded photo');

  // A customer opens the chat in the sandbox: the new name and photo in the header, and the
  // description in the empty chat.
  const kai = (await api('users', { first_name: 'Kai' })).id;
  const chat = await newPage({ viewport: { width: 900, height: 330 } });
  await chat.goto(`${TG}/ui/chat/${kai}/${bot}`);
  assert.equal(await chat.textContent('#bot-name'), 'Sunny Side Café ☀️');
  const photo = await chat.evaluate(() => { const i = document.querySelector('#bot-photo'); return i && i.complete && i.naturalWidth; });
  assert.equal(photo, 320, 'the sandbox shows the photo');
  assert.ok((await chat.textContent('#bot-description')).length > 20);
  await chat.screenshot({ path: `${SHOTS}/brand-sandbox-chat.png` });
});
