"""python-telegram-bot (>= 22.8) runs a scripted session against the bellhop sandbox.

Usage: python scenario.py <sandbox base url>

Proves the sandbox speaks the Bot API closely enough for an independent, widely used client:
every response is parsed by PTB, and the script fails on any parse error, any warning, and any
field PTB does not know (PTB keeps those in `api_kwargs`; they must all be empty).
"""
import asyncio
import json
import logging
import sys
import threading
import urllib.request
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

warnings.simplefilter("error")

import telegram  # noqa: E402
from telegram import (  # noqa: E402
    Bot,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestManagedBot,
    KeyboardButtonRequestUsers,
    LabeledPrice,
    LoginUrl,
    TelegramObject,
    Update,
)
from telegram.error import BadRequest, Conflict  # noqa: E402


class FailOnWarnings(logging.Handler):
    """Any warning PTB logs (e.g. about unknown data) fails the run."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(self.format(record))


LOG_TRAP = FailOnWarnings()
logging.getLogger().addHandler(LOG_TRAP)
logging.getLogger().setLevel(logging.WARNING)

BASE = sys.argv[1].rstrip("/")
CHECKED = 0


def control(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{BASE}/sandbox/api/{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        answer = json.load(r)
    assert answer["ok"], answer
    return answer["result"]


def strict(obj, where="result"):
    """Fails if PTB found any field it does not model, anywhere in the object tree."""
    global CHECKED
    if isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            strict(x, f"{where}[{i}]")
        return obj
    if isinstance(obj, TelegramObject):
        CHECKED += 1
        assert not obj.api_kwargs, f"unknown fields in {type(obj).__name__} at {where}: {dict(obj.api_kwargs)}"
        for name, value in obj._get_attrs(include_private=False, recursive=False).items():
            strict(value, f"{where}.{name}")
    return obj


async def one_update(bot, offset, kind):
    for _ in range(10):
        updates = strict(await bot.get_updates(offset=offset, timeout=5))
        if updates:
            u = updates[0]
            assert getattr(u, kind) is not None, f"expected {kind}, got {u.to_dict()}"
            return u, u.update_id + 1
    raise AssertionError(f"no {kind} update arrived")


class Hook(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


async def main():
    state = control("GET", "state")
    manager_id = state["manager_id"]
    token = control("GET", f"bots/{manager_id}")["token"]
    alice = control("POST", "users", {"first_name": "Alice", "username": "alice_ptb"})["id"]

    async with Bot(token, base_url=f"{BASE}/bot") as manager:
        # getMe: a manager bot.
        me = strict(await manager.get_me())
        assert me.is_bot and me.can_manage_bots is True, me

        # Webhook: set, read (and receive one update), delete.
        server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert await manager.set_webhook(url, secret_token="ptb_secret", max_connections=3)
        info = strict(await manager.get_webhook_info())
        assert info.url == url and info.max_connections == 3, info
        try:
            await manager.get_updates()
            raise AssertionError("getUpdates must fail while a webhook is set")
        except Conflict:
            pass
        control("POST", f"users/{alice}/messages", {"bot_id": manager_id, "text": "/start via webhook"})
        for _ in range(100):
            if Hook.received:
                break
            await asyncio.sleep(0.02)
        secret, body = Hook.received[0]
        assert secret == "ptb_secret", secret
        hooked = strict(Update.de_json(body, manager))
        assert hooked.message.text == "/start via webhook"
        assert await manager.delete_webhook()
        assert strict(await manager.get_webhook_info()).url == ""
        server.shutdown()

        # An update through getUpdates.
        control("POST", f"users/{alice}/messages", {"bot_id": manager_id, "text": "/start"})
        u, offset = await one_update(manager, None, "message")
        assert u.message.text == "/start" and u.message.chat.id == alice
        assert u.message.entities[0].type == "bot_command"

        # Send and edit messages; a draft streams first.
        assert await manager.send_message_draft(chat_id=alice, draft_id=7, text="Thinking")
        drafts = control("GET", f"drafts?bot_id={manager_id}&chat_id={alice}")
        assert drafts and drafts[0]["text"] == "Thinking", drafts
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="fb:up")]])
        sent = strict(await manager.send_message(alice, "<b>Hello</b> Alice", parse_mode="HTML", reply_markup=keyboard))
        assert sent.text == "Hello Alice" and sent.entities[0].type == "bold"
        edited = strict(await manager.edit_message_text("Hello again", chat_id=alice, message_id=sent.message_id, reply_markup=keyboard))
        assert edited.text == "Hello again" and edited.edit_date is not None
        control("POST", f"users/{alice}/callbacks", {"bot_id": manager_id, "message_id": sent.message_id, "data": "fb:up"})
        u, offset = await one_update(manager, offset, "callback_query")
        assert u.callback_query.data == "fb:up" and u.callback_query.message.message_id == sent.message_id
        assert await manager.answer_callback_query(u.callback_query.id, text="Thanks")

        # Every kind of inline button comes back as sent; a text-only one is refused.
        rich = InlineKeyboardMarkup([
            [InlineKeyboardButton("Copy", copy_text=CopyTextButton("PTB10")), InlineKeyboardButton("Here", switch_inline_query_current_chat="q")],
            [InlineKeyboardButton("Log in", login_url=LoginUrl("https://shop.example/login")), InlineKeyboardButton("Site", url="https://shop.example")],
        ])
        sent = strict(await manager.send_message(alice, "Buttons", reply_markup=rich))
        assert sent.reply_markup == rich, sent.reply_markup
        try:
            await manager.send_message(alice, "Nope", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("just text", callback_data=None)]]))
            raise AssertionError("a text-only inline button must be refused")
        except BadRequest as e:
            # PTB re-capitalises Telegram's description ("Can't parse inline keyboard button: text …").
            assert "text buttons are unallowed in the inline keyboard" in str(e).lower(), e
        # Sent text is trimmed and gets Telegram's automatic entities; a bare '>' is fine in HTML.
        sent = strict(await manager.send_message(alice, "  \n see https://shop.example/menu, ask @alice_ptb or /help; 2 > 1 \n ", parse_mode="HTML"))
        assert sent.text == "see https://shop.example/menu, ask @alice_ptb or /help; 2 > 1", repr(sent.text)
        assert [(e.type, e.offset, e.length) for e in sent.entities] == [("url", 4, 25), ("mention", 35, 10), ("bot_command", 49, 5)], sent.entities
        try:
            await manager.send_message(alice, "<blink>x</blink>", parse_mode="HTML")
            raise AssertionError("an unsupported tag must be refused")
        except BadRequest as e:
            assert 'unsupported start tag "blink" at byte offset 0' in str(e).lower(), e

        # Buttons a Mini App can show: only request_users / request_chat / request_managed_bot.
        prepared = strict(await manager.save_prepared_keyboard_button(alice, KeyboardButton("Pick staff", request_users=KeyboardButtonRequestUsers(request_id=1, max_quantity=2))))
        assert prepared.id, prepared
        prepared = strict(await manager.save_prepared_keyboard_button(alice, KeyboardButton("Create", request_managed_bot=KeyboardButtonRequestManagedBot(request_id=2))))
        assert prepared.id, prepared
        try:
            await manager.save_prepared_keyboard_button(alice, KeyboardButton("Hello"))
            raise AssertionError("a plain text button cannot be prepared")
        except BadRequest as e:
            assert "button_type_invalid" in str(e).lower(), e

        # The menu button opens a Mini App: by default for every chat, or per chat.
        assert await manager.set_chat_menu_button(menu_button=telegram.MenuButtonWebApp("Create a bot", telegram.WebAppInfo("https://shop.example/miniapp")))
        button = strict(await manager.get_chat_menu_button())
        assert isinstance(button, telegram.MenuButtonWebApp) and button.web_app.url == "https://shop.example/miniapp", button
        assert await manager.set_chat_menu_button(chat_id=alice, menu_button=telegram.MenuButtonCommands())
        assert isinstance(strict(await manager.get_chat_menu_button(chat_id=alice)), telegram.MenuButtonCommands)

        # A managed bot: the user opens a creation link and confirms; the manager fetches the token.
        link = f"https://t.me/newbot/{me.username}/ptb_pizza_bot?name=PTB%20Pizza"
        req = control("POST", f"users/{alice}/creation_links", {"link": link})
        assert req["suggested_name"] == "PTB Pizza"
        child_user = control("POST", f"creation_requests/{req['id']}/confirm", {})
        u, offset = await one_update(manager, offset, "managed_bot")
        assert u.managed_bot.user.id == alice and u.managed_bot.bot.id == child_user["id"]
        u, offset = await one_update(manager, offset, "message")
        assert u.message.managed_bot_created.bot.id == child_user["id"]
        child_token = await manager.get_managed_bot_token(user_id=child_user["id"])
        assert isinstance(child_token, str) and child_token.startswith(f"{child_user['id']}:")

        # Access settings (Bot API 10.1): restrict the bot to its owner and Bob, then open it.
        bob = control("POST", "users", {"first_name": "Bob"})["id"]
        settings = strict(await manager.get_managed_bot_access_settings(child_user["id"]))
        assert settings.is_access_restricted is False and not settings.added_users, settings
        assert await manager.set_managed_bot_access_settings(child_user["id"], True, [bob])
        settings = strict(await manager.get_managed_bot_access_settings(child_user["id"]))
        assert settings.is_access_restricted is True and [u.id for u in settings.added_users] == [bob], settings
        assert await manager.set_managed_bot_access_settings(child_user["id"], False)
        assert strict(await manager.get_managed_bot_access_settings(child_user["id"])).is_access_restricted is False

    async with Bot(child_token, base_url=f"{BASE}/bot") as child:
        child_me = strict(await child.get_me())
        assert child_me.username == "ptb_pizza_bot"

        # Stars: invoice → the user pays → pre_checkout_query → ok → successful_payment.
        control("POST", f"users/{alice}/messages", {"bot_id": child_me.id, "text": "buy"})
        u, coffset = await one_update(child, None, "message")
        invoice = strict(await child.send_invoice(alice, "100 answers", "A pack of answers", "pack:100", "XTR", [LabeledPrice("100 answers", 50)]))
        assert invoice.invoice.currency == "XTR" and invoice.invoice.total_amount == 50
        payment = control("POST", f"users/{alice}/payments", {"bot_id": child_me.id, "message_id": invoice.message_id})
        u, coffset = await one_update(child, coffset, "pre_checkout_query")
        q = u.pre_checkout_query
        assert q.total_amount == 50 and q.invoice_payload == "pack:100" and q.from_user.id == alice
        assert await q.answer(ok=True)
        u, coffset = await one_update(child, coffset, "message")
        paid = u.message.successful_payment
        assert paid is not None and paid.total_amount == 50 and paid.telegram_payment_charge_id
        for _ in range(100):
            if control("GET", f"payments/{payment['id']}")["status"] == "paid":
                break
            await asyncio.sleep(0.02)
        tx = strict(await child.get_star_transactions())
        assert tx.transactions[0].id == paid.telegram_payment_charge_id

        sub_link = await child.create_invoice_link("Monthly", "Monthly plan", "plan:monthly", "XTR", [LabeledPrice("Monthly", 100)], subscription_period=2592000)
        assert sub_link.startswith("https://t.me/$"), sub_link

    assert not LOG_TRAP.records, f"PTB logged warnings: {LOG_TRAP.records}"
    print(f"python-telegram-bot {telegram.__version__}: scenario passed, {CHECKED} objects parsed strictly")


if __name__ == "__main__":
    asyncio.run(main())
