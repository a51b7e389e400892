"""The local stack's Lambda emulation: concurrent requests each see their own event, as separate sandboxes do.

Powertools' resolver keeps the current event on a class shared by the process; Lambda runs one
request per process, the local stack runs them all in one. A handler that reads its event after
another request started must still read its own (local/lambdas.py, events_per_container).
"""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from local.apigw import Gateway
from local.template import Template

HANDLER = """
import time
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

app = APIGatewayHttpResolver()


@app.get("/t")
def echo():
    query = app.current_event.query_string_parameters
    first = query["n"]
    time.sleep(float(query.get("sleep", "0")))
    return {"before": first, "after": app.current_event.query_string_parameters["n"]}


def handler(event, context):
    return app.resolve(event, context)
"""


def test_a_request_reads_its_own_event_while_another_runs(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(HANDLER))
    props: dict[str, Any] = {
        "CodeUri": str(tmp_path),
        "Handler": "app.handler",
        "Timeout": 10,
        "Events": {"Get": {"Type": "HttpApi", "Properties": {"Method": "GET", "Path": "/t", "Auth": {"Authorizer": "NONE"}}}},
    }
    gateway = Gateway(Template({"Resources": {"Echo": {"Type": "AWS::Serverless::Function", "Properties": props}}}))
    answers: dict[str, bytes] = {}

    def call(n: str, sleep: float) -> None:
        answers[n] = gateway.handle("GET", f"/t?n={n}&sleep={sleep}", {}, b"").body

    # Given a request whose handler reads its event, waits, and reads it again
    slow = threading.Thread(target=call, args=("1", 1.5))
    slow.start()
    time.sleep(0.5)
    # When another request to the same function runs meanwhile (in its own container)
    call("2", 0)
    slow.join(10)
    # Then each saw only its own event
    assert answers["2"] == b'{"before":"2","after":"2"}'
    assert answers["1"] == b'{"before":"1","after":"1"}'
