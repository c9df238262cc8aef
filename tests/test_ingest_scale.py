"""Indexing at scale: analysis in worker processes gives the very same index, flushes and
merges keep to a memory budget."""

from __future__ import annotations

import json
import random

import pytest

import searchlib
from searchlib import InvalidArgument
from searchlib.index import analyze
from searchlib.index import writer as writer_mod

from .conftest import SEEDS

WORDS = ['Running', 'runs', 'runner', 'RUN', 'ran', 'Shipping', 'shipped', 'ships', 'U.S.',
         'U.K.', 'AT&T', "O'Brien", "can't", 'harvest', 'harvests', 'grain', 'Grains', 'port',
         'ports', 'cargo', 'oil', 'prices', 'rose', 'fell', '1987', 'the', 'a', 'of', 'and',
         "rock'n'roll"]


def corpus(folder, articles: int = 400, seed: int = 3) -> None:
    rng = random.Random(seed)
    folder.mkdir()
    with open(folder / "feed.jsonl", "w", encoding="utf-8") as f:
        for i in range(articles):
            paras = [" ".join(rng.choices(WORDS, k=rng.randint(3, 40)))
                     for _ in range(rng.randint(0, 4))]
            title = " ".join(rng.choices(WORDS, k=rng.randint(0, 6)))
            f.write(json.dumps({"id": f"a{i}", "title": title, "text": "\n\n".join(paras)})
                    + "\n")


def index_files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "write.lock"}


def test_two_worker_processes_build_the_same_index_as_one(tmp_path, monkeypatch):
    corpus(tmp_path / "data")
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)  # use workers even for this little
    monkeypatch.setattr(analyze, "CHUNK_CHARS", 3000)  # many chunks, flushes inside them
    monkeypatch.setattr(writer_mod, "TIERED", False)  # the flushes' segments, unmerged
    monkeypatch.setattr(writer_mod, "MAX_SEGMENTS", 100)
    built = {}
    for jobs in (1, 2):
        root = tmp_path / f"idx{jobs}"
        writer = writer_mod.IndexWriter(root, rebuild=True)
        writer.update([tmp_path / "data", SEEDS], flush_tokens=900, jobs=jobs)
        assert writer.limits.jobs == jobs
        built[jobs] = index_files(root)
    assert len([n for n in built[1] if n.endswith("vocab.txt")]) > 3  # several segments
    assert built[1] == built[2]
    idx = searchlib.Index.open(tmp_path / "idx2")
    assert idx.check() == []
    assert idx.search("running").total == idx.search("runs").total > 0


def big_feed(path, records: int, seed: int = 5) -> int:
    """One JSONL of `records` stories, each with a word of its own (`uid<i>`); returns the
    number of paragraphs."""
    rng = random.Random(seed)
    vocabulary = WORDS + [f"w{i}" for i in range(3000)]
    paragraphs = 0
    with open(path, "w", encoding="utf-8") as f:
        for i in range(records):
            paras = [" ".join(rng.choices(vocabulary, k=rng.randint(20, 60)))
                     for _ in range(rng.randint(1, 6))]
            paras[rng.randrange(len(paras))] += f" uid{i}"
            paragraphs += len(paras)
            f.write(json.dumps({"id": f"s{i}", "title": f"Story {i}", "date": "1987-03-02",
                                "text": "\n\n".join(paras)}) + "\n")
    return paragraphs


def test_one_big_jsonl_and_its_gzip_index_every_record(tmp_path, monkeypatch):
    """A single record file several times the flush budget, plain and gzip'd, read by the
    workers: every record is found by its own word, in several segments, and both files
    give the same index content."""
    monkeypatch.setattr(writer_mod, "TIERED", False)  # flushes stay segments: counted
    import gzip
    import shutil

    records = 12_000
    plain = tmp_path / "plain" / "dump.jsonl"
    plain.parent.mkdir()
    paragraphs = big_feed(plain, records)
    assert plain.stat().st_size > 2 * writer_mod.INLINE_BYTES  # workers are used
    packed = tmp_path / "packed" / "dump.jsonl.gz"
    packed.parent.mkdir()
    with open(plain, "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    indexes = {}
    for name, folder in (("plain", plain.parent), ("packed", packed.parent)):
        root = tmp_path / f"idx-{name}"
        report = writer_mod.IndexWriter(root).update([folder], memory_budget=24, jobs=2)
        assert (report.articles_added, report.paragraphs_added) == (records, paragraphs)
        indexes[name] = idx = searchlib.Index.open(root)
        assert len(idx.snapshot.segments) > 1 and idx.check() == []
        assert idx.stats().paragraphs == paragraphs
    rng = random.Random(1)
    for i in [0, records - 1, *rng.sample(range(records), 40)]:
        for idx in indexes.values():
            assert [h.article_id for h in idx.search(f"uid{i}", fuzzy=False).hits] == [f"s{i}"]
    for q in ("grain ports", 'title:"story 7"', "w17 AND w2999", "title:story"):
        got = {n: [(h.article_id, h.paragraph, round(h.score, 9))
                   for h in idx.search(q, k=50).hits] for n, idx in indexes.items()}
        assert got["plain"] == got["packed"] and got["plain"]


def odd_feeds(folder) -> None:
    """Record files with something to warn about, parsed in the workers with --jobs 2."""
    corpus(folder)
    lines = ['{"id": "ok1", "title": "Grain", "text": "grain ships"}', "{not json",
             '{"title": "no id", "text": "harvest oil"}', "[1, 2]",
             '{"id": "t", "title": 7, "text": "cargo port", "date": "soon"}']
    (folder / "odd.jsonl").write_text("\n".join(lines * 40) + "\n", encoding="utf-8")
    (folder / "bad.jsonl").write_text("{nope\n[3]\n", encoding="utf-8")  # no record at all


def test_records_parsed_in_workers_warn_and_count_as_in_one_process(tmp_path, monkeypatch):
    odd_feeds(tmp_path / "data")
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)
    monkeypatch.setattr(analyze, "CHUNK_CHARS", 500)  # a file's lines span many chunks
    seen = {}
    for jobs in (1, 2):
        warnings: list[str] = []
        root = tmp_path / f"idx{jobs}"
        report = writer_mod.IndexWriter(root).update([tmp_path / "data"], jobs=jobs,
                                                     warn=warnings.append)
        seen[jobs] = (warnings, report.files_added, report.files_skipped,
                      report.articles_added, report.paragraphs_added, index_files(root))
    assert seen[1] == seen[2]
    warnings, added, skipped, articles, _, _ = seen[2]
    assert (added, skipped, articles) == (2, 1, 400 + 3 * 40)
    assert sum("odd.jsonl line" in w for w in warnings) == 80  # two bad lines × 40
    assert sum("odd.jsonl:" in w for w in warnings) == 3  # ids, types, metadata: once each
    assert any("40 records have no 'id'" in w for w in warnings)
    # bad.jsonl was skipped, not recorded: it is read (and skipped) again next time
    again = writer_mod.IndexWriter(tmp_path / "idx2").update([tmp_path / "data"], jobs=2)
    assert (again.files_added, again.files_skipped, again.files_unchanged) == (0, 1, 2)


def test_a_killed_analysis_worker_is_one_clear_error_and_the_commit_stands(tmp_path,
                                                                          monkeypatch):
    from searchlib import IndexWriteError

    corpus(tmp_path / "data")
    root = tmp_path / "idx"
    writer_mod.IndexWriter(root).update([SEEDS])
    before = searchlib.Index.open(root).stats().paragraphs
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)
    monkeypatch.setenv("SEARCHLIB_FAILPOINT", "analysis-worker")  # a worker SIGKILLs itself
    with pytest.raises(IndexWriteError, match="analysis worker process died.*intact"):
        writer_mod.IndexWriter(root).update([tmp_path / "data"], jobs=2)
    monkeypatch.delenv("SEARCHLIB_FAILPOINT")
    idx = searchlib.Index.open(root)
    assert idx.stats().paragraphs == before and idx.check() == []
    assert ({p.name for p in (root / "segments").iterdir()}
            == {e["name"] for e in idx.snapshot.manifest["segments"]})
    report = writer_mod.IndexWriter(root).update([tmp_path / "data"], jobs=2)
    assert report.files_added == 1 and searchlib.Index.open(root).search("grain").total > 0


def test_a_memory_budget_flushes_segments_the_token_limit_would_not(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "TIERED", False)  # flushes stay segments: counted
    corpus(tmp_path / "data")
    roots = {}
    for budget in (None, 0.05):
        roots[budget] = tmp_path / f"idx-{budget}"
        writer_mod.IndexWriter(roots[budget]).update([tmp_path / "data"], memory_budget=budget)
    segments = {b: len(searchlib.Index.open(r).snapshot.segments) for b, r in roots.items()}
    assert segments[None] == 1 and segments[0.05] > 1
    small = searchlib.Index.open(roots[0.05])
    assert small.check() == []
    whole = searchlib.Index.open(roots[None])
    for q in ("grain", '"oil prices"', "o'brien"):  # same matches (ties may order apart)
        assert ({h.article_id for h in small.search(q, k=1000).hits}
                == {h.article_id for h in whole.search(q, k=1000).hits})


def test_the_flush_buffer_is_a_third_of_the_budget_unless_workers_need_it():
    """At the default budget a segment buffers a third of it (fewer, bigger segments than
    the quarter it had); a quarter when many analysis workers share the budget (each is
    resident whatever the buffer holds)."""
    def flush_mb(jobs, budget=None):
        return writer_mod.Limits.make(jobs, budget, None).flush_bytes / 2**20

    assert flush_mb(1) == flush_mb(2) == pytest.approx(1024 / 3)
    assert flush_mb(2) > flush_mb(6) > flush_mb(8) == flush_mb(16) == 1024 / 4
    assert 1024 * 0.85 - flush_mb(6) >= 100 + 6 * 70  # room for 6 workers and the parent
    assert flush_mb(2, 4096) == pytest.approx(4096 / 3)
    assert flush_mb(2, 0.05) == pytest.approx(0.05 / 4)


@pytest.mark.parametrize("bad", [{"jobs": 0}, {"jobs": 1.5}, {"memory_budget": 0},
                                 {"memory_budget": -5}, {"memory_budget": "lots"}])
def test_bad_jobs_or_budget_is_a_clear_error_before_writing(tmp_path, bad):
    with pytest.raises(InvalidArgument, match="jobs|memory budget"):
        writer_mod.IndexWriter(tmp_path / "idx").update([SEEDS], **bad)
    assert not (tmp_path / "idx" / "manifest.json").exists()


def test_cli_index_takes_jobs_and_a_memory_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "TIERED", False)  # flushes stay segments: counted
    from click.testing import CliRunner

    from searchlib.cli import cli as main

    corpus(tmp_path / "data")
    runner = CliRunner()
    root = tmp_path / "idx"
    ok = runner.invoke(main, ["index", str(tmp_path / "data"), "--index", str(root),
                              "--jobs", "2", "--memory-budget", "0.05"])
    assert ok.exit_code == 0, ok.output
    assert len(searchlib.Index.open(root).snapshot.segments) > 1
    for bad in (["--jobs", "0"], ["--memory-budget", "-1"]):
        res = runner.invoke(main, ["index", str(tmp_path / "data"), "--index",
                                   str(tmp_path / "other"), *bad])
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert not (tmp_path / "other").exists()


def test_indexing_inside_a_daemonic_process_analyzes_without_workers(tmp_path, monkeypatch):
    """A multiprocessing.Pool's worker may not start processes: indexing there used to fail."""
    import multiprocessing

    corpus(tmp_path / "data")
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)
    root = tmp_path / "idx"

    def build() -> None:
        writer_mod.IndexWriter(root).update([tmp_path / "data"], jobs=2)

    proc = multiprocessing.get_context("fork").Process(target=build, daemon=True)
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0
    assert searchlib.Index.open(root).search("grain").total > 0


def test_scale_benchmark_replicates_with_new_ids_and_reports_a_row_per_scale(tmp_path):
    from searchlib.evaluation import scale

    corpus(tmp_path / "data", articles=30)
    source = tmp_path / "data" / "feed.jsonl"
    copy = scale.replicate(str(source), 3, tmp_path / "x3.jsonl")
    ids = [json.loads(line)["id"] for line in copy.read_text("utf-8").splitlines()]
    assert len(ids) == 90 and len(set(ids)) == 90 and "a7~3" in ids
    rows = scale.run(str(source), [1, 2], ["searchlib"])
    assert [(r.scale, r.paragraphs) for r in rows] == [(1, rows[0].paragraphs),
                                                        (2, 2 * rows[0].paragraphs)]
    assert all(r.seconds > 0 and r.peak_rss_bytes > 0 and r.index_bytes > 0 for r in rows)
    assert "| ×2 | searchlib |" in scale.table(rows)


def test_workers_renewing_their_raw_token_tables_build_the_same_index(tmp_path, monkeypatch):
    """A worker numbers raw tokens for its life and sends each once; when its table is full
    it starts a new one. However the tables turn over, the index is the one a single
    process builds (terms, their surface words, postings: every byte)."""
    monkeypatch.setattr(writer_mod, "TIERED", False)  # flushes stay segments: counted
    corpus(tmp_path / "data", articles=300)
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)
    monkeypatch.setattr(analyze, "CHUNK_CHARS", 2000)
    built = {}
    for jobs, limit in ((1, 250_000), (2, 250_000), (2, 7), (1, 5)):
        monkeypatch.setattr(analyze, "VOCABULARY_LIMIT", limit)
        root = tmp_path / f"idx{jobs}-{limit}"
        writer_mod.IndexWriter(root, rebuild=True).update([tmp_path / "data"],
                                                          flush_tokens=700, jobs=jobs)
        built[jobs, limit] = index_files(root)
    first = built[1, 250_000]
    assert len([n for n in first if n.endswith("vocab.txt")]) > 3
    assert all(files == first for files in built.values())


def test_stored_text_in_any_script_comes_back_as_written(tmp_path, monkeypatch):
    """Paragraphs cross from the workers as UTF-8 bytes: ASCII chunks and chunks mixing
    scripts (accents, CJK, emoji) give every paragraph back exactly, across flushes."""
    texts = ["plain ascii words about grain", "café crème at the Zürich port",
             "東京 grain 港 shipments", "oil 🛢 prices rose", "cargo ships"]
    folder = tmp_path / "data"
    folder.mkdir()
    with open(folder / "feed.jsonl", "w", encoding="utf-8") as f:
        for i in range(200):
            paras = [f"{texts[(i + k) % len(texts)]} n{i}x{k}" for k in range(1 + i % 3)]
            f.write(json.dumps({"id": f"m{i}", "title": f"Story {i}",
                                "text": "\n\n".join(paras)}, ensure_ascii=i % 2 == 0) + "\n")
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)
    monkeypatch.setattr(analyze, "CHUNK_CHARS", 1500)
    root = tmp_path / "idx"
    writer_mod.IndexWriter(root, rebuild=True).update([folder], flush_tokens=300, jobs=2)
    idx = searchlib.Index.open(root)
    assert idx.check() == []
    for i in (0, 1, 7, 122, 199):
        for k in range(1 + i % 3):
            hits = idx.search(f'"n{i}x{k}"', k=5).hits
            assert [h.text for h in hits] == [f"{texts[(i + k) % len(texts)]} n{i}x{k}"]


def test_each_flush_holds_only_its_own_terms_and_words(tmp_path, monkeypatch):
    """Later flushes of an update reuse the earlier ones' term tables: a segment's
    vocabulary must still list only the terms its own paragraphs hold, each with a word
    written in the update (the shortest), and searches must find every story once."""
    monkeypatch.setattr(writer_mod, "TIERED", False)  # flushes stay segments: inspected
    monkeypatch.setattr(writer_mod, "MAX_SEGMENTS", 100)
    big_feed(tmp_path / "feed.jsonl", 300)
    root = tmp_path / "idx"
    writer_mod.IndexWriter(root, rebuild=True).update([tmp_path / "feed.jsonl"],
                                                      flush_tokens=3000, jobs=2)
    vocabularies = [p.read_text().split("\n") for p in sorted(root.rglob("vocab.txt"))]
    assert len(vocabularies) > 3
    owners = {}
    for seg, vocab in enumerate(vocabularies):
        for term in vocab:
            if term.startswith("uid"):
                owners.setdefault(term, []).append(seg)
    assert len(owners) == 300 and all(len(segs) == 1 for segs in owners.values())
    idx = searchlib.Index.open(root)
    assert idx.check() == []
    assert [idx.search(f"uid{i}", fuzzy=False).total for i in (0, 150, 299)] == [1, 1, 1]
    terms, surfaces = idx.snapshot.vocabulary
    assert dict(zip(terms, surfaces))["run"] == "run"  # of 'runs', 'RUN', 'running': shortest


def test_an_id_given_twice_in_a_run_is_warned_once_naming_it(tmp_path, monkeypatch):
    """Both copies are indexed (they may differ), and the run says which ids repeat: a user
    looking an article up by id must know that it is not unique."""
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)
    monkeypatch.setattr(analyze, "CHUNK_CHARS", 200)  # the copies fall in different chunks
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"id": f"s{i}", "text": f"story number {i} about grain"} for i in range(60)]
    rows.insert(40, {"id": "s3", "text": "a second story s3"})
    (data / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "b.jsonl").write_text(json.dumps({"id": "s7", "text": "again"}) + "\n")
    warnings = []
    idx = searchlib.Index.build([data], tmp_path / "idx", jobs=2, warn=warnings.append)
    assert warnings == ["2 articles reuse an id given earlier in this run: 's3' (a.jsonl), "
                        "'s7' (b.jsonl); each is indexed as an article of its own (ids "
                        "should be unique)"]
    assert idx.stats().articles == 62
    warnings.clear()
    searchlib.Index.build([data / "a.jsonl"], tmp_path / "one", jobs=1, warn=warnings.append)
    assert len(warnings) == 1 and warnings[0].startswith("1 article reuses an id")


def test_id_check_finds_exactly_the_repeats_over_many_batches():
    from searchlib.index.idcheck import IdCheck

    rng = random.Random(9)
    check, seen, repeats = IdCheck(), set(), 0
    for _ in range(300):
        batch = [f"id{rng.randrange(5000)}" for _ in range(rng.randint(0, 40))]
        for i in batch:
            repeats += i in seen
            seen.add(i)
        check.add(batch, ["f"] * len(batch))
    assert check.count == repeats > 0 and len(check.runs) <= 12
    assert IdCheck().warning() is None


def test_carrying_term_tables_or_not_builds_the_same_index(tmp_path, monkeypatch):
    """Past CARRY_LIMIT raw tokens a flush's builder starts afresh: the run's merged index is
    the same byte for byte whether the tables were carried over every time or never."""
    from searchlib.index import builder

    corpus(tmp_path / "data", articles=300)
    monkeypatch.setattr(writer_mod, "INLINE_BYTES", 0)
    monkeypatch.setattr(analyze, "CHUNK_CHARS", 3000)
    built = {}
    for limit in (0, 10**9):
        monkeypatch.setattr(builder, "CARRY_LIMIT", limit)
        root = tmp_path / f"idx{limit}"
        writer_mod.IndexWriter(root, rebuild=True).update([tmp_path / "data"], flush_tokens=700,
                                                          jobs=2)
        built[limit] = index_files(root)
    assert built[0] == built[10**9]
    assert searchlib.Index.open(tmp_path / "idx0").check() == []
