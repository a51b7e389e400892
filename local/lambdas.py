"""Load the template's handlers as Lambda would, and invoke them with a Lambda-like context.

Lambda runs one request per container at a time; a Powertools resolver keeps the current
event on itself, so each concurrent request here gets its own loaded copy of the module
(its own "container"), reused once free.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.util
import itertools
import json
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local import iam
from local.template import Function

_counter = itertools.count()

# Lambda quotas, "Invocation payload (request and response)": 6 MB synchronous, which Lambda
# counts as 6,291,556 bytes of the serialised response
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
RESPONSE_LIMIT_BYTES = 6_291_556


class FunctionError(Exception):
    """A failed invocation as Lambda reports it: `error_type` ("Sandbox.Timedout", ...) and `message`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class WaitExceeded(Exception):
    """The caller stopped waiting (API Gateway's integration timeout) before the function ended."""


def timeout_seconds(function: Function) -> float:
    """The function's `Timeout` from the template; SEGSHARE_LAMBDA_TIMEOUT_SECONDS, when set, replaces it (tests)."""
    override = os.environ.get("SEGSHARE_LAMBDA_TIMEOUT_SECONDS")
    return float(override) if override else function.timeout


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    deadline: float = field(default_factory=lambda: time.monotonic() + 29)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


#: sys.path and sys.modules are process-wide: one function folder is imported at a time.
_IMPORTING = threading.Lock()


def _exec_with_siblings(loader: Any, module: ModuleType, function: Function) -> None:
    """Run the handler module with its folder first on the import path, as Lambda's task root is.

    A handler imports the other files of its ``CodeUri`` folder by bare name (``import
    evaluation_routes``), as it does deployed. Each load gets fresh copies of those files (a
    container shares nothing with another), and they leave ``sys.modules`` afterwards, so a
    same-named file of another folder, or an installed module of that name, is never mixed up
    with them.
    """
    folder = str(function.code_dir)
    siblings = [path.stem for path in function.code_dir.glob("*.py")]
    with _IMPORTING:
        hidden = {name: sys.modules.pop(name) for name in siblings if name in sys.modules}
        sys.path.insert(0, folder)
        try:
            loader.exec_module(module)
        finally:
            sys.path.remove(folder)
            for name in siblings:
                sys.modules.pop(name, None)
            sys.modules.update(hidden)


class SandboxStopped(Exception):
    """Raised at the AWS call a handler makes after its invocation timed out (Lambda has stopped its sandbox)."""


#: Set for the invocation a thread (or a pool thread it handed work to) runs, once its Timeout has passed.
_STOPPED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("segshare_lambda_stopped", default=None)


def _refuse_after_timeout(**_: Any) -> None:
    stopped = _STOPPED.get()
    if stopped is not None and stopped.is_set():
        raise SandboxStopped("the invocation timed out: Lambda stopped its sandbox")


@functools.cache  # once per process, before the handlers' clients exist
def stop_timed_out_handlers() -> None:
    """Fail every AWS call of an invocation past its Timeout, as a stopped sandbox makes none.

    A thread cannot be killed, so a handler past its Timeout ran on: a 20k x 20k evaluation
    kept reading for minutes after its caller had its 500, and ten of them starved every other
    request of the stack. From its next AWS call on (botocore's ``before-parameter-build``, in the threads
    it handed work to as well: the mark is a context variable, which ``local/iam.py`` carries
    into pool threads) it gets SandboxStopped, which no handler catches as an AWS error.
    """
    import boto3
    from botocore import handlers

    # First of the hooks, before local/iam.py's check: a stopped sandbox sends no call to check.
    handlers.BUILTIN_HANDLERS.insert(0, ("before-parameter-build", _refuse_after_timeout))
    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION._session.get_component("event_emitter").register_first("before-parameter-build", _refuse_after_timeout)


@functools.cache  # once per process
def events_per_container() -> None:
    """Give each Powertools resolver its own current event, as each Lambda sandbox has.

    ``ApiGatewayResolver.resolve`` keeps the event (and context) on the ``BaseRouter`` class,
    shared by every resolver of the process: in Lambda one process serves one request, here
    concurrent requests run in one process, so a handler read the event of whichever request
    resolved last (another's body, path or caller). Kept on the resolver itself, the copy of
    the module each concurrent request gets (``Containers``), the route, the validation and
    ``app.current_event`` all see their own request; the class attribute is still set.
    """
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

    resolve = ApiGatewayResolver.resolve

    @functools.wraps(resolve)
    def resolve_own_event(self: ApiGatewayResolver, event: Any, context: Any) -> Any:
        raw = event.raw_event if isinstance(event, BaseProxyEvent) else event
        self.current_event = self._to_proxy_event(raw)
        self.lambda_context = context
        return resolve(self, event, context)

    ApiGatewayResolver.resolve = resolve_own_event  # type: ignore[method-assign]


def load_module(function: Function) -> ModuleType:
    """Import the function's handler module as a fresh copy (a "container").

    Its handler runs as the function's role: the AWS calls it makes are checked against the
    role's policy as deployed (``local/iam.py``), wherever the handler is called from.
    """
    events_per_container()
    stop_timed_out_handlers()
    module_file, attr = function.handler.rsplit(".", 1)
    path = function.code_dir / f"{module_file}.py"
    name = f"segshare_fn_{function.logical_id}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as Lambda's runtime does; pydantic resolves annotations through it
    _exec_with_siblings(spec.loader, module, function)
    handler = getattr(module, attr)

    @functools.wraps(handler)
    def as_function(event: Any, context: Any) -> Any:
        with iam.acting_as(function.logical_id):
            return handler(event, context)

    setattr(module, attr, as_function)
    return module


def _hold(seconds: float) -> None:
    """Wait `seconds` in a ThreadPoolExecutor worker, where the handlers' long reads run.

    The handlers' parallel reads (``store/profiles.py``, ``store/device_index.py``) run in
    executor workers, which an interpreter exit joins: a request held here keeps the process
    as busy as a long evaluation does, so the SIGTERM test sees what a busy stack does.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="held") as pool:
        pool.submit(time.sleep, seconds).result()


class Containers:
    """A pool of warm copies of one function's module."""

    def __init__(self, function: Function) -> None:
        self.function = function
        self._free: queue.SimpleQueue[ModuleType] = queue.SimpleQueue()
        self._lock = threading.Lock()

    def _take(self) -> ModuleType:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                return load_module(self.function)

    def invoke(self, event: dict[str, Any], wait_seconds: float | None = None, delay_seconds: float = 0.0) -> dict[str, Any]:
        """Run the handler on `event` and return its result, within the function's timeout.

        Raises FunctionError("Sandbox.Timedout", "Task timed out after N.NN seconds") when the
        handler runs past its `Timeout`, FunctionError("Function.ResponseSizeTooLarge", ...)
        when its serialised result passes RESPONSE_LIMIT_BYTES (both as Lambda reports them),
        WaitExceeded when `wait_seconds` (the caller's own limit) passes first, and whatever the
        handler raised. A thread cannot be killed: a timed-out handler runs on in the background
        until its next AWS call, which raises SandboxStopped (on AWS the sandbox is stopped);
        work between its AWS calls (a local file write) can still land, and its answer is
        dropped. `delay_seconds` makes the handler start late (tests of the limits),
        held as a busy handler is held (``_hold``).
        """
        timeout = timeout_seconds(self.function)
        module = self._take()
        handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(module, self.function.handler.rsplit(".", 1)[1])
        context = LambdaContext(function_name=self.function.logical_id, deadline=time.monotonic() + timeout)
        outcome: dict[str, Any] = {}
        stopped = threading.Event()

        def run() -> None:
            _STOPPED.set(stopped)
            try:
                if delay_seconds:
                    _hold(delay_seconds)
                outcome["result"] = handler(event, context)
            except BaseException as exc:  # handed to the caller, as Lambda hands back a function error
                outcome["error"] = exc
            finally:
                self._free.put(module)  # only once the handler is done: one request per container

        worker = threading.Thread(target=run, name=f"lambda-{self.function.logical_id}", daemon=True)
        worker.start()
        worker.join(timeout if wait_seconds is None else min(timeout, wait_seconds))
        if worker.is_alive():
            if wait_seconds is not None and wait_seconds < timeout:
                raise WaitExceeded(f"no answer within {wait_seconds:g} s")  # the function runs on, as in Lambda
            stopped.set()
            raise FunctionError("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
        if "error" in outcome:
            raise outcome["error"]
        result: dict[str, Any] = outcome["result"]
        if len(json.dumps(result).encode()) > RESPONSE_LIMIT_BYTES:
            message = f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT_BYTES} bytes)."
            raise FunctionError("Function.ResponseSizeTooLarge", message)
        return result


def bridge_lambda_invoke(functions: list[Function]) -> None:
    """Make moto's Lambda (simple backend, no Docker) run the template's real handlers.

    Step Functions' ``lambda:invoke`` tasks reach moto's Lambda; with ``use_docker`` off moto
    would only echo the payload. Here the call goes to the handler the template names for that
    function, and an exception comes back as a Lambda function error of the exception's type,
    which is what the state machine's Retry and Catch see deployed.
    """
    from moto.awslambda_simple.models import LambdaSimpleBackend

    by_name = {f.logical_id: Containers(f) for f in functions}

    def invoke(
        self: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        containers = by_name.get(name)
        if containers is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ResourceNotFoundException", "errorMessage": f"no function {name}"}).encode()
        event = json.loads(body) if body else {}
        try:
            return json.dumps(containers.invoke(event)).encode()
        except FunctionError as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": exc.error_type, "errorMessage": exc.message}).encode()
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)[:500]}).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
