"""YAML the bureau edits, read so every problem can name its line, and written for clerks.

:func:`load_yaml_lines` gives mappings that know their line (:class:`LineDict`) and
sequences that know each entry's line (:class:`LineList`); codes and numbers such as
``1.10`` or a licence number stay text. :func:`dump_yaml` writes Chinese unescaped, keys
in order, evidence mappings on one line (:class:`FlowDict`).

Every YAML file dangan reads goes through :func:`check_yaml_budget` first (the safe loader:
PyYAML's safe constructors, and these bounds checked on the event stream before anything
is built): at most :data:`MAX_YAML_BYTES`, nesting :data:`MAX_DEPTH` deep, :data:`MAX_ALIASES`
aliases, :data:`MAX_NODES` values once every alias is expanded ("billion laughs" needs
10⁹), and no alias inside its own anchor (a structure that contains itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from archive.core.errors import ConfigError

MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_NODES = 200_000

# Values under these keys keep the text they were written as ("1.10" is not 1.1)
RAW_KEYS = frozenset({"code", "criterion", "period", "key", "licence", "case"})


class LineDict(dict[str, Any]):
    """A mapping read from YAML that remembers the line (1-based) it started on."""

    line: int | None
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = None
        self.key_lines = {}


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {str(k.value): k.start_mark.line + 1 for k, _v in node.value}
    yield data
    mapping = loader.construct_mapping(node)
    for key_node, value_node in node.value:
        key = key_node.value
        if (
            key in RAW_KEYS
            and isinstance(value_node, yaml.ScalarNode)
            and value_node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        ):
            mapping[key] = value_node.value
    data.update({str(k): v for k, v in mapping.items()})


class LineList(list[Any]):
    """A sequence read from YAML that remembers the line (1-based) of each entry."""

    lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines = []


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _budget_error(source: object, line: int | None, what: str) -> ConfigError:
    where = f"第{line}行" if line is not None else ""
    return ConfigError(
        f"{source}: {where}{what}; 已拒绝读取, 请检查该文件 (是否被人改过或选错了文件)"
    )


def check_yaml_budget(text: str, source: object) -> None:
    """Refuse YAML beyond the budgets (see the module's docstring) before it is built.

    Walks PyYAML's event stream (the parser is iterative: no recursion, nothing built)
    keeping, per anchor, how many values it stands for, so that a chain of aliases is
    priced at its expanded size. Raises :class:`ConfigError` naming the file and line."""
    if len(text) > MAX_YAML_BYTES:
        raise _budget_error(source, None, f"文件过大 ({len(text)} 字符, 上限 {MAX_YAML_BYTES})")
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, values so far] of each open collection
    open_anchors: set[str] = set()
    aliases = total = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark else None
            size = 0
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 1])
                if event.anchor:
                    open_anchors.add(event.anchor)
                if len(stack) > MAX_DEPTH:
                    raise _budget_error(source, line, f"嵌套超过 {MAX_DEPTH} 层")
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, size = stack.pop()
                if anchor:
                    open_anchors.discard(anchor)
                    sizes[anchor] = size
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if event.anchor in open_anchors:
                    raise _budget_error(
                        source, line, f"别名 *{event.anchor} 引用了包含它自身的锚点 (循环引用)"
                    )
                if aliases > MAX_ALIASES:
                    raise _budget_error(source, line, f"别名 (*) 超过 {MAX_ALIASES} 个")
                size = sizes.get(event.anchor or "", 1)
            else:
                continue
            total += size
            if stack:
                stack[-1][1] += size
            if total > MAX_NODES or (stack and stack[-1][1] > MAX_NODES):
                raise _budget_error(
                    source, line, f"展开别名后超过 {MAX_NODES} 个值 (疑为“十亿笑声”别名炸弹)"
                )
    except yaml.YAMLError:
        return  # malformed: the loader reports it with its line


def load_yaml_text(text: str, source: object, loader: Any) -> Any:
    """``yaml.load`` of ``text`` with ``loader`` (a SafeLoader), within the budgets."""
    check_yaml_budget(text, source)
    return yaml.load(text, Loader=loader)


def load_yaml_lines(path: Path) -> Any:
    """Read a YAML file whose mappings are :class:`LineDict` (they know their line).

    Raises :class:`ConfigError` naming the file when it cannot be read or parsed, or when
    it is beyond the budgets.
    """
    try:
        if Path(path).stat().st_size > MAX_YAML_BYTES:
            raise _budget_error(path, None, f"文件过大 (上限 {MAX_YAML_BYTES} 字节)")
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: 无法读取文件（{exc.strerror}），请检查路径。") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: 不是 UTF-8 编码，请用 UTF-8 另存后再试。") from exc
    try:
        return load_yaml_text(text, path, _LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark is not None else ""
        raise ConfigError(
            f"{path}: YAML 格式错误{where}（{getattr(exc, 'problem', exc)}），"
            "请检查缩进和冒号后的空格。"
        ) from exc


def line_of(obj: Any, index: int | None = None) -> int | None:
    """The YAML line of a mapping, or of entry ``index`` of a sequence (None if unknown)."""
    if index is not None:
        lines = getattr(obj, "lines", None)
        return lines[index] if lines is not None and index < len(lines) else None
    return getattr(obj, "line", None)


def key_line(obj: Any, key: str) -> int | None:
    """The YAML line a key of a mapping is on (the mapping's own line if unknown)."""
    lines = getattr(obj, "key_lines", None) or {}
    return lines.get(key, line_of(obj))


def number(value: Any) -> float | None:
    """A number from a YAML/Excel value: 5, 5.0, "5", "5分", "５"; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        s = value.strip().translate(_FULLWIDTH_DIGITS).removesuffix("分").strip()
        try:
            return float(s)
        except ValueError:
            return None
    return None


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９．", "0123456789.")


class FlowDict(dict[str, Any]):
    """A mapping dumped on one line (``{kind: meeting, every: month}``)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(LineDict, _Dumper.represent_dict)
_Dumper.add_representer(LineList, _Dumper.represent_list)
_Dumper.add_representer(
    FlowDict,
    lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True),
)


def dump_yaml(data: Any) -> str:
    """YAML as a clerk reads it: Chinese unescaped, keys in order, block style."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
