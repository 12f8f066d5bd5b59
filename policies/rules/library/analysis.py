"""Each resource is deserialized once per stack analysis, not once per stack policy.

pulumi-policy 1.21.0's AnalyzeStack (`pulumi_policy/policy.py`) converts every resource's protobuf properties to a
dict (`json_format.MessageToDict`, then `deserialize_properties`) inside its loop over stack policies, so a pack with
k stack policies deserializes the whole stack k times; with this pack's ten that was most of the gate's time
(bench/gate_scaling.py). The rules only read the result (through `graph.peek`), so one conversion per resource and
request serves them all. `install()` wraps those two SDK calls with a cache that lives for one request.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import json_format
from pulumi_policy import policy as sdk

_messages: dict[int, tuple[Any, dict]] = {}
_deserialized: dict[int, tuple[dict, Any]] = {}


class _JsonFormat:
    """The SDK's view of `json_format`: MessageToDict of the same message within a request is computed once."""

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    @staticmethod
    def MessageToDict(message: Any, *args: Any, **kwargs: Any) -> dict:  # noqa: N802 (protobuf's name)
        if args or kwargs:
            return json_format.MessageToDict(message, *args, **kwargs)
        cached = _messages.get(id(message))
        if cached is None or cached[0] is not message:  # the message is kept alive with its entry, so ids can't be reused
            cached = _messages[id(message)] = (message, json_format.MessageToDict(message))
        return cached[1]


def _deserialize_once(original):
    @functools.wraps(original)
    def deserialize(properties: dict, *args: Any) -> Any:
        if args:  # remediation's variant keeps its own semantics
            return original(properties, *args)
        cached = _deserialized.get(id(properties))
        if cached is None or cached[0] is not properties:
            cached = _deserialized[id(properties)] = (properties, original(properties))
        return cached[1]

    return deserialize


def _one_request(analyze_stack):
    @functools.wraps(analyze_stack)
    def run(self, request, context):
        try:
            return analyze_stack(self, request, context)
        finally:
            _messages.clear()
            _deserialized.clear()

    return run


def install() -> None:
    """Patch the SDK (idempotent): the cache lives for one Analyze or AnalyzeStack request."""
    servicer = sdk._PolicyAnalyzerServicer
    if getattr(servicer.AnalyzeStack, "__wrapped__", None) is None:
        # Patching the SDK's internals is the point here, so the type checker's objections to it are waived.
        sdk.json_format = _JsonFormat()  # pyright: ignore[reportPrivateImportUsage]
        sdk.deserialize_properties = _deserialize_once(sdk.deserialize_properties)  # pyright: ignore[reportPrivateImportUsage]
        servicer.Analyze = _one_request(servicer.Analyze)  # pyright: ignore[reportAttributeAccessIssue]
        servicer.AnalyzeStack = _one_request(servicer.AnalyzeStack)  # pyright: ignore[reportAttributeAccessIssue]
