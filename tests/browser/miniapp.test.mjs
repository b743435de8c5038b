// Browser test: the Mini App path of onboarding (issue 18, item 1) in headless Chromium. In the
// sandbox's web UI (Telegram's part), the owner opens the manager chat and presses its menu
// button; bellhop's Mini App opens in an iframe with signed launch data; the owner names the bot
// and taps Create; Telegram's confirm screen appears (requestChat); the bot is provisioned and
// answers a customer; the Mini App opens the admin with a one-time sign-in, which shows the bot.
// Screenshots go to docs/screenshots/ (the README shows them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TG, SHOTS, chromiumPages, sandbox as control, eventually } from './support.mjs';

const newPage = chromiumPages();

test('the menu button opens the Mini App, which creates a bot and signs the owner in', async () => {
  const page = await newPage({ viewport: { width: 900, height: 900 } });
  const state = await control('state');
  const owner = await control('users', { first_name: 'Marco' });

  // The owner opens the manager chat: its menu button is the Mini App.
  await page.goto(`${TG}/ui/chat/${owner.id}/${state.manager_id}`);
  assert.match(await page.textContent('#menu-button'), /Create a bot/);
  await page.click('#menu-button');

  const app = page.frameLocator('#miniapp');
  await app.locator('#name').fill("Marco's Pizza");
  await app.locator('#username').fill('marcos_pizza_bot');
  await page.waitForSelector('body[data-miniapp-ready="1"]');
  await page.screenshot({ path: `${SHOTS}/miniapp.png` });
  await app.locator('#create-button').click();

  // requestChat: Telegram's confirm screen, pre-filled with what the owner typed.
  await page.waitForSelector('#confirm:not([hidden])');
  assert.equal(await page.inputValue('#confirm-username'), 'marcos_pizza_bot');
  assert.equal(await page.inputValue('#confirm-name'), "Marco's Pizza");
  await page.screenshot({ path: `${SHOTS}/miniapp-confirm.png` });
  await page.click('#confirm-create');

  // The Mini App follows provisioning until the bot is live.
  await app.locator('#ready').waitFor({ state: 'visible', timeout: 60000 });
  assert.match(await app.locator('#ready').textContent(), /@marcos_pizza_bot is live/);
  await page.screenshot({ path: `${SHOTS}/miniapp-live.png` });

  // The bot answers a customer.
  const bot = (await control('state')).bots.find((b) => b.username === 'marcos_pizza_bot');
  assert.ok(bot, 'the bot exists in Telegram');
  const customer = await control('users', { first_name: 'Lucia' });
  await control(`users/${customer.id}/messages`, { bot_id: bot.id, text: '/start' });
  await eventually('the bot answers the customer', async () =>
    (await control(`messages?bot_id=${bot.id}&chat_id=${customer.id}&from_bot=true`)).length > 0, 60000);

  // "Open my admin page": openLink with a one-time sign-in; no /login needed.
  const [admin] = await Promise.all([page.waitForEvent('popup'), app.locator('#open-admin').click()]);
  await admin.waitForLoadState();
  await admin.click('text=Continue to my admin page');
  await admin.waitForURL(/\/app$/);
  const body = await admin.textContent('body');
  assert.match(body, /@marcos_pizza_bot/);
  await admin.setViewportSize({ width: 1100, height: 800 });
  await admin.screenshot({ path: `${SHOTS}/miniapp-admin.png`, fullPage: true });
});
