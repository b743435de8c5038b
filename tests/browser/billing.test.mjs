// Browser test: an owner's billing — the /plan conversation with the manager bot in the sandbox
// (buy a pack of answers with Telegram Stars), then the admin billing page with the usage chart
// and the payment. Run by scripts/test.sh against `bellhop demo` (headless Debian Chromium,
// playwright-core). Screenshots go to docs/screenshots/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP, TG, SHOTS, chromiumPages, sandbox as control, eventually } from './support.mjs';

const newPage = chromiumPages();

test('an owner sees the plan in Telegram, buys answers with Stars, and finds it on the billing page', async () => {
  // An owner with a live bot (created the way onboarding.test.mjs does it in the browser).
  const state = await control('state');
  const manager = state.manager_id;
  const owner = await control('users', { first_name: 'Bea', started_bots: [manager] });
  const req = await control(`users/${owner.id}/creation_links`, { link: `https://t.me/newbot/bellhop_manager_bot/beas_books_bot?name=Bea%27s%20Books` });
  await control(`creation_requests/${req.id}/confirm`, {});
  const link = await eventually('the welcome message', async () => {
    const msgs = await control(`messages?bot_id=${manager}&chat_id=${owner.id}&from_bot=true`);
    const text = msgs.map((m) => m.message?.text || m.raw_text || '').find((t) => t.includes('is live'));
    return text && text.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0];
  });

  // In "Telegram": /plan, then the pack button, then pay the invoice in Stars.
  const tg = await newPage({ viewport: { width: 900, height: 1100 } });
  await tg.goto(`${TG}/ui/chat/${owner.id}/${manager}`);
  await tg.fill('input[name=text]', '/plan');
  await tg.click('button:has-text("Send")');
  await tg.waitForSelector('text=Your plan: Free');
  await tg.click('button:has-text("500 answers")');
  await tg.waitForSelector('button:has-text("Pay ⭐")');
  await tg.click('button:has-text("Pay ⭐")');
  await tg.waitForSelector('text=extra AI answers are now available', { timeout: 30000 });
  await tg.screenshot({ path: `${SHOTS}/billing-plan-in-telegram.png`, fullPage: true });

  // The admin billing page: the plan, usage, the chart and the payment.
  const page = await newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(link);
  await page.click('text=Continue to my admin page');
  await page.waitForURL(/\/app$/);
  await page.click('nav.tabs >> text=Billing');
  await page.waitForURL(/\/app\/billing$/);
  const body = await page.textContent('body');
  assert.match(body, /Your plan: Free/);
  assert.match(body, /500\s+extra answers from packs/);
  assert.match(body, /500 answers/);
  assert.match(body, /100 ⭐/);
  assert.ok(await page.isVisible('svg.chart'), 'the answers-per-day chart');
  assert.equal(await page.locator('svg.chart rect').count(), 30);

  // The owner switches the customer paywall on; the page keeps the setting.
  await page.check('input[name=enabled]');
  await page.fill('input[name=free_per_day]', '5');
  await page.click('form.paywall button[type=submit]');
  await page.waitForSelector('text=Saved.');
  assert.equal(await page.isChecked('input[name=enabled]'), true);
  assert.equal(await page.inputValue('input[name=free_per_day]'), '5');
  await page.screenshot({ path: `${SHOTS}/billing-page.png`, fullPage: true });
});
