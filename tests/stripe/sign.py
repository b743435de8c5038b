"""Signs Stripe webhook bodies with Stripe's own library (the `stripe` package from PyPI).

Reads a JSON list of {"payload": str, "secret": str, "timestamp": int} on stdin and prints a
JSON list of `Stripe-Signature` header values. Each header is also checked with the library's
own verifier (tolerance wide enough for deliberately old or future timestamps), so the test
proves bellhop agrees with Stripe on what a valid signature is.
"""
import json
import sys

import stripe

items = json.load(sys.stdin)
headers = []
for item in items:
    ws = stripe.WebhookSignature
    if hasattr(ws, "generate_signature_header"):
        header = ws.generate_signature_header(item["payload"], item["secret"], timestamp=item["timestamp"])
    else:  # older releases: the library's own HMAC, the header assembled as Stripe sends it
        header = "t=%d,v1=%s" % (item["timestamp"], ws._compute_signature("%d.%s" % (item["timestamp"], item["payload"]), item["secret"]))
    stripe.WebhookSignature.verify_header(item["payload"], header, item["secret"], tolerance=None)
    headers.append(header)
json.dump({"stripe_version": stripe.VERSION, "headers": headers}, sys.stdout)
