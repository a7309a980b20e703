"""The analysis cache: its key changes whenever the trajectory's content can have changed, and
a damaged cache file is recomputed (issue 19)."""

import os

import numpy as np
import pytest
import synthetic_traj as st

import hcanalysis as hca
from hcanalysis import descriptors
from hcanalysis.config import AnalysisConfig
from hcanalysis.descriptors import file_fingerprint
from hcanalysis.pipeline import cache_key, descriptor_job


def _edit_middle_keep_size_and_mtime(path, offset):
    st_before = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))
    assert path.stat().st_size == st_before.st_size
    assert path.stat().st_mtime_ns == st_before.st_mtime_ns


def test_key_changes_with_any_byte_of_a_small_file(tmp_path):
    f = tmp_path / "dump.bin"
    f.write_bytes(np.random.default_rng(0).bytes(9 << 20))  # larger than the old 2 x 4 MiB ends
    before = file_fingerprint(f)
    _edit_middle_keep_size_and_mtime(f, 9 << 19)  # the middle: the old key never read it
    assert file_fingerprint(f) != before


def test_key_of_a_large_file_follows_mtime_and_samples(tmp_path, monkeypatch):
    monkeypatch.setattr(descriptors, "FULL_HASH_BYTES", 1 << 20)  # a "large" file of 12 MiB
    f = tmp_path / "dump.bin"
    f.write_bytes(np.random.default_rng(1).bytes(12 << 20))
    before = file_fingerprint(f)
    assert file_fingerprint(f) == before  # stable
    # an in-place edit of the middle (same size) changes the modification time: new key
    with open(f, "r+b") as fh:
        fh.seek(6 << 20)
        fh.write(b"\0")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    assert file_fingerprint(f) != before
    # with the modification time reset, an edit inside a sampled block still changes it
    second = file_fingerprint(f)
    size, block, sample = 12 << 20, 4 << 20, 16 << 10
    starts = np.linspace(block, size - block - sample, 256).astype(np.int64)
    _edit_middle_keep_size_and_mtime(f, int(starts[100]) + 7)
    assert file_fingerprint(f) != second


@pytest.fixture(scope="module")
def small_traj(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "t.h5"
    hca.write_h5md(st.make(n_frames=60, seed=3), path)
    return path


def _cfg() -> AnalysisConfig:
    cfg = AnalysisConfig(stages=["msd"])
    cfg.windows.window = 30
    return cfg


def test_cache_key_changes_when_the_trajectory_is_edited_in_place(small_traj, tmp_path):
    f = tmp_path / "copy.h5"
    f.write_bytes(small_traj.read_bytes())
    key = cache_key(f, _cfg(), {})
    _edit_middle_keep_size_and_mtime(f, f.stat().st_size // 2)
    assert cache_key(f, _cfg(), {}) != key


def test_damaged_cache_is_recomputed(small_traj, tmp_path):
    cache = tmp_path / "cache.h5"
    first = descriptor_job(str(small_traj), 0, _cfg().to_dict(), {}, str(cache))
    assert cache.is_file()
    cache.write_bytes(b"not an HDF5 file at all")
    with pytest.warns(UserWarning, match="unreadable cached descriptor table.*recomputing"):
        again = descriptor_job(str(small_traj), 0, _cfg().to_dict(), {}, str(cache))
    np.testing.assert_array_equal(again.frame["msd_plateau"], first.frame["msd_plateau"])
    reread = descriptor_job(str(small_traj), 0, _cfg().to_dict(), {}, str(cache))
    assert reread.metadata.get("reused_cache") is True  # the rewritten cache is good again
