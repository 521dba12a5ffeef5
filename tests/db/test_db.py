"""The image database: round trips, random access, search, damage, the lock and crash safety."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from ganvq.db import DbFormatError, ImageDB, check, info
from ganvq.errors import GanvqError


def _open(path, codec):
    return ImageDB(path, codec=codec)


def _flip(path, offset: int, mask: int) -> None:
    """Damage one byte of a file in place."""
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def test_add_then_get_round_trips_codes_exactly_and_pixels_as_the_vqvae_decodes(make_db, codec, images):
    x, y = images
    with _open(make_db(), codec) as db:
        assert len(db) == 40 and len(db._segments) == 3
        assert torch.equal(db.codes(range(40)), codec.encode_images(x))
        assert torch.equal(db.get(range(40)), codec.decode_images(codec.encode_images(x)))
        one = db.get([7])
        assert (one.int() - codec.decode_images(codec.encode_images(x[7:8])).int()).abs().max() <= 1
        assert db.labels.tolist() == y.tolist() and db.name(12) == "test/012"


def test_stored_entries_are_the_payloads_of_one_image_gvq_files(make_db, codec, images):
    x, _ = images
    with _open(make_db(), codec) as db:
        assert db.gvq(range(40)) == codec.compress_each(x)


def test_get_reads_only_the_entrys_own_bytes(make_db, codec, monkeypatch):
    path = make_db()
    with _open(path, codec) as db:
        reads = []
        real = os.pread

        def spy(fd, n, offset):
            reads.append((offset, n))
            return real(fd, n, offset)

        monkeypatch.setattr(os, "pread", spy)
        db.codes([21])
        assert reads == [(int(db.offsets[21]), int(db.lengths[21]))]


def test_a_damaged_entry_is_reported_by_id_and_the_others_stay_readable(make_db, codec):
    path = make_db()
    with _open(path, codec) as db:
        offset = int(db.offsets[5])
        before = db.codes([4, 6])
    _flip(path, offset, 0xFF)
    with _open(path, codec) as db:
        with pytest.raises(GanvqError, match="entry 5 .*damaged"):
            db.get([5])
        assert torch.equal(db.codes([4, 6]), before)
        report = check(db)
        assert not report["ok"] and 5 in report["damaged_ids"]
        assert set(report["damaged_ids"]) <= set(range(16))  # within its own segment only


def test_export_stops_at_a_damaged_entry_unless_told_to_skip_it(make_db, codec, tmp_path, capsys):
    from ganvq.commands.db import export_db

    path = make_db()
    with _open(path, codec) as db:
        offset = int(db.offsets[5])
    _flip(path, offset, 0xFF)
    with pytest.raises(GanvqError, match="entry 5 .*damaged.*; --skip-damaged exports the other entries"):
        export_db(str(path), str(tmp_path / "all"), fmt="gvq", quiet=True)
    result = export_db(str(path), str(tmp_path / "rest"), fmt="gvq", quiet=True, skip_damaged=True)
    assert result["exported"] == 39 and result["damaged_ids"] == [5]
    assert "1 damaged entry left out (IDs 5)" in capsys.readouterr().err
    written = {p.name for p in (tmp_path / "rest").glob("*.gvq")}
    assert len(written) == 39 and "5.gvq" not in written
    assert (tmp_path / "rest" / "index.csv").read_text().count("\n") == 40  # the header and the 39 exported


def test_a_damaged_index_segment_loses_only_its_own_entries(make_db, codec):
    path = make_db()
    with _open(path, codec) as db:
        seg = db._segments[1]
        at = seg.offset + 60  # inside its body
    _flip(path, at, 0x01)
    with _open(path, codec) as db:
        with pytest.raises(GanvqError, match="entry 20 .*index segment of entries 16-31 is damaged"):
            db.codes([20])
        assert len(db.codes([0, 35])) == 2
        assert check(db)["damaged_ids"] == list(range(16, 32))


def test_search_returns_the_query_itself_first(make_db, codec, images):
    x, _ = images
    with _open(make_db(), codec) as db:
        ids, dist = db.search(ids=list(range(40)), k=5)
        assert ids[:, 0].tolist() == list(range(40)) and (dist[:, 0] < 1e-3).all()
        ids, _ = db.search(x[[3, 9]], k=3)
        assert ids[:, 0].tolist() == [3, 9]
        exact, _ = db.search(ids=[3], k=40, method="exact")
        assert sorted(exact[0].tolist()) == list(range(40))


def test_the_search_embedding_is_fitted_on_the_first_add_whatever_its_commit_size(make_db, codec):
    with _open(make_db("b1.gvqdb", batch=1), codec) as one, _open(make_db("b40.gvqdb", batch=40), codec) as whole:
        assert np.array_equal(one.embeddings, whole.embeddings)  # 40 one-image commits index as one commit does


def test_one_image_added_first_still_leaves_an_index_that_tells_images_apart(tmp_path, tiny_local_prior_run, codec,
                                                                              images):
    from ganvq.db import ImageDB

    x, y = images
    with ImageDB.create(tmp_path / "one.gvqdb", tiny_local_prior_run, codec=codec) as db:
        db.add(x[:1], y[:1])  # the projection is fitted here: on this image and the model's own samples
        db.add(x[1:], y[1:])
    with _open(tmp_path / "one.gvqdb", codec) as db:
        assert len({bytes(e) for e in db.embeddings}) == 40  # fitted on one image alone, they collapsed
        ids, _ = db.search(ids=list(range(40)), k=5)
        assert np.mean(ids[:, 0] == np.arange(40)) >= 0.9  # the model here is tiny: a near tie or two


def test_hnsw_search_agrees_with_exact_search_on_a_small_archive(make_db, codec):
    pytest.importorskip("faiss")
    with _open(make_db(), codec) as db:
        exact, _ = db.search(ids=list(range(40)), k=5, method="exact")
        approx, _ = db.search(ids=list(range(40)), k=5, method="hnsw")
        assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approx)]) >= 0.95


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:-7], "truncated"),
    (lambda d: d[:50], "truncated"),
    (lambda d: b"", "not a ganvq image database"),
    (lambda d: b"PK" + d[2:], "not a ganvq image database"),
    (lambda d: d[:100] + bytes([d[100] ^ 1]) + d[101:], "header is damaged"),
    (lambda d: d[:12] + b"\x09" + d[13:], "preamble is damaged"),
    (lambda d: d[:32] + bytes(64) + d[96:], "both commit slots"),
])
def test_a_truncated_or_tampered_archive_is_refused_with_one_line_naming_the_fault(make_db, codec, damage, message,
                                                                                    capsys):
    from ganvq.cli import main

    path = make_db()
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DbFormatError, match=message):
        _open(path, codec)
    assert main(["db", "info", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_a_commit_claiming_more_entries_than_bytes_is_refused_before_allocating(make_db, codec):
    from ganvq.db import format as fmt

    path = make_db()
    data = path.read_bytes()
    slot, _ = fmt.read_slots(data)
    forged = fmt.pack_slot(fmt.Slot(slot.generation + 1, slot.end, slot.last_segment, 2**32 - 1))
    path.write_bytes(data[:32] + forged + data[32 + len(forged):])
    with pytest.raises(DbFormatError, match="claims 4,294,967,295 entries"):
        _open(path, codec)


def test_the_lock_refuses_a_second_writer_and_readers_still_read(make_db, codec, images):
    path = make_db()
    with ImageDB(path, writable=True, codec=codec):
        with pytest.raises(GanvqError, match="being written by another ganvq process"):
            ImageDB(path, writable=True, codec=codec)
        with _open(path, codec) as reader:
            assert len(reader.codes([0])) == 1
    with ImageDB(path, writable=True, codec=codec) as db:  # released on close
        db.add(images[0][:2])
        assert len(db) == 42


def test_an_add_cut_at_any_write_leaves_every_committed_entry_readable(make_db, codec, images, monkeypatch):
    """A power cut in the middle of each write of an add (data, segment, commit slot): earlier entries stay."""
    x, _ = images
    for cut in range(4):
        path = make_db(f"cut{cut}.gvqdb", n=16, batch=16)
        real, calls = os.pwrite, []

        def torn(fd, data, offset, cut=cut, real=real, calls=calls):
            calls.append(1)
            if len(calls) > cut:
                real(fd, data[: len(data) // 2], offset)  # half of it reaches the disk, then the power goes
                raise KeyboardInterrupt
            return real(fd, data, offset)

        with ImageDB(path, writable=True, codec=codec) as db:
            monkeypatch.setattr(os, "pwrite", torn)
            with pytest.raises(KeyboardInterrupt):
                db.add(x[16:40], batch=8)
            monkeypatch.setattr(os, "pwrite", real)
        with _open(path, codec) as db:
            committed = 16 + 8 * (cut // 2)
            assert len(db) == committed and check(db)["ok"]
            assert torch.equal(db.codes(range(committed)), codec.encode_images(x[:committed]))
        with ImageDB(path, writable=True, codec=codec) as db:  # the next add cuts off what the last one left
            db.add(x[committed:40])
            assert len(db) == 40 and check(db)["ok"] and check(db)["uncommitted_bytes"] == 0


def test_info_counts_payloads_embeddings_and_overhead_apart(make_db, codec):
    with _open(make_db(), codec) as db:
        report = info(db)
    assert report["entries"] == 40 and report["embedding_bytes"] == 40 * 32 + db.embed_model_bytes
    assert report["bytes"] == report["payload_bytes"] + report["embedding_bytes"] + report["overhead_bytes"]
    assert report["bytes_per_image"] == round(report["bytes"] / 40, 2) and report["bits_per_pixel"] > 0
    assert report["bits_per_pixel"] == round(8 * (report["bytes"] - report["embedding_bytes"]) / 40 / 28**2, 4)
    assert report["bits_per_pixel_with_index"] > report["bits_per_pixel"]
    assert "less its search index" in report["bits_per_pixel_definition"]


def test_info_of_an_empty_archive_has_no_per_image_figures(make_db, codec):
    with _open(make_db(n=0), codec) as db:
        report = info(db)
    assert report["entries"] == 0 and report["bytes"] > 0  # the header alone
    assert report["bytes_per_image"] is report["bits_per_pixel"] is report["overhead_percent"] is None


def test_db_add_killed_at_random_moments_keeps_every_committed_entry(make_db, codec, tiny_local_prior_run,
                                                                   benchmark_module):
    """`ganvq db add` in a child process, SIGKILLed twice at random moments while it adds: what was committed
    stays, check passes (benchmarks/bench_db.py does it 20 times on a real model)."""
    import sys

    kill_while_adding = benchmark_module("bench_db").kill_while_adding
    path = make_db(n=8, batch=8)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganvq", "--quiet", "db", "add", str(path), "fashion-mnist", "--split", "test",
           "--limit", "300", "--batch", "10", "--ckpt", str(tiny_local_prior_run)]
    rng = np.random.default_rng(0)
    for _ in range(2):
        with _open(path, codec) as db:
            before, codes = len(db), db.codes(range(len(db)))
        kill_while_adding(cmd, path, float(rng.uniform(0.0, 0.5)), env)
        with _open(path, codec) as db:
            assert len(db) >= before and torch.equal(db.codes(range(before)), codes)
            assert check(db)["ok"]


def test_a_reader_leaving_the_pipe_ends_a_command_quietly(make_db, tiny_local_prior_run):
    """`ganvq db search ... | head -2`: the reader closes the pipe before the JSON is written, and ganvq ends as
    command-line tools do (exit 141, SIGPIPE's), without a BrokenPipeError traceback. (argparse's own --help
    output already ignores a closed pipe.)"""
    import subprocess
    import sys

    path = make_db()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganvq", "db", "search", str(path), "--query", "3", "-k", "40"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # as `head` does once it has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err


def test_cli_db_round_trip_and_one_line_errors(tmp_path, tiny_local_prior_run, capsys, monkeypatch):
    from ganvq.cli import main

    lib = tmp_path / "lib.gvqdb"
    assert main(["--quiet", "db", "create", str(lib), "--ckpt", str(tiny_local_prior_run)]) == 0
    assert main(["--quiet", "db", "add", str(lib), "fashion-mnist", "--split", "test", "--limit", "12"]) == 0
    assert main(["db", "get", str(lib), "0", "11", "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "11.png"]
    capsys.readouterr()
    assert main(["db", "search", str(lib), "--query", "4", "-k", "3"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["results"][0]["id"] == 4 and "Euclidean distance" in found["distance_definition"]
    assert main(["db", "search", str(lib), "--query", "4", "--k", "2"]) == 0  # the spelling users guess, too
    assert capsys.readouterr().out.count('"id"') == 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "4").write_bytes((tmp_path / "out" / "11.png").read_bytes())  # a file named like an ID
    assert main(["db", "search", str(lib), "--query", "4", "-k", "1"]) == 0  # the ID is meant ...
    by_id = capsys.readouterr()
    assert "read as an entry ID; for the file of that name, give ./4" in by_id.err
    assert json.loads(by_id.out)["results"][0] == {**json.loads(by_id.out)["results"][0], "id": 4, "distance": 0.0}
    assert main(["db", "search", str(lib), "--query", "./4", "-k", "1"]) == 0  # ... and ./4 is the file
    by_file = capsys.readouterr()
    assert by_file.err == "" and json.loads(by_file.out)["results"][0]["distance"] > 0  # an image, encoded afresh
    assert main(["db", "export", str(lib), "-o", str(tmp_path / "gvq"), "--format", "gvq"]) == 0
    assert len(list((tmp_path / "gvq").glob("*.gvq"))) == 12
    for argv, message in ((["db", "get", str(lib), "12", "-o", str(tmp_path)], "no entry 12"),
                          (["db", "create", str(lib), "--ckpt", str(tiny_local_prior_run)], "exists already"),
                          (["db", "info", str(tmp_path / "none.gvqdb")], "no such image database")):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def _folder(tmp_path, images, n: int):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(n):
        Image.fromarray(images[0][i, 0].numpy()).save(folder / f"im{i:02d}.png")
    return folder


def test_db_add_reads_every_input_before_adding_and_refuses_what_does_not_fit(tmp_path, tiny_local_prior_run,
                                                                               images, capsys):
    from ganvq.cli import main

    lib, folder = tmp_path / "lib.gvqdb", _folder(tmp_path, images, 6)
    (tmp_path / "cut.png").write_bytes((folder / "im00.png").read_bytes()[:60])
    assert main(["--quiet", "db", "create", str(lib), "--ckpt", str(tiny_local_prior_run)]) == 0
    Image.new("RGB", (40, 30)).save(folder / "photo.png")
    (folder / "broken.png").write_bytes(b"not an image")
    for argv, message in (([str(folder / "im00.png"), str(tmp_path / "cut.png")], "cut.png: cannot read image"),
                          ([str(folder)], "photo.png: the image is 40x30 colour (RGB); this model codes 28x28 "
                                          "grayscale images (1 of the 8 files in the folder do not fit; resize "
                                          "them first, or give --resize)"),
                          ([str(folder), "--split", "test"], "needs a dataset with named splits")):
        capsys.readouterr()
        assert main(["--quiet", "db", "add", str(lib), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert main(["--quiet", "db", "info", str(lib)]) == 0 and '"entries": 0' in capsys.readouterr().out
    assert main(["--quiet", "db", "add", str(lib), str(folder), "--resize"]) == 0
    out, err = capsys.readouterr()
    assert '"added": 7' in out and "skipped 1 unreadable file(s) of 8" in err and "broken.png" in err


@pytest.mark.parametrize("stop", [KeyboardInterrupt, GanvqError])
def test_a_stopped_db_add_says_what_it_kept_and_skip_existing_adds_only_the_rest(tmp_path, tiny_local_prior_run,
                                                                                  images, monkeypatch, capsys, stop):
    from ganvq.commands.db import add_to_db
    from ganvq.db import archive

    lib, folder = tmp_path / "lib.gvqdb", _folder(tmp_path, images, 10)
    ImageDB.create(lib, tiny_local_prior_run).close()
    commit, calls = archive.ImageDB._commit, []

    def second_fails(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise stop("disk full") if stop is GanvqError else stop()
        return commit(self, *args)

    monkeypatch.setattr(archive.ImageDB, "_commit", second_fails)
    with pytest.raises(stop) as caught:
        add_to_db(str(lib), [str(folder)], batch=4, quiet=True)
    said = str(caught.value) if stop is GanvqError else capsys.readouterr().err
    assert "4 of the 10 images were committed before it stopped (IDs 0-3)" in said and "--skip-existing" in said
    monkeypatch.setattr(archive.ImageDB, "_commit", commit)
    result = add_to_db(str(lib), [str(folder)], batch=4, quiet=True, skip_existing=True)
    assert result["added"] == 6 and result["skipped_existing"] == 4 and result["ids"] == [4, 9]
    assert add_to_db(str(lib), [str(folder)], quiet=True, skip_existing=True)["added"] == 0  # finished already
    with ImageDB(lib) as db:
        assert sorted(db.names()) == [f"photos/im{i:02d}.png" for i in range(10)]


def test_adding_a_folder_again_warns_that_its_names_are_stored_again(tmp_path, tiny_local_prior_run, images, capsys):
    from ganvq.commands.db import add_to_db

    lib, folder = tmp_path / "lib.gvqdb", _folder(tmp_path, images, 3)
    ImageDB.create(lib, tiny_local_prior_run).close()
    add_to_db(str(lib), [str(folder)], quiet=True)
    assert "stored again" not in capsys.readouterr().err  # a first add holds no names yet
    assert add_to_db(str(lib), [str(folder)], quiet=True)["added"] == 3
    assert ("3 of the images to add (photos/im00.png, ...) have a name the archive holds already and are stored "
            "again; --skip-existing leaves them out") in capsys.readouterr().err
    assert add_to_db(str(lib), [str(folder)], quiet=True, skip_existing=True)["added"] == 0
    assert "stored again" not in capsys.readouterr().err


def test_an_archive_whose_model_moved_says_so_and_takes_it_from_ckpt(tmp_path, tiny_local_prior_run, images, capsys):
    import shutil

    from ganvq.cli import main

    run = tmp_path / "prior"
    shutil.copytree(tiny_local_prior_run, run)
    lib = tmp_path / "lib.gvqdb"
    with ImageDB.create(lib, run) as db:
        db.add(images[0][:3])
    run.rename(tmp_path / "moved")
    assert main(["db", "get", str(lib), "0", "-o", str(tmp_path / "out")]) == 2
    assert f"was made with the prior checkpoint {run.resolve()}, which is not there (moved or deleted?): give it " \
           "with --ckpt" in capsys.readouterr().err
    assert main(["--quiet", "db", "get", str(lib), "0", "-o", str(tmp_path / "out"), "--ckpt",
                 str(tmp_path / "moved")]) == 0


def test_db_add_limit_reads_no_further_than_it_adds(tmp_path, tiny_local_prior_run, images, monkeypatch):
    from ganvq.commands.db import add_to_db
    from ganvq.data import folder as folder_module

    lib, folder = tmp_path / "lib.gvqdb", _folder(tmp_path, images, 8)
    ImageDB.create(lib, tiny_local_prior_run).close()
    read, real = [], folder_module._load_square
    monkeypatch.setattr(folder_module, "_load_square", lambda path, *a, **k: read.append(path) or real(path, *a, **k))
    result = add_to_db(str(lib), [str(folder / "im07.png"), str(folder)], limit=3, quiet=True, resize=True)
    assert result["added"] == 3 and len(read) == 3  # the file, then two of the folder's 8 images
    with ImageDB(lib) as db:
        assert db.names() == ["im07.png", "photos/im00.png", "photos/im01.png"]


def test_a_class_conditional_model_fits_a_small_first_add_on_samples_of_every_class(tmp_path, tiny_prior_config,
                                                                                    images):
    import dataclasses

    from ganvq.train.prior import train_prior

    run = tmp_path / "prior"
    train_prior(dataclasses.replace(tiny_prior_config, class_conditional=True), run, quiet=True)
    x, y = images
    with ImageDB.create(tmp_path / "lib.gvqdb", run) as db:
        db.add(x[:1], y[:1])  # the prior draws its fitting samples class by class
        db.add(x[1:], y[1:])
    with ImageDB(tmp_path / "lib.gvqdb") as db:  # a prior of 6 steps draws poor samples: a near tie or two
        assert len(db) == 40 and len({bytes(e) for e in db.embeddings}) >= 35
