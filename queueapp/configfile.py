"""Branch configuration files, YAML or JSON, chosen by the file's extension.

YAML 1.1 reads an unquoted ``12:00`` as the integer 720 (base 60), which
would quietly turn an opening hour into twelve minutes past midnight. The
loader here keeps such clock times as text, so they parse as times.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from queueapp.domain.config import BranchConfig, dump_config, parse_config

_INT = "tag:yaml.org,2002:int"


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _INT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(0|[1-9][0-9_]*)$"), list("-+0123456789"))


def read_config(path: Path) -> BranchConfig:
    text = path.read_text(encoding="utf-8")
    data: Any = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    if isinstance(data, dict):
        data = {**data, "revision": 0}
    return parse_config(data)


def render_config(config: BranchConfig, as_json: bool) -> str:
    """The configuration as a file would hold it (without the store's revision counter)."""
    document = dump_config(config)
    document.pop("revision", None)
    if as_json:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
