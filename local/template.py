"""Read template.yaml: functions, their HTTP routes, environment, tables and buckets.

The local stack and the tests build everything from what the template declares, so a route
or table added there is served and created locally without touching this package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types: SafeLoader is Any
    """YAML loader that keeps CloudFormation short-form tags (!Ref, !Sub, ...) as long-form dicts."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    authorized: bool
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any]
    routes: tuple[Route, ...] = field(default_factory=tuple)
    queues: tuple[str, ...] = ()  # logical ids of the SQS queues that trigger it
    s3_prefixes: tuple[str, ...] = ()  # key prefixes of the bucket's ObjectCreated events that trigger it
    timeout: float = 3.0  # seconds: the function's Timeout, else Globals', else Lambda's default of 3
    #: Those of ``queues`` whose event source has FunctionResponseTypes [ReportBatchItemFailures]:
    #: only there does Lambda read ``batchItemFailures`` from the response.
    partial_batch_queues: tuple[str, ...] = ()


def _path_pattern(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class Template:
    body: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.body["Resources"])

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def functions(self) -> list[Function]:
        global_env = self.body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        global_timeout = self.body.get("Globals", {}).get("Function", {}).get("Timeout", 3)
        found = []
        for logical_id, resource in self.of_type("AWS::Serverless::Function").items():
            props = resource["Properties"]
            env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
            routes, queues, prefixes, partial = [], [], [], []
            for event in props.get("Events", {}).values():
                ev = event["Properties"]
                if event["Type"] == "HttpApi":
                    authorized = (ev.get("Auth") or {}).get("Authorizer") != "NONE"
                    routes.append(Route(ev["Method"].upper(), ev["Path"], authorized, _path_pattern(ev["Path"])))
                elif event["Type"] == "SQS":
                    queues.append(ev["Queue"]["Fn::GetAtt"][0])
                    if "ReportBatchItemFailures" in ev.get("FunctionResponseTypes", []):
                        partial.append(queues[-1])
                elif event["Type"] == "S3":
                    rules = ev.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                    prefixes.append(next((r["Value"] for r in rules if r["Name"] == "prefix"), ""))
            found.append(
                Function(
                    logical_id,
                    ROOT / props["CodeUri"],
                    props["Handler"],
                    env,
                    tuple(routes),
                    tuple(queues),
                    tuple(prefixes),
                    float(props.get("Timeout", global_timeout)),
                    tuple(partial),
                )
            )
        return found

    def parameter_defaults(self) -> dict[str, Any]:
        return {k: v.get("Default") for k, v in self.body.get("Parameters", {}).items()}


@cache
def load() -> Template:
    with TEMPLATE.open() as fh:
        return Template(yaml.load(fh, Loader=_CfnLoader))  # noqa: S506 - our own loader, a SafeLoader subclass


PSEUDO = {"AWS::StackName": "segshare-local", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}


def local_name(logical_id: str, resource_type: str, template: Template | None = None) -> str:
    """The physical name a resource gets locally: its declared name, else its logical id (S3: lower case)."""
    if resource_type == "AWS::S3::Bucket":
        declared = (template or load()).resources[logical_id]["Properties"].get("BucketName")
        return resolve(declared, template or load()) if declared else f"segshare-{logical_id.lower()}"
    return logical_id


def resolve(value: Any, template: Template) -> str:  # noqa: PLR0911 - one branch per intrinsic
    """Resolve the few intrinsics the environment uses: Ref, Fn::Sub with pseudo parameters, QueueName."""
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        if name in template.resources and template.resources[name]["Type"] == "AWS::SQS::Queue":
            # Ref of a queue is its URL; moto (in-process and as a server) finds a queue by the URL's
            # last segment, so the URL AWS would give works against both.
            return f"https://sqs.{PSEUDO['AWS::Region']}.amazonaws.com/{PSEUDO['AWS::AccountId']}/{name}"
        if name in template.resources and template.resources[name]["Type"] == "AWS::Serverless::StateMachine":
            # Ref of a state machine is its ARN; the local stack names each machine by its logical id.
            return f"arn:aws:states:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:stateMachine:{name}"
        if name in template.resources:
            return local_name(name, template.resources[name]["Type"], template)
        return str(template.parameter_defaults().get(name, ""))
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO.get(m.group(1)) or resolve({"Ref": m.group(1)}, template), value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "QueueName":
        return str(value["Fn::GetAtt"][0])
    return str(value)


def environment(template: Template) -> dict[str, str]:
    """Every function's environment merged (they share one process locally)."""
    env: dict[str, str] = {}
    for function in template.functions():
        for key, value in function.environment.items():
            env[key] = resolve(value, template)
    env.pop("POWERTOOLS_SERVICE_NAME", None)
    return env


@dataclass(frozen=True)
class StateMachine:
    logical_id: str
    definition: str


def state_machines(template: Template) -> list[StateMachine]:
    """Each AWS::Serverless::StateMachine's ASL with its substitutions made (function ARNs as moto names them)."""
    found = []
    for logical_id, resource in template.of_type("AWS::Serverless::StateMachine").items():
        props = resource["Properties"]
        definition = (ROOT / props["DefinitionUri"]).read_text()
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", _arn(value, template))
        found.append(StateMachine(logical_id, definition))
    return found


def _arn(value: Any, template: Template) -> str:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        if attribute == "Arn" and template.resources[name]["Type"] == "AWS::Serverless::Function":
            return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    return resolve(value, template)
