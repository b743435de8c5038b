// Browser test: an owner works with their bot's conversations — reads a transcript with
// feedback and sources, answers a customer who asked for a person, turns a knowledge gap into a
// Q&A pair, changes the bot's settings and tries the bot in the test chat. Run by
// scripts/test.sh against `bellhop demo`, next to onboarding.test.mjs (own owner, own bot):
//   BELLHOP_URL=http://127.0.0.1:PORT SANDBOX_URL=http://127.0.0.1:PORT+1 node --test tests/browser/
// The data shown is made here: a customer chats with the bot through the sandbox's control API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP, SHOTS, chromiumPages, sandbox as api, eventually as waitFor } from './support.mjs';

const newPage = chromiumPages();
const eventually = (what, f, ms = 60000) => waitFor(what, f, ms);

const textOf = (m) => m.message?.text || m.raw_text || '';

/** What the bot said to a chat, oldest first. */
const botSaid = (bot, chat) => api(`messages?bot_id=${bot}&chat_id=${chat}&from_bot=true`);

/** The customer says `text`; resolves with the bot's next message. */
async function ask(bot, customer, text, ms = 90000) {
  const before = (await botSaid(bot, customer)).length;
  await api(`users/${customer}/messages`, { bot_id: bot, text });
  return eventually(`the reply to “${text}”`, async () => (await botSaid(bot, customer))[before], ms);
}

test('an owner reads a transcript, answers a customer, fills a knowledge gap, sets up the bot and tries it', async () => {
  // The business: an owner creates a bot through the sandbox's creation link.
  const state = await api('state');
  const manager = (await api(`bots/${state.manager_id}`)).username;
  const mia = (await api('users', { first_name: 'Mia' })).id;
  const request = await api(`users/${mia}/creation_links`, { link: `https://t.me/newbot/${manager}/mias_flowers_bot?name=Mia%27s%20Flowers` });
  const bot = (await api(`creation_requests/${request.id}/confirm`, {})).id;
  const link = await eventually('the welcome message', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${mia}&from_bot=true`);
    const text = msgs.map(textOf).find((t) => t.includes('is live'));
    return text && text.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0];
  });

  const page = await newPage({ viewport: { width: 1000, height: 900 } });
  await page.goto(link);
  await page.click('text=Continue to my admin page');
  await page.waitForURL(/\/app$/);

  // Knowledge: a document and a Q&A pair.
  await page.click('text=Knowledge');
  await page.setInputFiles('#files', [{
    name: 'flower-care.md', mimeType: 'text/markdown',
    buffer: Buffer.from('# Flower care\n\nCut roses last about a week. Change the water every two days and trim the stems at an angle.\n\n# Delivery\n\nWe deliver bouquets in the city every day except Sunday, free above 40 euros.\n'),
  }]);
  await page.click('#upload button[type=submit]');
  await page.waitForSelector('text=Added flower-care.md');
  await page.fill('#q', 'Do you make wedding bouquets?');
  await page.fill('#a', 'Yes! Book a free consultation at least four weeks before the wedding.');
  await page.click('form[action="/app/qa"] button');
  await page.waitForSelector('text=Added the answer to “Do you make wedding bouquets?”');
  await eventually('the document read', async () => {
    const r = await page.evaluate(async () => (await fetch('/app/sources/status')).json());
    return r.length === 1 && r[0].status === 'ready';
  }, 120000);

  // A customer chats: an answer from the document, a Q&A answer rated 👎, an unanswered
  // question, then asks for a person.
  const sam = (await api('users', { first_name: 'Sam Lee', started_bots: [bot] })).id;
  await ask(bot, sam, '/start');
  const care = await ask(bot, sam, 'How long do cut roses last?');
  assert.match(textOf(care), /week|Here is what I found/);
  const up = care.reply_markup?.inline_keyboard?.[0]?.find((b) => b.text === '👍');
  if (up) await api(`users/${sam}/callbacks`, { bot_id: bot, message_id: care.message_id, data: up.callback_data });
  const wedding = await ask(bot, sam, 'Do you make wedding bouquets?');
  assert.match(textOf(wedding), /four weeks/);
  const down = wedding.reply_markup.inline_keyboard[0].find((b) => b.text === '👎');
  await api(`users/${sam}/callbacks`, { bot_id: bot, message_id: wedding.message_id, data: down.callback_data });
  const unknown = await ask(bot, sam, 'Can I pay with bitcoin?');
  assert.match(textOf(unknown), /couldn't find that/);
  await ask(bot, sam, '/human');

  // Conversations: Sam's is with a person and has a 👎.
  await page.click('nav.tabs >> text=Conversations');
  await page.waitForSelector('ul.convs');
  const row = page.locator('ul.convs li', { hasText: 'Sam Lee' });
  assert.match(await row.textContent(), /with a person/);
  await eventually('the 👎 counted', async () => {
    await page.reload();
    return /👎 1/.test(await page.locator('ul.convs li', { hasText: 'Sam Lee' }).textContent());
  });
  await page.locator('ul.convs li', { hasText: 'Sam Lee' }).locator('a').click();
  await page.waitForSelector('#transcript');
  assert.match(await page.textContent('#transcript'), /not helpful/);
  assert.match(await page.textContent('#transcript'), /couldn't answer/);

  // The owner answers from the transcript; Sam gets it through the bot.
  await page.fill('#reply textarea', "Hi Sam, Mia here — not bitcoin yet, but cards and cash are fine. Anything else I can help with?");
  await page.click('#reply button[type=submit]');
  await page.waitForSelector('text=Sent.');
  await eventually('the reply in Telegram', async () => (await botSaid(bot, sam)).some((m) => textOf(m).includes('Mia here')));
  await page.setViewportSize({ width: 1000, height: 900 });
  await page.screenshot({ path: `${SHOTS}/transcript.png`, fullPage: true });

  // Hand back to the assistant.
  await page.click('text=Hand back to the assistant');
  await page.waitForSelector('text=Handed back');
  await eventually('the hand-back in Telegram', async () => (await botSaid(bot, sam)).some((m) => textOf(m).includes('back with the assistant')));

  // Knowledge gaps: the unanswered question and the 👎, each answerable in one click.
  await page.click('nav.tabs >> text=Knowledge gaps');
  const gaps = await page.textContent('ul.gaps');
  assert.match(gaps, /Can I pay with bitcoin\?/);
  assert.match(gaps, /Do you make wedding bouquets\?/);
  const gap = page.locator('li.gap', { hasText: 'Can I pay with bitcoin?' });
  await gap.locator('textarea').fill('We take cards and cash in the shop, and PayPal for deliveries.');
  await page.screenshot({ path: `${SHOTS}/knowledge-gaps.png`, fullPage: true });
  await gap.locator('button', { hasText: 'Add this answer' }).click();
  await page.waitForSelector('text=Added to your questions');
  assert.doesNotMatch(await page.textContent('main'), /Can I pay with bitcoin\?/);
  const paid = await ask(bot, sam, 'can I pay with bitcoin');
  assert.match(textOf(paid), /PayPal/);

  // Settings: a new welcome, profile texts and menu; Telegram gets them.
  await page.click('nav.tabs >> text=Bots');
  await page.click('a.settings-link');
  await page.fill('#persona', 'You are the assistant of Mia, a florist who loves seasonal flowers.');
  await page.fill('#tone', 'warm and brief');
  await page.fill('#welcome', "🌷 Hi! I'm Mia's flower assistant. Ask me about bouquets, delivery or flower care — or send /human to talk to Mia.");
  await page.fill('#description', 'Fresh bouquets from Mia\'s Flowers, delivered in the city every day except Sunday. Ask about flower care, delivery and weddings.');
  await page.fill('#short', 'Bouquets, delivery and flower care');
  await page.fill('#commands', 'start - Start\ndelivery - When and where we deliver\nhuman - Talk to Mia\nhelp - How I can help\nprivacy - How your data is used');
  await page.click('text=Save settings');
  await page.waitForSelector('text=Saved.');
  await eventually('the new menu in Telegram', async () => {
    const b = await api(`bots/${bot}`);
    return b.commands.some((c) => c.command === 'delivery') && b.short_description === 'Bouquets, delivery and flower care';
  });
  const welcome = await ask(bot, (await api('users', { first_name: 'Noor', started_bots: [bot] })).id, '/start');
  assert.match(textOf(welcome), /Mia's flower assistant/);
  await page.screenshot({ path: `${SHOTS}/bot-settings.png`, fullPage: true });

  // Test chat: the same pipeline in the browser; nothing goes to Telegram.
  const sentBefore = (await api(`messages?bot_id=${bot}&from_bot=true`)).length;
  await page.click('nav.tabs >> text=Test chat');
  await page.fill('#question', 'Do you deliver on Sundays?');
  await page.click('#ask button[type=submit]');
  await page.waitForSelector('#chat .bubble.bot', { timeout: 120000 });
  await page.fill('#question', 'Can I pay with bitcoin?');
  await page.click('#ask button[type=submit]');
  await eventually('the second answer', async () => (await page.locator('#chat .bubble.bot').count()) === 2, 120000);
  const chat = await page.textContent('#chat');
  assert.match(chat, /PayPal/);
  assert.match(chat, /your Q&A answer/);
  assert.equal((await api(`messages?bot_id=${bot}&from_bot=true`)).length, sentBefore);
  await page.screenshot({ path: `${SHOTS}/test-chat.png`, fullPage: true });

  // On a phone: the transcript reads as a chat, the tabs wrap.
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await phone.context().addCookies(await page.context().cookies());
  await phone.goto(`${APP}/app/conversations`);
  assert.match(await phone.textContent('ul.convs'), /Sam Lee/);
});
