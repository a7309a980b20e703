"""The shared CLI vocabulary (hcanalysis/cli/options.py): aliases, frame selection, memory
sizes, no value placeholder for flags in --help."""

import pytest

from hcanalysis.cli import main
from hcanalysis.cli.options import resolve_frames, resolve_memory
from hcanalysis.errors import HCAnalysisError


def test_frames_and_memory_spellings():
    assert resolve_frames(10, 100, 2, None) == slice(10, 100, 2)
    assert resolve_frames(None, None, None, "10:100:2") == slice(10, 100, 2)
    assert resolve_frames(None, None, None, None) == slice(None)
    with pytest.raises(HCAnalysisError, match="not both"):
        resolve_frames(1, None, None, "1:5")
    assert resolve_memory("512MiB", None) == resolve_memory(None, 512) == 512 * 2**20
    assert resolve_memory(None, None) is None
    with pytest.raises(HCAnalysisError, match="not both"):
        resolve_memory("1GiB", 512)


@pytest.mark.parametrize("command", ["msd", "voids", "tortuosity", "analyze"])
def test_help_shows_the_aliases_and_no_bool_placeholder(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "<bool>" not in text
    assert "--ions" in text and "--species" in text
    assert "--max-memory" in text or command in ("voids", "tortuosity")
    assert "--start" in text and "--frames" in text
