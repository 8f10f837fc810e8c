"""Typed configs: dataclasses loaded from YAML and overridden from the command line.

A config is a plain `@dataclass` with typed fields and defaults; nested sections are dataclass-typed
fields. Validation beyond types (ranges, combinations) belongs in the dataclass's `__post_init__`.

    @dataclass
    class LMConfig:
        corpus: str = "tiny"
        hidden_size: int = 256
        trainer: TrainerConfig = field(default_factory=TrainerConfig)

    cfg = load_config(LMConfig, "configs/lm.yaml", ["hidden_size=512", "--trainer.lr", "0.003"])

Values are coerced to each field's annotated type: `int`, `float`, `bool` ("true"/"false"/"yes"/"no"/
"1"/"0"/"on"/"off"), `str`, `Optional[X]` ("none"/"null" -> None), `Literal[...]`, `list[X]`,
`tuple[X, ...]`, `dict[str, X]`, `pathlib.Path` and nested dataclasses. An unknown key raises
`ConfigError` naming the key, where it came from, a "did you mean" suggestion and the valid keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
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
    "parse_overrides",
    "read_yaml",
    "config_keys",
    "add_config_arguments",
    "config_from_args",
]

T = TypeVar("T")

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
_NONE = {"none", "null", "~", ""}


# ----------------------------------------------------------------------------------------- public API
def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] | Mapping = ()) -> T:
    """Build a `cls` instance from defaults, then the YAML file at `path`, then `overrides`.

    `overrides` is a list of command-line strings (`key=value`, `--key value`, `--key=value`, dotted keys
    for nested sections, `--flag` alone meaning true) or an already nested / dotted mapping.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml(path)
        data.pop("task", None)  # which task the file is for: read by rnnlab.tasks.registry.load_task_config
        _check_keys(cls, data, str(path), "")
    if isinstance(overrides, Mapping):
        override_data = _nest(dict(overrides))
    else:
        override_data = parse_overrides(list(overrides))
    _check_keys(cls, override_data, "command-line override", "")
    merged = _deep_merge(data, override_data)
    source = str(path) if path is not None else "command line"
    if path is not None and override_data:
        source = f"{path} + command-line overrides"
    return config_from_dict(cls, merged, source=source)


def config_from_dict(cls: type[T], data: Mapping[str, Any] | None, source: str = "<dict>") -> T:
    """Build a `cls` instance from a (possibly nested) mapping, coercing values to the field types.

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
    """A JSON/YAML-ready nested dict of a config dataclass (tuples become lists, paths strings)."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"config_to_dict expects a dataclass instance, got {cfg!r}")
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Parse command-line overrides into a nested dict of *strings* (coerced later by field type).

    Accepts `key=value`, `--key value`, `--key=value` and a bare `--flag` (-> "true"). Dashes in keys
    become underscores (`--max-steps` == `max_steps`); dots address nested sections (`trainer.lr=0.1`).
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
                key, value = body, items[i + 1]
                i += 1
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


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file (and line for syntax errors)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top, got {type(data).__name__}")
    return data


def config_keys(cls: type) -> dict[str, Any]:
    """Every leaf key of a config dataclass, dotted, with its annotated type: {"trainer.lr": float, ...}."""
    keys: dict[str, Any] = {}
    for name, tp in _field_types(cls).items():
        sub = _dataclass_in(tp)
        if sub is not None:
            keys.update({f"{name}.{key}": t for key, t in config_keys(sub).items()})
        else:
            keys[name] = tp
    return keys


_ARG_PREFIX = "config_override:"


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, default_config: str | None = None) -> None:
    """Add `--config FILE`, one `--KEY VALUE` option per config key, and positional `KEY=VALUE` overrides.

    Use `config_from_args(cls, args)` in the handler. Options accept dashes or underscores
    (`--trainer.max-steps 5` == `--trainer.max_steps=5`); a boolean option alone means true.
    """
    parser.add_argument("--config", default=default_config, metavar="FILE", help="YAML config file")
    parser.add_argument(
        "overrides", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. trainer.lr=0.01"
    )
    group = parser.add_argument_group("config keys (override the YAML file)")
    for key, tp in config_keys(cls).items():
        dest = _ARG_PREFIX + key
        if tp is bool:  # --key / --no-key (an explicit value goes as key=false)
            prefix, _, leaf = key.rpartition(".")
            negative = f"{prefix}.no_{leaf}" if prefix else f"no_{leaf}"
            group.add_argument(*_flags(key), dest=dest, action="store_const", const="true", default=argparse.SUPPRESS)
            group.add_argument(
                *_flags(negative), dest=dest, action="store_const", const="false", default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )
        else:
            group.add_argument(*_flags(key), dest=dest, default=argparse.SUPPRESS, metavar="VALUE", help=_type_name(tp))


def _flags(key: str) -> list[str]:
    return [f"--{key}"] + ([f"--{key.replace('_', '-')}"] if "_" in key else [])


def config_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """The config described by parsed `add_config_arguments` options (file, then KEY=VALUE, then --KEY)."""
    overrides = dict(_nest(parse_overrides(getattr(args, "overrides", []) or [])))
    options = {key[len(_ARG_PREFIX) :]: value for key, value in vars(args).items() if key.startswith(_ARG_PREFIX)}
    merged = _deep_merge(overrides, _nest(options))
    return load_config(cls, getattr(args, "config", None), merged)


# ------------------------------------------------------------------------------------------ internals
def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1, "c": {"d.e": 2}} -> {"a": {"b": 1}, "c": {"d": {"e": 2}}}."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if isinstance(value, Mapping):
            value = _nest(dict(value))
        parts = str(key).split(".")
        node = nested
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        last = parts[-1]
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


def _unknown_key(key: str, prefix: str, valid: list[str], source: str) -> ConfigError:
    full = prefix + key
    guess = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean '{prefix}{guess[0]}'?)" if guess else ""
    listing = ", ".join(prefix + name for name in valid)
    return ConfigError(f"{source}: unknown key '{full}'{hint}; valid keys: {listing}")


def _check_keys(cls: type, data: Mapping[str, Any], source: str, prefix: str) -> None:
    """Raise on any key of `data` (recursively) that `cls` has no field for."""
    types_ = _field_types(cls)
    for key, value in _nest(dict(data)).items():
        if key not in types_:
            raise _unknown_key(str(key), prefix, list(types_), source)
        sub = _dataclass_in(types_[key])
        if sub is not None and isinstance(value, Mapping):
            _check_keys(sub, value, source, f"{prefix}{key}.")


def _dataclass_in(tp: Any) -> type | None:
    """The dataclass type inside `tp` (or Optional[tp]), if any."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return tp
    if _is_union(tp):
        for arg in typing.get_args(tp):
            if isinstance(arg, type) and dataclasses.is_dataclass(arg):
                return arg
    return None


def _build(cls: type[T], data: dict[str, Any], source: str, prefix: str) -> T:
    types_ = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in types_:
            raise _unknown_key(str(key), prefix, list(types_), source)
        kwargs[key] = _coerce(_onto_field_default(fields[key], value), types_[key], source, prefix + key)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        names = ", ".join(prefix + name for name in missing)
        raise ConfigError(f"{source}: missing required key(s): {names}")
    try:
        return cls(**kwargs)
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(source) else f"{source}: {message}") from None
    except (ValueError, TypeError) as error:
        where = f" in section '{prefix[:-1]}'" if prefix else ""
        raise ConfigError(f"{source}: invalid config{where}: {error}") from None


def _onto_field_default(field: dataclasses.Field, value: Any) -> Any:
    """A partial section merges onto the field's own default, not onto its class's defaults.

    With `trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy"))`,
    overriding `trainer.lr` must keep `metric="accuracy"`.
    """
    if not isinstance(value, Mapping):
        return value
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        default = field.default
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        return _deep_merge(config_to_dict(default), _nest(dict(value)))
    return value


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) is Union or isinstance(tp, types.UnionType)


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + "|".join(str(arg) for arg in typing.get_args(tp))
    if _is_union(tp):
        return " or ".join("none" if arg is type(None) else _type_name(arg) for arg in typing.get_args(tp))
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, source: str, key: str) -> Any:
    """Convert `value` (from YAML or a command-line string) to the annotated type `tp`."""

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{source}: key '{key}' expects {expected}, got {value!r}")

    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if _is_union(tp):
        non_none = [arg for arg in args if arg is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            if len(non_none) < len(args):
                return None
        errors: list[ConfigError] = []
        for arg in non_none:
            try:
                return _coerce(value, arg, source, key)
            except ConfigError as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        raise fail(" or ".join(_type_name(arg) for arg in args))

    if origin is Literal:
        for choice in args:
            if value == choice and type(value) is type(choice):
                return choice
            if isinstance(value, str) and not isinstance(choice, str):
                try:
                    if _coerce(value, type(choice), source, key) == choice:
                        return choice
                except ConfigError:
                    pass
            if isinstance(choice, str) and str(value) == choice:
                return choice
        guess = difflib.get_close_matches(str(value), [str(choice) for choice in args], n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise ConfigError(
            f"{source}: key '{key}' expects one of {', '.join(repr(c) for c in args)}, got {value!r}{hint}"
        )

    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, str):
            value = _parse_yaml_value(value, key, source)
        if not isinstance(value, Mapping):
            raise fail(f"a mapping for section '{key}'")
        return _build(tp, _nest(dict(value)), source, key + ".")

    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise fail("a boolean (true/false)")

    if tp is int:
        if isinstance(value, bool):
            raise fail("an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            try:
                return int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    raise fail("an integer") from None
                if number.is_integer():
                    return int(number)
        raise fail("an integer")

    if tp is float:
        if isinstance(value, bool):
            raise fail("a number")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip().replace("_", ""))
            except ValueError:
                raise fail("a number") from None
        raise fail("a number")

    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise fail("a string")

    if tp is Path or (isinstance(tp, type) and issubclass(tp, Path)):
        if isinstance(value, (str, Path)):
            return Path(value)
        raise fail("a path")

    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                value = _parse_yaml_value(text, key, source)
            else:
                value = [part.strip() for part in text.split(",")] if text else []
        if not isinstance(value, (list, tuple)):
            raise fail("a list")
        container = origin or tp
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise fail(f"a list of {len(args)} values")
            return tuple(_coerce(v, a, source, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return container(items)

    if origin is dict or tp is dict:
        if isinstance(value, str):
            value = _parse_yaml_value(value, key, source)
        if not isinstance(value, Mapping):
            raise fail("a mapping")
        key_type, value_type = args if args else (Any, Any)
        return {
            _coerce(k, key_type, source, key): _coerce(v, value_type, source, f"{key}.{k}") for k, v in value.items()
        }

    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise fail(_type_name(tp))
    return value


def _parse_yaml_value(text: str, key: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{source}: key '{key}': cannot parse {text!r}") from None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value
