"""`sentinel alerts [--send] [--json]`: the alert webhooks sent and waiting."""

from __future__ import annotations

import json


def cmd_alerts(args) -> int:
    from bootstrap import get_app
    from cli_commands.data import text_table
    from services.alerts import recent_alerts, send_due_alerts

    app = get_app()
    sent = send_due_alerts(app) if args.send else None
    rows = recent_alerts(app, limit=args.limit)
    if args.json:
        print(json.dumps({"sent_now": sent, "alerts": [{**r, "text": r["payload"].get("text")} for r in rows]},
                         default=str))
        return 0
    if sent is not None:
        print(f"Sent now: {sent['sent']}, failed: {sent['failed']}.")
    if not rows:
        where = "" if app.settings.alert_webhook_url else " (SENTINEL_ALERT_WEBHOOK_URL is not set)"
        print(f"No alerts yet{where}.")
        return 0
    table = [[str(r["id"]), r["status"], str(r["attempts"]), f"{r['created_at']:%Y-%m-%d %H:%M}",
              (r["payload"].get("text") or "")[:90] + (f"  [{r['last_error'][:60]}]" if r["last_error"] else "")]
             for r in rows]
    print(text_table(["id", "status", "tries", "queued", "alert"], table))
    return 0


def register(sub) -> None:
    s = sub.add_parser("alerts", help="the alert webhooks sent and waiting (SENTINEL_ALERT_WEBHOOK_URL)")
    s.add_argument("--send", action="store_true", help="POST the due alerts now, then list")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_alerts)
