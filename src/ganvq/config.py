"""Config dataclasses to and from plain data (JSON/YAML), strictly, and the layering of overrides.

A run's config is built in layers: a preset (or the defaults), then a config file, then command-line
flags, each a nested mapping of the options it sets (`layered`). Reading one back (`from_dict`) is
strict: an unknown option or a value of the wrong type is a one-line GanvqError naming the option.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import dacite

from ganvq.errors import GanvqError


def to_dict(config: Any) -> dict:
    """A config dataclass as plain JSON-able data."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _as_float(value: Any) -> Any:
    # JSON and YAML write 3.0 as 3: an int is a valid float option (a bool is not)
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _tuples(value: Any) -> Any:
    # JSON has no tuples: every sequence option of a config is a tuple
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


_DACITE = dacite.Config(strict=True, type_hooks={float: _as_float})


def _dataclass_of(hint: Any) -> type | None:
    """The config dataclass an option holds: its type, or the one of an optional section (`X | None`)."""
    if dataclasses.is_dataclass(hint):
        return hint
    return next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), None)


def _unknown_options(cls: type, data: dict, prefix: str = "") -> list[tuple[str, type]]:
    """(dotted name, the dataclass that lacks it) of every key in `data` that names no option."""
    hints = typing.get_type_hints(cls)
    found = []
    for key, value in data.items():
        if key not in hints:
            found.append((prefix + str(key), cls))
        elif isinstance(value, dict) and (section := _dataclass_of(hints[key])) is not None:
            found += _unknown_options(section, value, f"{prefix}{key}.")
    return found


def from_dict(cls: type, data: Any) -> Any:
    """Rebuild a (nested) config dataclass from plain data; unknown options and wrong types are errors."""
    if not isinstance(data, dict):
        raise GanvqError(f"config for {cls.__name__} must be a mapping, got {type(data).__name__}")
    try:
        return dacite.from_dict(cls, _tuples(data), config=_DACITE)
    except dacite.UnexpectedDataError:
        name, owner = _unknown_options(cls, data)[0]
        options = ", ".join(f.name for f in dataclasses.fields(owner))
        raise GanvqError(f"unknown config option {name!r}; {owner.__name__} has {options}") from None
    except dacite.WrongTypeError as e:
        raise GanvqError(f"config option {e.field_path!r} must be {_type_name(e.field_type)}, "
                         f"got {_given(data, e.field_path, e.value)!r}") from None
    except dacite.MissingValueError as e:
        raise GanvqError(f"config option {e.field_path!r} is missing") from None
    except dacite.DaciteError as e:
        raise GanvqError(f"invalid config for {cls.__name__}: {e}") from None


def _given(data: dict, path: str, fallback: Any) -> Any:
    """The value the user wrote at dotted `path` of `data` (dacite reports it after its own conversions)."""
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return fallback
        data = data[key]
    return data


def _type_name(kind: Any) -> str:
    return kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")


def _loader():
    """PyYAML's safe loader, reading 1e-3 and 2E5 as numbers as JSON and YAML 1.2 do (YAML 1.1 wants a dot)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    number = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", number, list("-+0123456789."))
    return Loader


def load_config_file(path: str | Path) -> dict:
    """Read a JSON or YAML config file into plain data, with a clear error when unreadable."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise GanvqError(f"cannot read config {p}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise GanvqError(f"{p} is not a text file (UTF-8 JSON or YAML)") from None
    try:
        data = yaml.load(text, Loader=_loader())  # YAML is a superset of JSON
    except yaml.YAMLError as e:
        raise GanvqError(f"{p} is not valid YAML/JSON: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise GanvqError(f"{p} nests too deeply to be a config file") from None
    if not isinstance(data, dict):
        raise GanvqError(f"{p} must hold a mapping of options")
    return data


def deep_update(base: dict, new: dict) -> dict:
    """`base` with the options of `new` laid over it, section by section (neither is modified)."""
    out = dict(base)
    for k, v in new.items():
        out[k] = deep_update(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def drop_none(options: dict) -> dict:
    """The options that were given: None values (and sections left empty) removed, at every depth."""
    out = {}
    for k, v in options.items():
        if isinstance(v, dict):
            v = drop_none(v)
            if not v:
                continue
        if v is not None:
            out[k] = v
    return out


def layered(cls: type, base: dict, *layers: dict) -> Any:
    """The config `cls` of `base` with each layer (a nested mapping of options) laid over it in turn."""
    data = base
    for layer in layers:
        data = deep_update(data, layer)
    return from_dict(cls, data)
