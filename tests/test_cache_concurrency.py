"""One model cache shared by concurrent processes (the book's parallel runs, nbval under
pytest-xdist, a sweep's workers): no manifest update is lost, a reader never moves aside a file a
writer is putting in place, and the same configuration is trained once."""
import hashlib
import multiprocessing
import warnings

import pytest
import torch

from medadv_lib.cache import MANIFEST, CacheWarning, VerifiedFolder, file_lock


def _writer(folder, worker, count):
    store = VerifiedFolder(folder)
    for i in range(count):
        store.write_bytes(f"w{worker}-{i}.bin", bytes([worker, i]) * 512)


def _rewriter(folder, count):
    store = VerifiedFolder(folder)
    for i in range(count):
        store.write_bytes("shared.bin", bytes([i % 256]) * 4096)


def _reader(folder, count, queue):
    store = VerifiedFolder(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seen = sum(store.read_bytes("shared.bin") is not None for _ in range(count))
    queue.put((seen, [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]))


def _spawn():
    return multiprocessing.get_context("spawn")


def test_concurrent_writers_lose_no_manifest_entry(tmp_path):
    ctx = _spawn()
    procs = [ctx.Process(target=_writer, args=(tmp_path, w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = VerifiedFolder(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # every file verifies: none moved aside
        for w in range(4):
            for i in range(40):
                assert store.read_bytes(f"w{w}-{i}.bin") == bytes([w, i]) * 512
    assert len(store._manifest()) == 160 and not (tmp_path / "quarantine").exists()


def test_reader_racing_a_writer_never_quarantines(tmp_path):
    VerifiedFolder(tmp_path).write_bytes("shared.bin", b"\0" * 4096)
    ctx = _spawn()
    queue = ctx.Queue()
    writer = ctx.Process(target=_rewriter, args=(tmp_path, 300))
    reader = ctx.Process(target=_reader, args=(tmp_path, 600, queue))
    writer.start(), reader.start()
    seen, caught = queue.get(timeout=120)
    writer.join(60), reader.join(60)
    assert writer.exitcode == 0 and reader.exitcode == 0
    assert caught == [] and seen == 600
    assert not (tmp_path / "quarantine").exists() and (tmp_path / MANIFEST).is_file()


def test_file_lock_excludes_another_holder(tmp_path):
    import fcntl

    with file_lock(tmp_path / "x.lock"):
        with open(tmp_path / "x.lock", "a+b") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / "x.lock", "a+b") as other:           # released at the end of the block
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _train(cache, queue):
    import os

    os.environ["MEDADV_CACHE"] = str(cache)
    torch.set_num_threads(1)
    from medadv_lib.data import covidx_splits
    from medadv_lib.training import TrainConfig, train_model

    train, _ = covidx_splits(None, 32, 120, 30, seed=0)
    result = train_model("simple-cnn", {"num_classes": 3, "width": 8, "depth": 3}, train,
                         TrainConfig(epochs=3, batch_size=32, seed=5), "cpu", progress=False)
    digest = hashlib.sha256()
    for name, value in sorted(result.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    queue.put((result.from_cache, digest.hexdigest()))    # plain data: no tensor shared through the queue


@pytest.mark.slow
def test_two_processes_wanting_one_model_train_it_once(tmp_path):
    ctx = _spawn()
    queue = ctx.Queue()
    procs = [ctx.Process(target=_train, args=(tmp_path / "cache", queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(r[0] for r in results) == [False, True]   # one trained, the other waited and read it
    assert results[0][1] == results[1][1]                  # the same weights
    folders = list((tmp_path / "cache" / "checkpoints").iterdir())
    assert len(folders) == 1 and not (folders[0] / "quarantine").exists()
