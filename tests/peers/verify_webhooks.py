"""Verifies webhook deliveries with the `standardwebhooks` package from PyPI.

Reads from stdin a JSON object {"secret": "whsec_…", "deliveries": [{"headers":
{name: value}, "body": "…"}, …]} — requests as a real receiver got them — and
verifies each with `standardwebhooks.Webhook(secret).verify(body, headers)`,
a real implementation of the protocol, not Outpost's. Prints the verified
payloads as one JSON array; exits 1, naming the delivery and the error, at the
first that does not verify.
"""

import json
import sys
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def main() -> int:
    request: dict[str, Any] = json.load(sys.stdin)
    webhook = Webhook(request["secret"])
    verified: list[Any] = []
    for n, delivery in enumerate(request["deliveries"]):
        try:
            verified.append(webhook.verify(delivery["body"], delivery["headers"]))
        except WebhookVerificationError as e:
            print(f"delivery {n} does not verify: {e}", file=sys.stderr)
            return 1
    json.dump(verified, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
