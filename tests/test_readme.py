"""The README's example configuration is a real one: it must keep loading as the schema evolves."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

from queueapp.configfile import read_config

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_configuration_example_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README should show a configuration file"
    example = tmp_path / "centre.yaml"
    example.write_text(blocks[0], encoding="utf-8")

    config = read_config(example)

    assert config.id == "centre"
    assert config.hours["mon"][1].open == time(13, 0)
    assert config.capacity.schedule[0].rule.maximum == 6
