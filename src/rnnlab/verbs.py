"""Verbs: what a trained model can be asked to do, as typed functions a task registers with its descriptor.

A verb is a name (`generate`, `translate`, `caption`, ...), a one-line help, an options dataclass and a
`run(model, inputs, options)` that yields its results as they come:

* a `dict` of JSON-ready values per result (one sentence translated, one sample generated, ...);
* an `Artifact` for a picture or any other file (media type, bytes, suggested name), never written by the
  verb itself: the command line writes it under `--out DIR`, a server returns it;
* a `TextDelta` for a piece of streamed text (a token just sampled), followed later by the result it builds.

The command line (`rnnlab.commands.verbs`) builds every verb's sub-command from this description, and a
server can call `run` with the same typed options and no argparse. Nothing here imports torch.

Options dataclasses use plain field types the command line and a JSON body can both carry: `int`, `float`,
`str`, `bool`, `X | None` of those, `list[str]` and `Literal[...]`; every field has a default and may carry
`metadata={"help": "..."}`. They are checked where they are made (`make_options`): the shared rules by field
name (`rnnlab.validation.check_option`: `top_k` >= 1, a finite `temperature`, ...) and then the dataclass's
own `__post_init__`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from rnnlab.errors import ConfigError

#: What a verb reads: lines of text (arguments, --input FILE, or stdin), paths of files (images, ...),
#: or nothing (an interactive session that reads the user's turns itself).
InputKind = Literal["text", "files", "none"]


#: Names the command line gives every verb: an options dataclass cannot use them.
RESERVED_OPTIONS = frozenset({"checkpoint", "inputs", "input", "json", "out", "help", "command", "handler",
                              "verb_name", "option_names"})  # fmt: skip


@dataclass(frozen=True)
class Artifact:
    """A file a verb returns: a picture, a drawing, a table. The caller decides where (or whether) it goes."""

    media_type: str  # e.g. "image/png", "image/svg+xml", "text/csv"
    data: bytes
    name: str  # a suggested file name, e.g. "attention-1.png"

    def __post_init__(self) -> None:
        if not isinstance(self.data, (bytes, bytearray)):
            raise TypeError(f"Artifact {self.name!r}: data must be bytes, got {type(self.data).__name__}")
        if not self.name or "/" in self.name or "\\" in self.name or self.name in (".", ".."):
            raise ValueError(f"Artifact name must be a plain file name, got {self.name!r}")


@dataclass(frozen=True)
class TextDelta:
    """A piece of text streamed while a result is being made (the result itself follows as a dict)."""

    text: str


Output = Union[dict, Artifact, TextDelta]


@dataclass(frozen=True)
class OptionField:
    """One option of a verb, as the command line and a server see it (no Python types needed to read it)."""

    name: str  # the dataclass field: top_k  (flag: --top-k)
    kind: Literal["int", "float", "str", "bool", "list"]
    default: Any
    help: str = ""
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "default": self.default, "help": self.help,
                "choices": list(self.choices) if self.choices else None}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping) -> OptionField:
        choices = data.get("choices")
        return cls(data["name"], data["kind"], data["default"], data.get("help", ""), tuple(choices) if choices else None)


@dataclass(frozen=True)
class Verb:
    """One verb of one task.

    name: the sub-command (`rnnlab NAME MODEL_DIR ...`) and the server route.
    help: one line for `rnnlab --help`.
    options: a dataclass of the verb's options (see the module docstring for the field types allowed).
    run: `(loaded model, inputs, options) -> iterable of dict | Artifact | TextDelta`, results in input order.
    inputs: "text" (lines: arguments, --input FILE or stdin), "files" (paths) or "none" (interactive).
    what: how help and errors name one input ("sentences", "images", ...).
    format: `(result dict, options) -> str`, the human-readable line(s) of one result (default: its values
        joined by tabs); `format_all` instead formats all results at once (a table with a total line).
    read_file: `(path, options) -> list` of inputs read from `--input FILE` (default: its non-empty lines,
        UTF-8, errors naming the file).
    interactive: with no inputs and a terminal on stdin, prompt for one input at a time (translate).
    needs_inputs: `(options) -> bool`; False when these options make the verb work without inputs.
    artifacts: the verb may return artifacts (the command line offers `--out DIR`).
    """

    name: str
    help: str
    options: type
    run: Callable[[Any, list, Any], Iterable[Output]]
    inputs: InputKind = "text"
    what: str = "inputs"
    format: Callable[[dict, Any], str] | None = None
    format_all: Callable[[list[dict], Any], str] | None = None
    read_file: Callable[[str, Any], list] | None = None
    interactive: bool = False
    needs_inputs: Callable[[Any], bool] | None = None
    artifacts: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(f"verb name must be a plain word, got {self.name!r}")
        if self.inputs not in typing.get_args(InputKind):
            raise ValueError(f"verb {self.name!r}: inputs must be one of {typing.get_args(InputKind)}, got {self.inputs!r}")
        names = {field.name for field in option_fields(self.options)}  # refuses a type the CLI cannot carry
        taken = sorted(names & RESERVED_OPTIONS)
        if taken:
            raise ValueError(f"verb {self.name!r}: option name(s) {taken} are the command line's own")

    @property
    def fields(self) -> list[OptionField]:
        return option_fields(self.options)

    def requires_inputs(self, options: Any) -> bool:
        if self.inputs == "none":
            return False
        return True if self.needs_inputs is None else bool(self.needs_inputs(options))

    def describe(self) -> dict:
        """What the command line needs to build this verb's parser without importing the task (the index)."""
        return {"help": self.help, "inputs": self.inputs, "what": self.what, "interactive": self.interactive,
                "artifacts": self.artifacts, "description": self.description,
                "options": [f.to_json() for f in self.fields]}  # fmt: skip


# ------------------------------------------------------------------------------------------ option types
def _field_kind(annotation: Any, where: str) -> tuple[str, tuple[str, ...] | None]:
    """'int' | 'float' | 'str' | 'bool' | 'list', and the choices of a Literal."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"{where}: only `X | None` unions are supported, got {annotation}")
        return _field_kind(rest[0], where)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if not all(isinstance(choice, str) for choice in choices):
            raise TypeError(f"{where}: Literal choices must be strings, got {choices}")
        return "str", tuple(choices)
    if origin in (list, tuple) and typing.get_args(annotation)[:1] == (str,):
        return "list", None
    for kind in (bool, int, float, str):
        if annotation is kind:
            return kind.__name__, None
    raise TypeError(f"{where}: unsupported option type {annotation!r}; use int, float, str, bool, list[str], Literal")


def option_fields(options_class: type) -> list[OptionField]:
    """The fields of an options dataclass as `OptionField`s (every one must have a default)."""
    if not dataclasses.is_dataclass(options_class):
        raise TypeError(f"verb options must be a dataclass, got {options_class!r}")
    hints = typing.get_type_hints(options_class)
    result = []
    for item in dataclasses.fields(options_class):
        where = f"{options_class.__name__}.{item.name}"
        kind, choices = _field_kind(hints[item.name], where)
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            raise TypeError(f"{where}: every verb option needs a default")
        result.append(OptionField(item.name, kind, default, item.metadata.get("help", ""), choices))
    return result


def make_options(options_class: type, values: Mapping[str, Any] | None = None, **more: Any) -> Any:
    """An options dataclass from plain values (a JSON body, parsed flags), checked, with one-line errors.

    Unknown names are an error naming the known ones; the shared checks run by field name (`top_k`,
    `temperature`, ...) with the command line's wording (`--top-k must be ...`); then `__post_init__`.
    """
    from rnnlab.validation import check_option

    given = {**(values or {}), **more}
    known = {item.name: item for item in option_fields(options_class)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; expected some of {', '.join(known)}")
    checked = {}
    for name, value in given.items():
        field = known[name]
        if value is None:
            if name not in nullable_options(options_class):  # JSON's null for `prompt: str` crashed a verb
                raise ConfigError(f"{field.flag}: expected {field.kind}, got null")
            checked[name] = None
            continue
        value = _coerce(field, value)
        if field.kind == "list":
            checked[name] = [check_option(name, item) for item in value]
        else:
            checked[name] = check_option(name, value)
    try:
        return options_class(**checked)
    except (TypeError, ValueError) as error:
        raise ConfigError(str(error)) from None


def nullable_options(options_class: type) -> set[str]:
    """The options whose type allows None (`int | None`): null (not given) is a value only for these."""
    hints = typing.get_type_hints(options_class)
    return {item.name for item in dataclasses.fields(options_class) if type(None) in typing.get_args(hints[item.name])}


def _coerce(field: OptionField, value: Any) -> Any:
    """A JSON value of the right kind (ints for floats allowed), else a one-line error naming the option."""
    expected = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": (list, tuple)}[field.kind]
    if isinstance(value, bool) and field.kind in ("int", "float"):
        raise ConfigError(f"{field.flag}: expected a number, got {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{field.flag}: expected {field.kind}, got {value!r}")
    if field.kind == "float":
        return float(value)
    if field.kind == "list":
        if not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{field.flag}: expected a list of strings, got {value!r}")
        return list(value)
    if field.choices and value not in field.choices:
        raise ConfigError(f"{field.flag}: expected one of {', '.join(field.choices)}, got {value!r}")
    return value


def check_same_options(first: Verb, second: Verb, tasks: tuple[str, str]) -> None:
    """Two tasks offering one verb share its options and input kind (the command line has one parser)."""
    if first.options is not second.options or first.inputs != second.inputs:
        raise ValueError(
            f"verb {first.name!r} is offered by tasks {tasks[0]!r} and {tasks[1]!r} with different options "
            f"({first.options.__name__} / {second.options.__name__}) or inputs; two tasks offering one verb "
            "must share its options dataclass"
        )


def format_result(verb: Verb, result: dict, options: Any) -> str:
    """The human-readable text of one result."""
    if verb.format is not None:
        return verb.format(result, options)
    return "\t".join(str(value) for value in result.values())


def stream_with_callback(produce: Callable[[Callable[[str], None]], Iterable[Any]]) -> Iterable[Any]:
    """Turn a callback-streaming producer into one stream: `TextDelta`s as `on_text` is called, then items.

    `produce(on_text)` runs in a worker thread (decoders report each new token through a callback); this
    generator yields `TextDelta(text)` for every call and each item `produce` returns, in order, and re-raises
    its exception here. Used by verbs that stream text while a result is being made (`generate`).
    """
    import queue
    import threading

    channel: queue.Queue = queue.Queue()
    done = object()

    def work() -> None:
        try:
            for item in produce(lambda text: channel.put(("delta", text))):
                channel.put(("item", item))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            channel.put(("error", error))
        finally:
            channel.put(("done", done))

    threading.Thread(target=work, name="rnnlab-stream", daemon=True).start()
    while True:
        kind, value = channel.get()
        if kind == "delta":
            yield TextDelta(value)
        elif kind == "item":
            yield value
        elif kind == "error":
            raise value
        else:
            return
