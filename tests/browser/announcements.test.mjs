// Browser test (issue 17, item 8): an owner sends an announcement to the 500 customers who talked to
// their bot, watches it go out on the page, and Telegram's limits hold the whole time (the
// sandbox counts every breach). A customer who sent /stop gets nothing. Run by scripts/test.sh
// against `bellhop demo` (own owner, own bot):
//   BELLHOP_URL=http://127.0.0.1:PORT SANDBOX_URL=http://127.0.0.1:PORT+1 node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOTS, chromiumPages, sandbox as api, eventually as waitFor } from './support.mjs';

const newPage = chromiumPages();
const eventually = (what, f, ms = 120000) => waitFor(what, f, ms);
const textOf = (m) => m.message?.text || m.raw_text || '';

/** Runs `f` over `items`, `n` at a time. */
async function pool(items, n, f) {
  const out = [];
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i], i);
    }
  }));
  return out;
}

test('an owner sends an announcement to 500 customers within Telegram\'s limits, watches it go out, and reads the overview', async () => {
  const state = await api('state');
  const manager = (await api(`bots/${state.manager_id}`)).username;
  const ines = (await api('users', { first_name: 'Ines' })).id;
  const request = await api(`users/${ines}/creation_links`, { link: `https://t.me/newbot/${manager}/ines_garden_bot?name=Ines%27%20Garden%20Centre` });
  const bot = (await api(`creation_requests/${request.id}/confirm`, {})).id;
  const link = await eventually('the welcome message', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${ines}&from_bot=true`);
    const text = msgs.map(textOf).find((t) => t.includes('is live'));
    return text && text.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0];
  });

  // 500 customers say hello (/start); one more says /stop.
  const customers = await pool(Array.from({ length: 500 }, (_, i) => i), 20, async (i) => {
    const c = (await api('users', { first_name: `Customer ${i}`, language_code: i % 3 === 0 ? 'es' : 'en' })).id;
    await api(`users/${c}/messages`, { bot_id: bot, text: '/start' });
    return c;
  });
  const quiet = (await api('users', { first_name: 'Quiet Customer' })).id;
  await api(`users/${quiet}/messages`, { bot_id: bot, text: '/stop' });
  await eventually('every welcome and the /stop confirmation', async () => {
    const said = await api(`messages?bot_id=${bot}&from_bot=true`);
    return said.length >= 501;
  }, 180000);
  // A few questions the bot cannot answer yet (its knowledge is empty): the overview's figures.
  for (const c of customers.slice(0, 12)) await api(`users/${c}/messages`, { bot_id: bot, text: 'Do you sell rose bushes?' });
  await eventually('the answers to the questions', async () => {
    const said = await api(`messages?bot_id=${bot}&from_bot=true`);
    return said.length >= 513;
  }, 180000);
  const before = await api('stats');

  const page = await newPage({ viewport: { width: 1000, height: 900 } });
  await page.goto(link);
  await page.click('text=Continue to my admin page');
  await page.waitForURL(/\/app$/);
  await page.click('nav.tabs >> text=Announcements');
  await page.waitForURL(/\/app\/announcements/);
  assert.equal(await page.textContent('#audience'), '500', 'the page says whom it reaches: 500, not the customer who sent /stop');
  const words = 'Spring plants are in! 20% off seedlings this weekend.';
  await page.fill('#text', words);
  // Without the confirmation nothing is sent.
  await page.click('#announce-form button[type=submit]');
  await page.waitForSelector('text=Tick the box');
  await page.check('#announce-form input[name=confirm]');
  await page.click('#announce-form button[type=submit]');
  await page.waitForSelector('text=Sending to 500 customers');
  // The progress goes up on the page while it is sent, to the end.
  await page.waitForSelector('.progress-text:has-text("Sending")', { timeout: 30000 }).catch(() => {});
  await page.screenshot({ path: `${SHOTS}/announcement-sending.png`, fullPage: true });
  await page.waitForSelector('.progress-text:has-text("Done: 500 of 500 delivered")', { timeout: 180000 });
  await page.screenshot({ path: `${SHOTS}/announcement-done.png`, fullPage: true });

  // The overview: the questions by outcome, per day, and the one nobody could answer yet.
  await page.click('nav.tabs >> text=Overview');
  await page.waitForURL(/\/app\/overview/);
  assert.match(await page.textContent('#questions-total'), /^12 questions in the last 30 days/);
  assert.equal(await page.locator('svg.bars').count(), 3, 'three charts');
  assert.match(await page.textContent('ol.top-questions'), /Do you sell rose bushes\?.*asked 12 times/s);
  await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });

  const said = await api(`messages?bot_id=${bot}&from_bot=true`);
  const got = new Map();
  for (const m of said) if (textOf(m).includes(words)) got.set(m.chat_id, (got.get(m.chat_id) || 0) + 1);
  assert.equal(got.size, 500, 'every customer got it');
  assert.ok([...got.values()].every((n) => n === 1), 'each exactly once');
  assert.ok(!got.has(quiet), 'not the customer who sent /stop');
  // Customer 12's Telegram is in Spanish and they wrote nothing but /start (customers 0–11 asked
  // in English, so English is theirs).
  const spanish = said.find((m) => m.chat_id === customers[12] && textOf(m).includes(words));
  assert.match(textOf(spanish), /Envía \/stop/, 'the footer in the customer\'s language');
  const after = await api('stats');
  for (const k of ['limit_breaches', 'bot_breaches', 'private_breaches']) {
    assert.equal(after[k] - before[k], 0, `${k}: Telegram's limits held (${JSON.stringify(after)})`);
  }
  await page.close();
});
