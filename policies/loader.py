"""Turn the YAML an admin wrote into a :class:`PolicyDocument`, or an error that names the line to fix.

Only PyYAML's safe loader is used, so tags such as ``!!python/object`` are refused. Duplicate keys,
aliases and merge keys are refused too: with them, what the admin reads is not what the policy says.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policies.errors import PolicySyntaxError
from policies.schema import PolicyDocument, format_path

__all__ = ["MAX_POLICY_CHARS", "load_policy", "load_policy_file", "starter_policy", "starter_policy_text"]

# A real policy is a few kilobytes; the cap keeps a pasted mistake from tying up the desk.
MAX_POLICY_CHARS = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(yaml.MarkedYAMLError):
    """A construct that is valid YAML but not allowed in a policy."""


class _PolicyLoader(yaml.SafeLoader):
    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                problem="aliases (*name) are not allowed in a policy; write the value out in full",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def load_policy(text: str) -> PolicyDocument:
    """Parse and check the structure of a policy; raise :class:`PolicySyntaxError` naming the line."""
    if not isinstance(text, str):
        raise TypeError(f"a policy is text, not {type(text).__name__}")
    if len(text) > MAX_POLICY_CHARS:
        raise PolicySyntaxError(f"the policy is too long (over {MAX_POLICY_CHARS} characters)")
    root, data = _parse(text)
    if not isinstance(data, dict):
        raise PolicySyntaxError(
            "line 1: a policy must be a mapping of fields (name:, units:, queues:, ...)", _line(root)
        )
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise _syntax_error(root, exc) from None


def load_policy_file(path: str | os.PathLike[str]) -> PolicyDocument:
    """Read a UTF-8 policy file and load it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicySyntaxError(f"the policy file is not UTF-8 text: {exc.reason}") from None
    return load_policy(text)


def starter_policy_text() -> str:
    """The text of the starter policy shipped with the package."""
    return resources.files("policies").joinpath("starter.yaml").read_text(encoding="utf-8")


def starter_policy() -> PolicyDocument:
    """The starter policy, loaded."""
    return load_policy(starter_policy_text())


def _parse(text: str) -> tuple[yaml.Node, Any]:
    loader = _PolicyLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PolicySyntaxError("line 1: the policy is empty", 1)
        _check_keys(root)
        return root, loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "not valid YAML"
        if exc.problem and exc.context:
            problem = f"{exc.problem} ({exc.context})"
        prefix = f"line {line}: " if line is not None else ""
        raise PolicySyntaxError(f"{prefix}{problem}", line) from None
    except yaml.YAMLError as exc:
        raise PolicySyntaxError(f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _check_keys(node: yaml.Node) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                raise _Refused(
                    problem="merge keys (<<) are not allowed in a policy; write the fields out in full",
                    problem_mark=key.start_mark,
                )
            if isinstance(key, yaml.ScalarNode):
                ident = (key.tag, key.value)
                if ident in seen:
                    first = seen[ident].start_mark.line + 1
                    raise _Refused(
                        problem=f"duplicate key {key.value!r} (first given on line {first})",
                        problem_mark=key.start_mark,
                    )
                seen[ident] = key
            _check_keys(key)
            _check_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_keys(item)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _node_at(root: yaml.Node, path: tuple[Any, ...]) -> yaml.Node:
    """The deepest node along ``path``; a missing field is reported at its parent mapping."""
    node = root
    for part in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next(
                (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node


_FRIENDLY = {
    "missing": "required but missing",
    "extra_forbidden": "unknown field (check the spelling)",
}


def _message(error: Any) -> str:
    if error["type"] in _FRIENDLY:
        return _FRIENDLY[error["type"]]
    message: str = error["msg"]
    message = message.removeprefix("Value error, ")
    if len(message) > 1 and message[0].isupper() and message[1].islower():
        message = message[0].lower() + message[1:]
    return message


def _syntax_error(root: yaml.Node, exc: ValidationError) -> PolicySyntaxError:
    located: list[tuple[int, str]] = []
    for error in exc.errors(include_url=False):
        if error["type"] == "policy_reference":
            entries = [(tuple(path), message) for path, message in error["ctx"]["problems"]]
        else:
            entries = [(tuple(error["loc"]), _message(error))]
        for path, message in entries:
            where = format_path(path)
            located.append((_line(_node_at(root, path)), f"{where}: {message}" if where else message))
    located.sort(key=lambda item: item[0])
    details = [f"line {line}: {message}" for line, message in located]
    return PolicySyntaxError("\n".join(details), located[0][0] if located else None, details=details)
