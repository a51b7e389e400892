"""IAM as deployed, checked locally: every AWS call a function makes against that function's role.

moto checks no permissions, so a handler can call what its deployed role does not allow and
every local test still passes (issue 10: the export function's ``GetQueueUrl``). This module

- expands ``template.yaml`` with the SAM translator (the policy templates such as
  ``DynamoDBCrudPolicy`` become statements) and compiles each role's statements, inline and
  the AWS managed policies SAM attaches, with the template's intrinsics substituted by the
  names the local stack gives (``local/template.py``: stack ``segshare-local``, account
  123456789012, us-east-1); resource-based Deny statements (the bucket policy) apply too;
- attributes every botocore call to the function making it: a ``before-parameter-build``
  hook on every botocore session (boto3's, pynamodb's) reads ``CURRENT``, which the
  handlers' loader sets for the duration of an invocation (``local/lambdas.py``);
- maps the call to the IAM actions and resource ARNs AWS authorises it by, evaluates them
  (explicit Deny, then Allow, else implicit deny) and, when denied, raises botocore's
  ``ClientError`` with ``AccessDenied``/``AccessDeniedException`` as AWS would;
- checks the state machines' own calls the same way, as the machine's role: each Task state's
  integration (Lambda invoke, ``sqs:sendMessage``, any SDK integration), a Distributed Map's
  ItemReader and ResultWriter objects, and the child executions a Distributed Map starts
  (``_check_state_machine_calls``);
- records the calls (``RECORDER``) so the tests fail on a denial even where the handler
  swallows the error, and so ``python -m local.iam unused`` lists the grants no test used.

Calls made outside a handler (test setup, the local stack building its resources) are not
checked: they are nobody's role.
"""

from __future__ import annotations

import contextvars
import copy
import fcntl
import functools
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from local import template as tpl

PARTITION = "aws"
REGION = tpl.PSEUDO["AWS::Region"]
ACCOUNT = tpl.PSEUDO["AWS::AccountId"]
STACK = tpl.PSEUDO["AWS::StackName"]
USAGE_FILE = tpl.ROOT / "test-output" / "iam-usage.json"
LOG = logging.getLogger("segshare.local.iam")

#: The function (template logical id) whose role the AWS calls of this context run as.
CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("segshare_iam_current", default=None)

#: AWS managed policies SAM attaches to the roles, as AWS publishes them (IAM console, policy
#: versions current in 2026). Only these are resolvable offline; any other raises at load.
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


# ------------------------------------------------------------------ the template, expanded


class TemplateError(ValueError):
    """The template uses an intrinsic, condition operator or managed policy this module cannot evaluate."""


def expand(body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template as CloudFormation after the SAM transform (roles with policy templates expanded).

    Local ``CodeUri``/``ContentUri``/``DefinitionUri`` paths become an ``s3://`` string so the
    translator does not look for packaged artifacts (TOOLING-NOTES, second round).
    """
    from samtranslator.translator.transform import transform

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    raw = copy.deepcopy(body if body is not None else tpl.load().body)
    for resource in raw.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = "s3://segshare-local-artifacts/" + props[key].strip("/")
    result: dict[str, Any] = transform(raw, {}, _NoManagedPolicies())
    return result


class _Resolver:
    """Substitutes CloudFormation intrinsics with the local stack's names."""

    def __init__(self, cfn: dict[str, Any]) -> None:
        self.resources: dict[str, Any] = cfn.get("Resources", {})
        self.parameters = {k: v.get("Default", "") for k, v in cfn.get("Parameters", {}).items()}
        self.conditions: dict[str, Any] = cfn.get("Conditions", {})

    def name(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::S3::Bucket":
            declared = self.resources[logical_id].get("Properties", {}).get("BucketName")
            return str(self.value(declared)) if declared else f"segshare-{logical_id.lower()}"
        return logical_id

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            raise TemplateError(f"Ref to unknown {name}")
        kind = self.resources[name]["Type"]
        if kind == "AWS::SQS::Queue":
            return queue_url(self.name(name))
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        return self.name(name)

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        local = self.name(name)
        if attribute == "Arn":
            arns = {
                "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{local}",
                "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{local}",
                "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{local}",
                "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{local}",
                "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{local}:*",
                "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{local}",
                "AWS::StepFunctions::StateMachine": f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{local}",
            }
            if kind in arns:
                return arns[kind]
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return local
        raise TemplateError(f"Fn::GetAtt {name}.{attribute} of a {kind}")

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions[name]))

    def value(self, node: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {k: self.value(v) for k, v in node.items()}
        ((key, arg),) = node.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(parts[0], parts[1])
        if key == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))
            return self._sub(text, names)
        if key == "Fn::Join":
            return str(self.value(arg[0])).join(str(v) for v in self.value(arg[1]))
        if key == "Fn::Select":
            return self.value(arg[1])[int(self.value(arg[0]))]
        if key == "Fn::Split":
            return str(self.value(arg[1])).split(str(self.value(arg[0])))
        if key == "Fn::If":
            return self.value(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if key == "Fn::Not":
            return not self.value(arg[0])
        if key == "Fn::And":
            return all(self.value(v) for v in arg)
        if key == "Fn::Or":
            return any(self.value(v) for v in arg)
        if key == "Condition" and isinstance(arg, str):
            return self.condition(arg)
        if key.startswith("Fn::"):
            raise TemplateError(f"{key} is not evaluated locally")
        return {key: self.value(arg)}

    def _sub(self, text: str, names: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in names:
                return str(names[inner])
            if "." in inner and not inner.startswith("AWS::"):
                logical, attribute = inner.split(".", 1)
                return self.get_att(logical, attribute)
            return str(self.ref(inner))

        return re.sub(r"\$\{([^}]+)\}", one, text)


def queue_url(name: str) -> str:
    """The URL AWS (and moto, in-process and as a server) gives a queue of this account and region."""
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"


# ------------------------------------------------------------------ statements and their evaluation


def _glob(patterns: list[str], *, ignore_case: bool) -> re.Pattern[str]:
    """One regex for IAM wildcards (``*`` any run, ``?`` one character), as Action/Resource use them."""
    parts = ["^" + ".*".join(".".join(re.escape(q) for q in p.split("?")) for p in pattern.split("*")) + "$" for pattern in patterns]
    return re.compile("|".join(parts) or "(?!)", re.IGNORECASE if ignore_case else 0)


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


_CONDITION_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda have, want: have == want,
    "StringEqualsIgnoreCase": lambda have, want: have.lower() == want.lower(),
    "StringLike": lambda have, want: bool(_glob([want], ignore_case=False).match(have)),
    "ArnEquals": lambda have, want: have == want,
    "ArnLike": lambda have, want: bool(_glob([want], ignore_case=False).match(have)),
    "Bool": lambda have, want: have.lower() == want.lower(),
}


def _condition_holds(operator: str, key: str, wanted: list[str], context: dict[str, str]) -> bool:
    """One condition operator over one key, as IAM evaluates it (policy-reference docs, condition operators).

    A key absent from the request makes a positive operator false and a negated (``...Not...``)
    operator true; ``...IfExists`` makes an absent key true; ``Null`` tests absence itself.
    """
    have = context.get(key)
    if operator == "Null":
        return (have is None) == (wanted[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = "Not" in base
    test = _CONDITION_TESTS.get(base.replace("Not", ""))
    if test is None:
        raise TemplateError(f"condition operator {operator} is not evaluated locally")
    if have is None:
        return if_exists or negated
    matched = any(test(have, want) for want in wanted)
    return not matched if negated else matched


@dataclass(frozen=True)
class Statement:
    """One compiled policy statement; ``source`` names the policy it came from."""

    effect: str
    source: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    condition: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    _action_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _resource_re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Action names are case-insensitive in IAM; resource ARNs are not.
        object.__setattr__(self, "_action_re", _glob(list(self.actions or self.not_actions), ignore_case=True))
        object.__setattr__(self, "_resource_re", _glob(list(self.resources or self.not_resources), ignore_case=False))

    @classmethod
    def parse(cls, raw: dict[str, Any], source: str) -> Statement:
        """A statement whose intrinsics are already resolved; raises TemplateError on what it cannot evaluate."""
        conditions = []
        for operator, keys in (raw.get("Condition") or {}).items():
            for key, wanted in keys.items():
                conditions.append((operator, key, tuple(_listed(wanted))))
                _condition_holds(operator, key, _listed(wanted), {})  # an unknown operator fails now, not per call
        return cls(
            effect=raw["Effect"],
            source=f"{source}/{raw['Sid']}" if raw.get("Sid") else source,
            actions=tuple(_listed(raw.get("Action"))),
            not_actions=tuple(_listed(raw.get("NotAction"))),
            resources=tuple(_listed(raw.get("Resource"))),
            not_resources=tuple(_listed(raw.get("NotResource"))),
            condition=tuple(conditions),
        )

    def matches(self, action: str, resource: str, context: dict[str, str]) -> bool:
        """Whether the statement applies to this action on this resource in this request context."""
        action_hit = bool(self._action_re.match(action))
        if action_hit == bool(self.not_actions):
            return False
        resource_hit = bool(self._resource_re.match(resource))
        if resource_hit == bool(self.not_resources):
            return False
        return all(_condition_holds(op, key, list(wanted), context) for op, key, wanted in self.condition)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    statement: Statement | None  # the Allow that granted it, the Deny that refused it, or None (implicit deny)


@dataclass(frozen=True)
class Policy:
    """The statements that apply to one principal: its role's, and the resource policies' Deny statements.

    ``own_arn`` is the ARN a state machine has when deployed (None for a function): a
    Distributed Map starts child executions of its own machine, so those calls name it.
    """

    role: str
    statements: tuple[Statement, ...]
    own_arn: str | None = None

    def decide(self, action: str, resource: str, context: dict[str, str] | None = None) -> Decision:
        """IAM's evaluation within one account: an explicit Deny wins, then any Allow, else denied."""
        ctx = context or {}
        allow = None
        for statement in self.statements:
            if statement.matches(action, resource, ctx):
                if statement.effect == "Deny":
                    return Decision(False, statement)
                allow = allow or statement
        return Decision(allow is not None, allow)


def compile_policies(cfn: dict[str, Any]) -> dict[str, Policy]:
    """Logical id of each Lambda function and state machine -> its role's Policy.

    ``cfn`` is the expanded template (``expand()``). Raises TemplateError for a managed policy
    not in MANAGED_POLICIES or an intrinsic or condition operator it cannot evaluate.
    """
    resolver = _Resolver(cfn)
    resources = cfn["Resources"]
    denies: list[Statement] = []
    for logical_id, resource in resources.items():
        if resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
            for raw in resolver.value(resource["Properties"]["PolicyDocument"])["Statement"]:
                if raw["Effect"] == "Deny" and raw.get("Principal") in ("*", {"AWS": "*"}):
                    denies.append(Statement.parse(raw, logical_id))
    policies = {}
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        own_arn = None
        if resource["Type"] == "AWS::Lambda::Function":
            role_ref = props.get("Role")
        elif resource["Type"] == "AWS::StepFunctions::StateMachine":
            role_ref = props.get("RoleArn")
            own_arn = state_machine_arn(logical_id, resolver.value(props.get("StateMachineName")))
        else:
            continue
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise TemplateError(f"{logical_id}: role {role_ref!r} is not a role of this template")
        role_id = role_ref["Fn::GetAtt"][0]
        role = resources[role_id]["Properties"]
        statements: list[Statement] = []
        for inline in role.get("Policies", []):
            document = resolver.value(inline["PolicyDocument"])
            for raw in _listed_dicts(document["Statement"]):
                statements.append(Statement.parse(raw, f"{role_id}/{inline['PolicyName']}"))
        for arn in resolver.value(role.get("ManagedPolicyArns", [])):
            if arn not in MANAGED_POLICIES:
                raise TemplateError(f"{role_id}: managed policy {arn} is not known locally; add its document to MANAGED_POLICIES")
            statements.extend(Statement.parse(raw, arn) for raw in MANAGED_POLICIES[arn])
        policies[logical_id] = Policy(role_id, tuple(statements + denies), own_arn)
    return policies


def state_machine_arn(logical_id: str, name: str | None) -> str:
    """The ARN a state machine of this stack has when deployed: its ``Name``, else CloudFormation's generated one.

    Locally every machine is named by its logical id (``local/schedule.py``); deployed it has
    its declared name (``segshare-local-evaluation``), or ``<LogicalId>-<random suffix>``,
    which a policy can only match with a wildcard (``-local`` stands for the suffix here).
    """
    return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{name or logical_id + '-local'}"


def _listed_dicts(value: Any) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value]


def load_template(path: Path) -> dict[str, Any]:
    """A SAM template file with its short-form intrinsics (!Ref, !Sub, ...) in long form."""
    import yaml

    with path.open() as fh:
        body: dict[str, Any] = yaml.load(fh, Loader=tpl._CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return body


@cache
def policies() -> dict[str, Policy]:
    """The compiled policies the check uses, built once per process (the translator takes ~1 s).

    Those of template.yaml, or of the template SEGSHARE_IAM_TEMPLATE names: a way to try a
    narrower policy against the tests or the local stack before changing template.yaml.
    """
    override = os.environ.get("SEGSHARE_IAM_TEMPLATE")
    return compile_policies(expand(load_template(Path(override)) if override else None))


# ------------------------------------------------------------------ botocore operations -> IAM requests


class Request(NamedTuple):
    """One authorisation AWS makes for a call: an action on a resource, with the condition keys it sets."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


_S3_OBJECT_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    # A multipart upload is authorised as s3:PutObject at each step (S3 user guide, multipart permissions).
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject",
    "CopyObject": "s3:PutObject",
}
_S3_BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}
_SQS_ACTIONS = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_DYNAMODB_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _table_arn(name: str, index: str | None = None) -> str:
    base = name if name.startswith("arn:") else f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{base}/index/{index}" if index else base


def _queue_arn(url: str) -> str:
    parts = urlsplit(url).path.strip("/").split("/")
    return f"arn:{PARTITION}:sqs:{REGION}:{parts[-2] if len(parts) > 1 else ACCOUNT}:{parts[-1]}"


def requests_for(service: str, operation: str, params: dict[str, Any]) -> list[Request]:  # noqa: PLR0911 - a branch per service
    """The IAM requests AWS authorises for one API call (``service`` is the IAM prefix, e.g. ``dynamodb``).

    Mostly ``service:Operation`` on the resource the parameters name; the exceptions are the
    documented ones: DynamoDB transactions and batches are authorised per item action and per
    table, S3 multipart steps as ``s3:PutObject``, ``HeadObject`` as ``s3:GetObject``, S3
    listings as ``s3:ListBucket`` on the bucket, SQS batch calls as their single action.
    """
    context = (("aws:SecureTransport", "true"), ("aws:RequestedRegion", REGION))
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            found = []
            for item in params.get("TransactItems", []):
                ((kind, body),) = item.items()
                action = "GetItem" if kind == "Get" else _DYNAMODB_TRANSACT[kind]
                found.append(Request(f"dynamodb:{action}", _table_arn(body["TableName"]), context))
            return list(dict.fromkeys(found))
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [Request(f"dynamodb:{operation}", _table_arn(name), context) for name in params.get("RequestItems", {})]
        if "TableName" in params:
            return [Request(f"dynamodb:{operation}", _table_arn(params["TableName"], params.get("IndexName")), context)]
    if service == "s3" and "Bucket" in params:
        bucket = params["Bucket"]
        extra: tuple[tuple[str, str], ...] = ()
        if params.get("ServerSideEncryption"):
            extra = (("s3:x-amz-server-side-encryption", params["ServerSideEncryption"]),)
        if operation in _S3_OBJECT_ACTIONS and "Key" in params:
            return [Request(_S3_OBJECT_ACTIONS[operation], f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}", context + extra)]
        action = _S3_BUCKET_ACTIONS.get(operation, f"s3:{operation}")
        if "Prefix" in params:
            extra = (("s3:prefix", params["Prefix"]),)
        if "Key" in params:
            return [Request(action, f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}", context + extra)]
        return [Request(action, f"arn:{PARTITION}:s3:::{bucket}", context + extra)]
    if service == "sqs":
        action = _SQS_ACTIONS.get(operation, f"sqs:{operation}")
        if "QueueUrl" in params:
            return [Request(action, _queue_arn(params["QueueUrl"]), context)]
        if "QueueName" in params:
            owner = params.get("QueueOwnerAWSAccountId", ACCOUNT)
            return [Request(action, f"arn:{PARTITION}:sqs:{REGION}:{owner}:{params['QueueName']}", context)]
    if service == "lambda" and "FunctionName" in params:
        name = str(params["FunctionName"])
        arn = name if name.startswith("arn:") else f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}"
        action = "lambda:InvokeFunction" if operation in ("Invoke", "InvokeAsync", "InvokeWithResponseStream") else f"lambda:{operation}"
        return [Request(action, arn, context)]
    if service == "states":
        for key in ("stateMachineArn", "executionArn", "mapRunArn", "activityArn"):
            if key in params:
                return [Request(f"states:{operation}", str(params[key]), context)]
    return [Request(f"{service}:{operation}", "*", context)]


# ------------------------------------------------------------------ the hook and the record


@dataclass(frozen=True)
class Denial:
    function: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.function} may not {self.action} on {self.resource}"


class Recorder:
    """Calls made (function, action, resource) and the ones denied, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: set[tuple[str, str, str]] = set()
        self.denials: list[Denial] = []

    def add(self, function: str, request: Request, allowed: bool) -> None:
        with self._lock:
            if allowed:
                self.calls.add((function, request.action, request.resource))
            else:  # a denied call used no grant
                self.denials.append(Denial(function, request.action, request.resource))

    def take_denials(self) -> list[Denial]:
        """The denials recorded since the last take (a test's own), cleared."""
        with self._lock:
            found, self.denials = self.denials, []
        return found

    def merge(self, calls: list[list[str]], denials: list[list[str]] = ()) -> None:  # type: ignore[assignment]
        with self._lock:
            self.calls.update((f, a, r) for f, a, r in calls)
            self.denials.extend(Denial(f, a, r) for f, a, r in denials)

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": sorted(self.calls), "denied": [[d.function, d.action, d.resource] for d in self.denials]}


RECORDER = Recorder()
#: Where this context's checked calls go: RECORDER, or a test's own (``record_into``).
_RECORDING: contextvars.ContextVar[Recorder] = contextvars.ContextVar("segshare_iam_recording", default=RECORDER)


@contextmanager
def record_into(recorder: Recorder) -> Iterator[Recorder]:
    """Record the block's checked calls in ``recorder`` instead of the session's (tests of the check itself)."""
    token = _RECORDING.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDING.reset(token)


def access_denied(function: str, policy: Policy, service: str, operation: str, request: Request) -> Exception:
    """The ClientError AWS answers a denied call with (AccessDenied for S3 and SQS, else AccessDeniedException)."""
    from botocore.exceptions import ClientError

    code = "AccessDenied" if service in ("s3", "sqs") else "AccessDeniedException"
    why = "no identity-based policy allows the action"
    decision = policy.decide(request.action, request.resource, dict(request.context))
    if decision.statement is not None:
        why = f"an explicit deny in {decision.statement.source}"
    message = (
        f"User: arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{policy.role}/{function} is not authorized to perform: "
        f"{request.action} on resource: {request.resource} because {why}"
    )
    status = 403 if service in ("s3", "sqs") else 400
    error: Exception = ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)
    return error


def check_call(function: str, model: Any, params: dict[str, Any], table: dict[str, Policy] | None = None) -> None:
    """Authorise one botocore call of ``function``; record it; raise AccessDenied when its role does not allow it.

    ``model`` is botocore's OperationModel (its service's signing name is the IAM prefix).
    A function missing from the template is denied everything (it has no role).
    """
    service = model.service_model.signing_name
    authorise(function, service, model.name, requests_for(service, model.name, params), table)


def authorise(function: str, service: str, operation: str, requests: list[Request], table: dict[str, Policy] | None = None) -> None:
    """Decide each request against ``function``'s role; record it; raise AccessDenied at the first one refused.

    ``function`` is a template logical id (a function's or a state machine's); ``service`` the
    IAM prefix and ``operation`` the API name, for the error AWS would answer with.
    """
    policy = role_of(function, table)
    for request in requests:
        allowed = policy.decide(request.action, request.resource, dict(request.context)).allowed
        _RECORDING.get().add(function, request, allowed)
        if not allowed:
            LOG.warning("iam denied a call", extra={"function": function, "action": request.action, "resource": request.resource})
            raise access_denied(function, policy, service, operation, request)


def role_of(function: str, table: dict[str, Policy] | None = None) -> Policy:
    """The compiled policy of a template logical id; one missing from the template has no role and is denied everything."""
    known = policies() if table is None else table
    return known.get(function) or Policy(f"{function}-no-role", ())


def _before_parameter_build(params: dict[str, Any], model: Any, **_: Any) -> None:
    function = CURRENT.get()
    if function is not None:
        check_call(function, model, params)


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Run the block's AWS calls as ``function``'s role (a handler invocation)."""
    token = CURRENT.set(function)
    try:
        yield
    finally:
        CURRENT.reset(token)


_installed = False


def install() -> None:
    """Check every botocore call made under ``acting_as`` from now on, in this process.

    Every botocore session created afterwards registers the hook (``BUILTIN_HANDLERS``), and
    so does boto3's default session if it exists already. Work a handler hands to a thread
    pool keeps its function: Lambda runs those threads under the same role.
    """
    global _installed  # noqa: PLW0603 - once per process
    if _installed:
        return
    _installed = True
    import boto3
    from botocore import handlers

    handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _before_parameter_build))
    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION._session.register("before-parameter-build", _before_parameter_build)
    original_submit = ThreadPoolExecutor.submit

    def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if CURRENT.get() is None:
            return original_submit(self, fn, *args, **kwargs)
        return original_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]
    _check_state_machine_calls()


def _machine_of(env: Any) -> str:
    """The state machine an interpreter environment runs: its local name, the logical id (a Map's children carry their parent's)."""
    return str(env.states.context_object.context_object_data["StateMachine"]["Name"])


def _as_machine(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method(self, env, ...)`` of moto's interpreter, its AWS calls made as the running machine's role."""

    @functools.wraps(method)
    def wrapped(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        with acting_as(_machine_of(env)):
            return method(self, env, *args, **kwargs)

    return wrapped


def child_execution_requests(machine: str, map_run_arn: str, table: dict[str, Policy] | None = None) -> list[Request]:
    """What a Distributed Map's role must be allowed to run its children, as AWS documents it.

    "IAM policies for using Distributed Map states"
    (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html):
    ``states:StartExecution`` on the state machine itself (each item runs as a child execution
    of it) and ``states:DescribeExecution`` / ``states:StopExecution`` on those executions, whose
    ARNs are ``execution:<machine name>/<Map Run label or id>:<child name>``. ``map_run_arn`` is
    moto's (``mapRun:<local name>/<label>:<id>``); the Map Run's id stands for a child's name.
    Every ARN is the deployed one (``Policy.own_arn``), as the machine's policy names it.
    """
    own = role_of(machine, table).own_arn or f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{machine}"
    run = map_run_arn.split(":mapRun:", 1)[1].split("/", 1)[1]
    child = own.replace(":stateMachine:", ":execution:", 1) + "/" + run
    context = (("aws:SecureTransport", "true"), ("aws:RequestedRegion", REGION))
    return [
        Request("states:StartExecution", own, context),
        Request("states:DescribeExecution", child, context),
        Request("states:StopExecution", child, context),
    ]


def _check_state_machine_calls() -> None:
    """Check the calls moto's Step Functions interpreter makes as a state machine's role (issue 10).

    The interpreter makes them with boto3 clients in its own threads, so each place that calls
    out runs under ``acting_as(<machine>)`` and the botocore hook checks the call itself:

    - every Task state's execution (``StateTaskLambda`` for a function ARN resource,
      ``StateTaskService`` for ``arn:aws:states:::lambda:invoke``, ``sqs:sendMessage``, ``aws-sdk:*``
      and the other optimised integrations, their ``.sync`` polling included);
    - a Distributed Map's ItemReader (``s3:getObject`` is ``s3:GetObject`` on the object,
      ``s3:listObjectsV2`` is ``s3:ListBucket`` on the bucket with ``s3:prefix``) and its
      ResultWriter (``s3:PutObject`` under the prefix; moto writes only the manifest).

    A Distributed Map's child executions make no AWS call in moto (they are threads), so the
    Map Run checks what AWS authorises for them (``child_execution_requests``) before its
    children start. A denial fails the call with AccessDenied; the interpreter turns that into
    the state's failure (a Catch on States.ALL catches it in moto, ``TOOLING-NOTES-distributed-map.md``).
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import resource_eval_s3 as reader
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import resource_eval_s3 as writer
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    StateTaskLambda._eval_execution = _as_machine(StateTaskLambda._eval_execution)  # type: ignore[method-assign]
    StateTaskService._eval_execution = _as_machine(StateTaskService._eval_execution)  # type: ignore[method-assign]
    reader.ResourceEvalS3.eval_resource = _as_machine(reader.ResourceEvalS3.eval_resource)  # type: ignore[method-assign]
    writer.ResourceEvalS3.eval_resource = _as_machine(writer.ResourceEvalS3.eval_resource)  # type: ignore[method-assign]

    original_map_run = DistributedIterationComponent._map_run

    @functools.wraps(original_map_run)
    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        machine = _machine_of(env)
        authorise(machine, "states", "StartExecution", child_execution_requests(machine, eval_input.map_run_record.map_run_arn))
        original_map_run(self, env, eval_input)

    DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]


# ------------------------------------------------------------------ usage file and unused grants


def save_usage(record: dict[str, Any], path: Path = USAGE_FILE) -> None:
    """Merge recorded calls into the usage file (several processes may write it; a lock orders them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        text = fh.read()
        calls = {tuple(c) for c in json.loads(text)["calls"]} if text.strip() else set()
        calls.update(tuple(c) for c in record["calls"])
        fh.seek(0)
        fh.truncate()
        json.dump({"calls": sorted(calls)}, fh, indent=0)
        fh.write("\n")


@dataclass(frozen=True)
class Grant:
    function: str
    source: str
    action: str
    resource: str


def unused_grants(calls: list[tuple[str, str, str]], table: dict[str, Policy] | None = None) -> list[Grant]:
    """Each (action, resource) pair of an Allow statement in the template's own policies no recorded call matched.

    AWS managed policies (logs, X-Ray, the SQS poller) and SAM's DeadLetterQueuePolicy are
    left out: the Lambda service uses them, not the code, and they cannot be narrowed. So are
    the state machines' ``ExecutionLogDelivery`` statements: Step Functions uses them to set up
    the machine's CloudWatch Logs delivery (when it is created or updated), not an execution,
    and those actions take no resource-level permissions ("Logging in CloudWatch Logs", the
    Step Functions developer guide).
    """
    known = policies() if table is None else table
    by_function: dict[str, list[tuple[str, str]]] = {}
    for function, action, resource in calls:
        by_function.setdefault(function, []).append((action, resource))
    unused = []
    for function, policy in sorted(known.items()):
        made = by_function.get(function, [])
        for statement in policy.statements:
            if statement.effect != "Allow" or statement.source in MANAGED_POLICIES or statement.not_actions:
                continue
            if statement.source.endswith("/DeadLetterQueuePolicy"):  # Lambda's async invoke sends there, not the code
                continue
            if statement.source.endswith("/ExecutionLogDelivery"):  # the log delivery's set-up, never an execution's call
                continue
            for action in statement.actions:
                for resource in statement.resources:
                    probe = Statement("Allow", statement.source, (action,), (), (resource,), (), statement.condition)
                    if not any(probe.matches(a, r, {"aws:SecureTransport": "true"}) for a, r in made):
                        unused.append(Grant(function, statement.source, action, resource))
    return unused


def main(argv: list[str]) -> int:
    """``python -m local.iam unused [usage.json]``: print the grants no recorded call used."""
    if len(argv) < 1 or argv[0] != "unused":
        print("usage: python -m local.iam unused [test-output/iam-usage.json]", file=sys.stderr)
        return 2
    path = Path(argv[1]) if len(argv) > 1 else USAGE_FILE
    if not path.exists():
        print(f"iam: no usage recorded yet ({path}); run `make test` to record it, then `make lint` lists unused grants")
        return 0
    calls = [tuple(c) for c in json.loads(path.read_text())["calls"]]
    unused = unused_grants(calls)  # type: ignore[arg-type]
    print(f"iam: {len(unused)} grant(s) no test used (from {len(calls)} distinct calls recorded in {path}), by function and resource:")
    grouped: dict[tuple[str, str], list[str]] = {}
    for grant in unused:
        grouped.setdefault((grant.function, grant.resource), []).append(grant.action)
    for (function, resource), actions in grouped.items():
        print(f"  {function} on {resource}: {', '.join(actions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
