"""Typed configs: dataclasses loaded from YAML and overridden from the command line.

A config is a plain `@dataclass` with typed fields and defaults; nested sections are dataclass-typed
fields. Checks beyond types (ranges, combinations) go in the dataclass's `__post_init__`, written with
`require` so that every message has one shape, `key: expected ..., got ...`:

    @dataclass
    class LMConfig:
        corpus: str = "tiny"
        hidden_size: int = 256
        trainer: TrainerConfig = field(default_factory=TrainerConfig)

        def __post_init__(self) -> None:
            require(self.hidden_size >= 1, "hidden_size", ">= 1", self.hidden_size)

    cfg = load_config(LMConfig, "configs/lm.yaml", ["hidden_size=512", "--trainer.lr", "0.003"])

Field types are the ones rnnlab's configs use: `int`, `float`, `bool`, `str`, `Literal["a", "b"]`,
`X | None`, `list[X]` / `tuple[X, ...]` / `tuple[X, Y]` of those scalars, and nested dataclasses. A value
is converted to its field's type (command-line overrides arrive as strings) and must mean something
there, in every config class: a float is finite, a path-like key (`output_dir`, `*_dir`, `*path`, `*file`)
is not empty. Any other annotation is a programming error (TypeError). A mistake in a file or an override raises `ConfigError` naming where it came
from and the key: an unknown key with a did-you-mean and the valid keys, a wrong type with the expected one.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from rnnlab.errors import ConfigError

__all__ = [
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "config_fields",
    "parse_overrides",
    "read_yaml",
    "require",
    "require_sizes",
    "require_fractions",
    "MAX_SIZE",
    "MAX_LAYERS",
    "data_source",
    "FILES",
    "InvalidValue",
]

T = TypeVar("T")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~", ""}
_NAMES = {int: "an integer", float: "a number", bool: "a boolean (true/false)", str: "a string"}


# ----------------------------------------------------------------------------------------- validation
class InvalidValue(ConfigError):
    """A config value out of range or in a bad combination: `key: expected ..., got ...`.

    The loader puts the file (or "command line") and the section in front of `key`, so a check written
    as `require(self.lr > 0, "lr", "> 0", self.lr)` in TrainerConfig reads
    `configs/lm.yaml: trainer.lr: expected > 0, got -1.0`.
    """

    def __init__(self, key: str, expected: str, got: Any) -> None:
        self.key, self.expected, self.got = key, expected, got
        shown = ", ".join(f"{k}={v!r}" for k, v in got.items()) if isinstance(got, dict) else repr(got)
        self.detail = f"expected {expected}, got {shown}"
        super().__init__(f"{key}: {self.detail}")


def require(condition: bool, key: str, expected: str, got: Any) -> None:
    """Raise `InvalidValue(key, expected, got)` unless `condition` holds (for `__post_init__` checks).

    `got` is the offending value, or a dict of the values in a combination (`{"embedding_size": 200,
    "hidden_size": 300}` shows as `embedding_size=200, hidden_size=300`).
    """
    if not condition:
        raise InvalidValue(key, expected, got)


# Upper bounds for sizes, so that a slip (`hidden_size: 2**64`, `num_layers: 1e9`) is one line at load time,
# not an overflow deep in torch or minutes spent building a billion layers. Both are far above any model
# this toolkit trains on a CPU or one GPU.
MAX_SIZE = 2**24  # widths, vocabularies, batch sizes, lengths: 16,777,216
MAX_LAYERS = 256  # stacked recurrent layers


def require_sizes(section: Any, names: str, *, low: int = 1, high: int = MAX_SIZE) -> None:
    """Each int field of `section` named in `names` (space-separated) lies in [low, high]; None passes.

    For the sizes of a `__post_init__`: `require_sizes(self, "embedding_size hidden_size")`,
    `require_sizes(self, "num_layers", high=MAX_LAYERS)`, `require_sizes(self, "char_dim", low=0)` (0 = off).
    """
    for name in names.split():
        value = getattr(section, name)
        if value is not None:
            require(low <= value <= high, name, f"an integer from {low} to {high:,}", value)


def require_fractions(section: Any, names: str) -> None:
    """Each float field named in `names` (dropout rates) lies in [0, 1)."""
    for name in names.split():
        value = getattr(section, name)
        require(0.0 <= value < 1.0, name, "a value in [0, 1)", value)


FILES = "files"  # a data section's `dataset` for "the user's own files" (data.train, ...), in every task


def data_source(data: Any, files_only: Mapping[str, Any], *, files: str | None = None,
                builtin_only: Mapping[str, Any] | None = None) -> str | None:  # fmt: skip
    """A `data:` section's `dataset`, checked against the options that apply to one kind of data only.

    `dataset: files` (or null, its older spelling) means the user's own files: the result is `files`, the
    value the task's code expects for them (None in most tasks, "files" in translation). Any other value
    names a built-in dataset. An option of `files_only` (name -> its default: train, valid, test, CSV
    column names) set while a built-in dataset is named would be ignored, so it is refused:
    `data.train is read only with data.dataset: files (got data.dataset: en-pos)`; `builtin_only` the
    other way round. For a `__post_init__`: `self.dataset = data_source(self, {"train": None, ...})`.
    """
    own = data.dataset is None or data.dataset == FILES
    for name, default in ((builtin_only or {}) if own else files_only).items():
        if getattr(data, name) != default:
            if own:
                raise ConfigError(f"data.{name} is read only with a built-in data.dataset (got data.dataset: files)")
            raise ConfigError(f"data.{name} is read only with data.dataset: files (got data.dataset: {data.dataset})")
    return files if own else data.dataset


# ----------------------------------------------------------------------------------------- public API
def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] | Mapping = ()) -> T:
    """Build a `cls` instance from defaults, then the YAML file at `path`, then `overrides`.

    `overrides` is a list of command-line strings (`key=value`, `--key value`, `--key=value`, dotted keys
    for nested sections, `--flag` alone meaning true) or an already nested / dotted mapping.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml(path)
        data.pop("task", None)  # which task the file is for: read by rnnlab.tasks.configs.load_task_config
        _check_keys(cls, data, str(path), "")
    if isinstance(overrides, Mapping):
        override_data = _nest(dict(overrides))
    else:
        override_data = parse_overrides(list(overrides))
    _check_keys(cls, override_data, "command line", "")
    source = str(path) if path is not None else "command line"
    if path is not None and override_data:
        source = f"{path} + command line"
    return config_from_dict(cls, _deep_merge(data, override_data), source=source)


def config_from_dict(cls: type[T], data: Mapping[str, Any] | None, source: str = "<dict>") -> T:
    """Build a `cls` instance from a (possibly nested) mapping, converting values to the field types.

    Keys may be nested mappings or dotted (`{"trainer.lr": 0.1}`); missing keys keep their defaults.
    `source` names where `data` came from, for error messages.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"config_from_dict expects a dataclass type, got {cls!r}")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    return _build(cls, _nest(dict(data)), source, "")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON/YAML-ready nested dict of a config dataclass (tuples become lists)."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"config_to_dict expects a dataclass instance, got {cfg!r}")
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def config_fields(cls: type) -> list[tuple[str, str, Any]]:
    """Every leaf key of a config dataclass as (dotted key, type name, default), in field order.

    Sections are recursed into, and a leaf's default is the one the parent gives it (a
    `trainer = field(default_factory=lambda: TrainerConfig(metric="accuracy"))` shows
    `("trainer.metric", "str", "accuracy")`). Type names: `int`, `float`, `bool`, `str`, `a|b|c` for a
    Literal, `int|null`, `list[int]`, `tuple[float, float]`. A required field's default is
    `dataclasses.MISSING`.
    """
    return [(key, _type_name(tp), default) for key, tp, default in _leaves(cls, "", None)]


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Parse command-line overrides into a nested dict of *strings* (converted later by field type).

    Accepts `key=value`, `--key value`, `--key=value`, `--key v1 v2 v3` (a list, for list fields:
    `--prune 0 0 1`) and a bare `--flag` (-> "true"). Dashes in keys become underscores (`--max-steps` ==
    `max_steps`); dots address nested sections (`trainer.lr=0.1`).
    """
    flat: dict[str, Any] = {}
    items = list(items)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            body = item[2:]
            if "=" in body:
                key, value = body.split("=", 1)
            elif i + 1 < len(items) and not items[i + 1].startswith("--"):
                values = []
                while i + 1 < len(items) and not items[i + 1].startswith("--") and "=" not in items[i + 1]:
                    values.append(items[i + 1])
                    i += 1
                if not values:  # `--key a=b`: the value itself holds '='
                    values.append(items[i + 1])
                    i += 1
                key, value = body, values[0] if len(values) == 1 else values
            else:
                key, value = body, "true"
        elif "=" in item:
            key, value = item.split("=", 1)
        else:
            raise ConfigError(f"command-line override {item!r}: expected key=value or --key value")
        key = key.strip().replace("-", "_")
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"command-line override {item!r}: empty key")
        flat[key] = value
        i += 1
    return _nest(flat)


#: A config file larger than this is refused unread (configs are a few KiB).
MAX_YAML_BYTES = 2**20
#: ... and so is one whose values, counted with every alias expanded, number more than this (a "billion
#: laughs" alias bomb is a few hundred bytes; walking it expanded once took all the memory).
MAX_YAML_VALUES = 100_000


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file (and line for syntax errors).

    A file over `MAX_YAML_BYTES`, YAML whose aliases expand to more than `MAX_YAML_VALUES` values (or
    refer to themselves) and nesting too deep to read are refused with one line naming the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)  # a bounded read: a FIFO or /dev/zero cannot fill memory
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: config file larger than {MAX_YAML_BYTES // 2**20} MiB; expected a config")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, MAX_YAML_VALUES) > MAX_YAML_VALUES:
            raise ConfigError(f"{path}: more than {MAX_YAML_VALUES:,} values with aliases expanded; "
                              "too many for a config (an alias bomb?)")  # fmt: skip
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML ({problem})") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply, or an alias that contains itself") from None
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top, got {type(data).__name__}")
    return data


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many nodes `root` holds with every alias expanded (an alias is the same node object again),
    counted once per distinct node (memoised); an alias to a node that contains it counts as over `limit`."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:  # `&a [*a]`: infinite when expanded
            return limit + 1
        if isinstance(node, yaml.ScalarNode):
            return 1
        open_nodes.add(key)
        children = node.value
        if isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]  # keys and values
        total = 1
        for child in children:
            total = min(total + size(child), limit + 1)  # stay a small int: a bomb's count has 30 digits
        open_nodes.discard(key)
        sizes[key] = total
        return total

    return size(root)


# ------------------------------------------------------------------------------------------ internals
def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1, "c": {"d.e": 2}} -> {"a": {"b": 1}, "c": {"d": {"e": 2}}}."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if isinstance(value, Mapping):
            value = _nest(dict(value))
        *parents, last = str(key).split(".")
        node = nested
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last] = _deep_merge(node[last], value)
        else:
            node[last] = value
    return nested


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def _section(tp: Any) -> type | None:
    """The dataclass type `tp` if it is one (sections are never optional in rnnlab's configs)."""
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _unknown_key(key: str, prefix: str, valid: list[str], source: str) -> ConfigError:
    guess = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean '{prefix}{guess[0]}'?)" if guess else ""
    listing = ", ".join(prefix + name for name in valid)
    return ConfigError(f"{source}: unknown key '{prefix}{key}'{hint}; valid keys: {listing}")


def _check_keys(cls: type, data: Mapping[str, Any], source: str, prefix: str) -> None:
    """Raise on any key of `data` (recursively) that `cls` has no field for."""
    types_ = _field_types(cls)
    for key, value in _nest(dict(data)).items():
        if key not in types_:
            raise _unknown_key(str(key), prefix, list(types_), source)
        sub = _section(types_[key])
        if sub is not None and isinstance(value, Mapping):
            _check_keys(sub, value, source, f"{prefix}{key}.")


def _build(cls: type[T], data: dict[str, Any], source: str, prefix: str) -> T:
    types_ = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in types_:
            raise _unknown_key(str(key), prefix, list(types_), source)
        sub = _section(types_[key])
        if sub is not None:
            if isinstance(value, sub):
                kwargs[key] = value
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {prefix}{key}: expected a section (a mapping of keys), got {value!r}")
            kwargs[key] = _build(sub, _nest(dict(_onto_field_default(fields[key], value))), source, f"{prefix}{key}.")
        else:
            kwargs[key] = _convert(value, types_[key], source, prefix + key)
    missing = [
        prefix + f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{source}: missing required key(s): {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except InvalidValue as error:
        raise ConfigError(f"{source}: {prefix}{error.key}: {error.detail}") from None
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(source) else f"{source}: {message}") from None
    except (ValueError, TypeError) as error:
        where = f" in section '{prefix[:-1]}'" if prefix else ""
        raise ConfigError(f"{source}: invalid config{where}: {error}") from None


def _onto_field_default(field: dataclasses.Field, value: Mapping[str, Any]) -> dict[str, Any]:
    """A partial section merges onto the field's own default, not onto its class's defaults.

    With `trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy"))`,
    overriding `trainer.lr` must keep `metric="accuracy"`.
    """
    default = _field_default(field)
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        return _deep_merge(config_to_dict(default), _nest(dict(value)))
    return dict(value)


def _field_default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) is Union or isinstance(tp, types.UnionType)


def _convert(value: Any, tp: Any, source: str, key: str) -> Any:
    """`value` (from YAML, a dict or a command-line string) as the annotated leaf type `tp`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_union(tp):
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"config key {key!r}: only `X | None` unions are supported, got {tp}")
        if isinstance(value, str) and not value.strip() and _is_path_key(key):
            _check_meaning(value, source, key)  # an empty path is a mistake, not null
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        return _convert(value, inner[0], source, key)
    if origin is Literal:
        if value in args and type(value) in {type(arg) for arg in args}:
            return value
        choices = ", ".join(repr(choice) for choice in args)
        guess = difflib.get_close_matches(str(value), [str(choice) for choice in args], n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise ConfigError(f"{source}: {key}: expected one of {choices}, got {value!r}{hint}")
    if origin in (list, tuple):
        return _convert_sequence(value, tp, source, key)
    if tp in _NAMES:
        converted = _scalar(value, tp)
        if converted is None:
            raise ConfigError(f"{source}: {key}: expected {_NAMES[tp]}, got {value!r}")
        _check_meaning(converted, source, key)
        return converted
    raise TypeError(f"config key {key!r}: unsupported field type {tp!r} (see rnnlab.config)")


def _is_path_key(key: str) -> bool:
    """A key that names a file or directory by its name: output_dir, cache_dir, ..._path, ..._file."""
    name = key.rsplit(".", 1)[-1]
    return name.endswith(("_dir", "path", "file"))


def _check_meaning(value: Any, source: str, key: str) -> None:
    """Refuse a converted scalar that has its field's type but no meaning there, whatever the config class.

    A float must be finite: no setting of rnnlab's means "infinite" (`trainer.clip_grad_norm: inf` once
    passed every check and crashed the first step). A path-like key (`_is_path_key`) must not be empty:
    `Path("")` is the working directory, so `--output_dir ''` trained into it. (`X | None` fields reach
    here only with a value: an empty string there is null, `_NONE`, except for a path-like key.)
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {key}: expected a finite number, got {value}")
    if isinstance(value, str) and not value.strip() and _is_path_key(key):
        raise ConfigError(f"{source}: {key}: expected a path, got an empty string")


def _scalar(value: Any, tp: type) -> Any:
    """`value` as `tp` (int, float, bool or str), or None when it is not one."""
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = value.strip().lower() if isinstance(value, str) else None
        return True if text in _TRUE else False if text in _FALSE else None
    if isinstance(value, bool):  # YAML's true is neither a number nor a string
        return None
    if tp is str:
        return str(value) if isinstance(value, (str, int, float)) else None
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            value = int(text) if tp is int else float(text)
        except ValueError:
            try:
                value = float(text)  # an int field given "1e3" or "2.0"
            except ValueError:
                return None
    if not isinstance(value, (int, float)):
        return None
    if tp is float:
        return float(value)
    return value if isinstance(value, int) else int(value) if value.is_integer() else None


def _convert_sequence(value: Any, tp: Any, source: str, key: str) -> Any:
    """A list or tuple field from a YAML list, `[1, 2]` or `1,2` (command line)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                raise ConfigError(f"{source}: {key}: cannot parse {text!r} as a list") from None
        else:
            value = [part.strip() for part in text.split(",")] if text else []
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{source}: {key}: expected a list, got {value!r}")
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise ConfigError(f"{source}: {key}: expected a list of {len(args)} values, got {list(value)!r}")
        return tuple(_convert(v, a, source, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    items = [_convert(v, args[0], source, f"{key}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _leaves(cls: type, prefix: str, instance: Any) -> list[tuple[str, Any, Any]]:
    """(dotted key, annotation, default) of every leaf; a section's defaults come from its parent's."""
    rows: list[tuple[str, Any, Any]] = []
    types_ = _field_types(cls)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        tp = types_[field.name]
        default = getattr(instance, field.name) if instance is not None else _field_default(field)
        sub = _section(tp)
        if sub is not None:
            section = default if isinstance(default, sub) else None
            rows.extend(_leaves(sub, f"{prefix}{field.name}.", section))
        else:
            rows.append((prefix + field.name, tp, default))
    return rows


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "|".join(str(arg) for arg in args)
    if _is_union(tp):
        return "|".join("null" if arg is type(None) else _type_name(arg) for arg in args)
    if origin in (list, tuple):
        inner = ", ".join("..." if arg is Ellipsis else _type_name(arg) for arg in args)
        return f"{origin.__name__}[{inner}]"
    return getattr(tp, "__name__", str(tp))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
