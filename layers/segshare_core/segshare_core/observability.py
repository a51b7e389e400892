"""The one Logger, Tracer and Metrics of a function (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

import traceback
from types import TracebackType

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter


class NoValuesFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with an exception's stack but never its message.

    An exception's message can quote data: a UnicodeEncodeError quotes the character, a
    KeyError the key, a ValueError its input. Logs carry no device id or attribute value
    (house style), so a logged failure keeps its type (``exception_name``) and frames (file,
    line, function, statement) and drops the message; ``stack_trace`` (which repeats it) is off.
    """

    def __init__(self) -> None:
        super().__init__(serialize_stacktrace=False)

    # logging's name (camelCase) for the hook.
    def formatException(self, ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]) -> str:
        kind, _message, stack = ei
        frames = "".join(traceback.format_tb(stack))
        name = kind.__name__ if kind is not None else "Exception"
        return f"Traceback (most recent call last):\n{frames}{name} (message withheld: it may quote data)"


logger = Logger(logger_formatter=NoValuesFormatter())
tracer = Tracer()
metrics = Metrics()
