#!/usr/bin/env python3
"""A minimal PagerDuty REST API v2 stand-in for load tests (not for correctness tests: those use the
fake in tests/it/fakes/pagerduty.rs). Every service belongs to one escalation policy whose level-1
on-call is the user named by PD_EMAIL / PD_NAME; shifts run from an hour ago to a day from now.

    python3 scripts/pagerduty-stub.py 127.0.0.1 3998
"""
import datetime
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMAIL = os.environ.get("PD_EMAIL", "ada.abara@example.com")
NAME = os.environ.get("PD_NAME", "Ada Abara")


def iso(delta_hours):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=delta_hours)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(BaseHTTPRequestHandler):
    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        policy = {"id": "PBENCH1", "type": "escalation_policy_reference", "summary": "Bench escalation"}
        if self.path.startswith("/services/"):
            sid = self.path.split("/")[2].split("?")[0]
            self._send({"service": {"id": sid, "name": sid, "escalation_policy": policy}})
        elif self.path.startswith("/oncalls"):
            user = {"id": "PUBENCH", "type": "user", "summary": NAME, "name": NAME, "email": EMAIL}
            self._send({"oncalls": [{"escalation_level": 1, "start": iso(-1), "end": iso(24),
                                     "user": user, "escalation_policy": policy, "schedule": None}],
                        "limit": 100, "offset": 0, "more": False, "total": None})
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    ThreadingHTTPServer((host, port), Handler).serve_forever()
