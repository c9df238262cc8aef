"""A sharded index served by Ray answers exactly as one index built from the same files."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import searchlib
from searchlib.errors import CorruptIndex, InvalidArgument

from .conftest import REPO, need_datasets

ray = pytest.importorskip("ray")

from searchlib.cluster.writer import update_cluster  # noqa: E402

_VOCABULARY = ("market markets marker marked oil oils crude barrel prices price priced bank banks "
         "banking rate rates rated trade trader traders tariff tariffs wheat grain grains "
         "export exports exported import imports dollar dollars yen currency currencies "
         "stock stocks shares share profit profits loss losses quarter quarterly annual "
         "growth inflation interest lending loan loans debt debts bond bonds yield yields "
         "company companies merger acquisition acquire acquired offer offered tender "
         "minister ministry government official officials said says saying report reported "
         "communist communism communication committee commission sugar coffee cocoa copper "
         "gold silver steel shipping ship ships strike strikes union unions")
WORDS = _VOCABULARY.split()


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (shard actors ask for no CPU)."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _article(rng: random.Random) -> tuple[str, list[str]]:
    return _text(rng, rng.randint(2, 5)), [_text(rng, rng.randint(4, 30))
                                           for _ in range(rng.randint(1, 4))]


def _write_txt(path: Path, rng: random.Random) -> None:
    title, paras = _article(rng)
    path.write_text(title + "\n\n" + "\n\n".join(paras) + "\n", "utf-8")


def _corpus(root: Path, seed: int, files: int = 24, records: int = 2600) -> Path:
    """Text files in two folders and one record file of `records` articles (split over
    shards by record ranges)."""
    rng = random.Random(seed)
    for i in range(files):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        _write_txt(sub / f"s{seed}-{i}.txt", rng)
    with open(root / "dump.jsonl", "w", encoding="utf-8") as f:
        for i in range(records):
            title, paras = _article(rng)
            f.write(json.dumps({"id": f"r{i}", "title": title, "text": "\n\n".join(paras)}) + "\n")
    return root


def _queries(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        kind = rng.randrange(7)
        a, b = rng.choice(WORDS), rng.choice(WORDS)
        if kind == 0:
            out.append(f"{a} {b}")
        elif kind == 1:
            out.append(f'"{a} {b}"')
        elif kind == 2:
            out.append(a[: rng.randint(3, 5)] + "*")
        elif kind == 3:  # a typo: the fuzzy fallback
            i = rng.randrange(1, len(a))
            out.append(a[:i] + "q" + a[i + 1:])
        elif kind == 4:
            out.append(f"{a} AND {b} NOT {rng.choice(WORDS)}")
        elif kind == 5:
            out.append(f"title:{a} {b}~")
        else:
            out.append(f"{a} -{b} {rng.choice(WORDS)}")
    return out


def assert_same(single, sharded, query: str, k: int = 10, **kw) -> None:
    """Same total, same scores (1e-9), same hits: among equal scores the order may differ
    (the tie-break is per index layout), so hits are compared as sets per score."""
    a, b = single.search(query, k=k, **kw), sharded.search(query, k=k, **kw)
    assert a.total == b.total, query
    assert len(a.hits) == len(b.hits), query
    assert all(abs(x.score - y.score) <= 1e-9 for x, y in zip(a.hits, b.hits)), query
    assert a.did_you_mean == b.did_you_mean, query
    assert a.fuzzy == b.fuzzy, query
    if a.hits:
        last = a.hits[-1].score
        above = [{(h.article_id, h.paragraph, h.fuzzy, h.text) for h in r.hits
                  if h.score > last + 1e-9} for r in (a, b)]
        assert above[0] == above[1], query


@pytest.fixture(scope="module")
def pair(ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster")
    docs = _corpus(base / "docs", seed=1)
    single = searchlib.Index.build([docs], base / "single")
    update_cluster([docs], base / "sharded", shards=3, chunk=300)
    return docs, single, searchlib.Index.open(base / "sharded")


def test_open_dispatches_on_cluster_json(pair):
    _, single, sharded = pair
    assert type(sharded).__name__ == "ShardedIndex"
    assert sharded.shards == 3
    st, one = sharded.stats(top=5), single.stats(top=5)
    assert (st.articles, st.paragraphs, st.vocabulary) == (one.articles, one.paragraphs,
                                                           one.vocabulary)
    assert st.top_terms == one.top_terms
    assert sharded.check() == []


@pytest.mark.parametrize("shards", [2, 3, 4])
def test_random_queries_on_random_partitions_score_as_one_index(ray_session, tmp_path, shards):
    docs = _corpus(tmp_path / f"docs{shards}", seed=10 + shards, files=16, records=1500)
    single = searchlib.Index.build([docs], tmp_path / "single")
    update_cluster([docs], tmp_path / "sharded", shards=shards, chunk=200)
    sharded = searchlib.Index.open(tmp_path / "sharded")
    sizes = [len(list((tmp_path / "sharded" / s["path"] / "segments").iterdir()))
             for s in json.loads((tmp_path / "sharded" / "cluster.json").read_text())["shards"]]
    assert sum(1 for n in sizes if n) >= 2  # the files really are spread over shards
    for q in _queries(random.Random(shards), 25):
        assert_same(single, sharded, q)
        assert_same(single, sharded, q, articles=True, k=5)


def test_phrases_prefixes_fuzzy_and_articles(pair):
    _, single, sharded = pair
    for q in ['"crude oil"', "communis*", "bnking", "pricse rates", "tarif~", "marke~1",
              '"oil prices"~2', "title:wheat grain"]:
        assert_same(single, sharded, q)
        assert_same(single, sharded, q, articles=True)
    assert single.rank("oil prices", 20) == sharded.rank("oil prices", 20) or [
        s for *_, s in single.rank("oil prices", 20)] == pytest.approx(
        [s for *_, s in sharded.rank("oil prices", 20)], abs=1e-9)


def test_explain_and_article_of_agree_with_one_index(pair):
    _, single, sharded = pair
    for q in ['"crude oil" wheat', "banking"]:
        hit = sharded.search(q, k=1).hits[0]
        one = next(h for h in single.search(q, k=50).hits
                   if (h.article_id, h.paragraph) == (hit.article_id, hit.paragraph))
        e1, e2 = single.explain(q, one), sharded.explain(q, hit)
        assert e2.score == pytest.approx(hit.score, abs=1e-9)
        assert [(p.term, p.df, p.docs) for p in e1.parts] == [(p.term, p.df, p.docs)
                                                             for p in e2.parts]
        assert sharded.article_of(hit) == single.article_of(one)


def test_results_explain_each_hit_on_its_own_shard_with_the_search_weights(pair):
    """SearchResults.explain works on a sharded index as on one: the owning shard scores the
    hit with the weights that found it (typo fallback included), not a second search."""
    _, single, sharded = pair
    for q in ["oil prices wheat", "bnking rates"]:
        found = sharded.search(q, k=30)
        one = {(h.article_id, h.paragraph): h for h in single.search(q, k=200).hits}
        for hit in found.hits:
            ours, theirs = found.explain(hit), single.explain(q, one[hit.article_id,
                                                                   hit.paragraph])
            assert ours.score == pytest.approx(hit.score, abs=1e-9)
            assert [(p.term, p.df, p.docs, p.tf) for p in ours.parts] == [
                (p.term, p.df, p.docs, p.tf) for p in theirs.parts]
        assert len({h._ref[3] for h in found.hits}) >= 2, q  # hits from several shards


def test_phase_one_statistics_are_cached(pair):
    _, _, sharded = pair
    sharded.search("copper steel")
    hits, trips = sharded.cache.hits, sharded._pinned.view.round_trips
    sharded.search("steel copper")  # the same terms: no phase-1 round trip at all
    assert sharded.cache.hits > hits
    assert sharded._pinned.view.round_trips == trips
    sharded.search("steel gold")
    assert sharded._pinned.view.round_trips == trips + 1


def test_update_changes_adds_and_removes_files_on_several_shards(ray_session, tmp_path):
    docs = _corpus(tmp_path / "docs", seed=7, files=20, records=1200)
    single = searchlib.Index.build([docs], tmp_path / "single")
    update_cluster([docs], tmp_path / "sharded", shards=4, chunk=250)
    sharded = searchlib.Index.open(tmp_path / "sharded")
    before = [s["path"] for s in sharded._pinned.data["shards"]]
    rng = random.Random(99)
    files = sorted(docs.rglob("*.txt"))
    for p in files[:6]:
        _write_txt(p, rng)  # changed
    for p in files[6:10]:
        p.unlink()  # removed
    for i in range(6):
        _write_txt(docs / "a" / f"new-{i}.txt", rng)  # added
    single.update([docs])
    report = sharded.update([docs])
    assert report.files_removed == 4 and report.files_added == 6
    after = [s["path"] for s in sharded._pinned.data["shards"]]
    assert sum(a != b for a, b in zip(before, after)) >= 2
    for q in _queries(random.Random(5), 30):
        assert_same(single, sharded, q)
    # a change to one text file touches only the shard that owns it
    _write_txt(files[0], rng)
    sharded.update([docs])
    newer = [s["path"] for s in sharded._pinned.data["shards"]]
    assert sum(a != b for a, b in zip(after, newer)) == 1
    assert sorted(p.name for p in (tmp_path / "sharded").glob("shard-*")) == sorted(newer)


def test_killed_shard_actor_is_restarted_and_stays_exact(pair):
    _, single, sharded = pair
    assert_same(single, sharded, "oil prices")
    victim = sharded.pool.actor(1)
    ray.kill(victim, no_restart=False)
    assert_same(single, sharded, "oil prices")  # the restarted actor re-opens its shard
    assert_same(single, sharded, "wheat*")


def test_missing_or_damaged_shard_is_one_clear_error(ray_session, tmp_path):
    docs = _corpus(tmp_path / "docs", seed=3, files=12, records=10)
    for name in ("gone", "bad"):
        update_cluster([docs], tmp_path / name, shards=2)
    data = json.loads((tmp_path / "gone" / "cluster.json").read_text())
    shutil.rmtree(tmp_path / "gone" / data["shards"][1]["path"])
    with pytest.raises(CorruptIndex, match=data["shards"][1]["path"]):
        searchlib.Index.open(tmp_path / "gone")
    data = json.loads((tmp_path / "bad" / "cluster.json").read_text())
    seg = next((tmp_path / "bad" / data["shards"][0]["path"] / "segments").iterdir())
    target = next(p for p in sorted(seg.iterdir()) if p.stat().st_size > 16)
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(CorruptIndex, match=data["shards"][0]["path"]):
        searchlib.Index.open(tmp_path / "bad")


def _cli(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """The CLI in a subprocess joined to this session's Ray (no second local Ray)."""
    full = {**os.environ, "PYTHONPATH": str(REPO),
            "RAY_ADDRESS": ray.get_runtime_context().gcs_address, **env}
    return subprocess.run([sys.executable, "-m", "searchlib", *args], capture_output=True,
                          text=True, env=full, timeout=120)


def test_cli_builds_searches_and_names_a_missing_shard(ray_session, tmp_path):
    docs = _corpus(tmp_path / "docs", seed=4, files=10, records=5)
    out = _cli(["index", str(docs), "--index", str(tmp_path / "ix"), "--shards", "2"])
    assert out.returncode == 0, out.stderr
    assert "articles" in out.stdout
    single = searchlib.Index.build([docs], tmp_path / "single")
    best = single.search("oil", k=1).hits[0]
    out = _cli(["search", "oil", "--index", str(tmp_path / "ix"), "-k", "1", "--facets",
                "source"], SEARCHLIB_REPLICAS="2")
    assert out.returncode == 0, out.stderr
    assert f"[{best.article_id}]" in out.stdout and "source (articles)" in out.stdout
    out = _cli(["search", "oil", "--index", str(tmp_path / "ix")], SEARCHLIB_REPLICAS="0")
    assert out.returncode == 2 and "replicas must be between 1 and 64" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    data = json.loads((tmp_path / "ix" / "cluster.json").read_text())
    shutil.rmtree(tmp_path / "ix" / data["shards"][0]["path"])
    out = _cli(["search", "oil", "--index", str(tmp_path / "ix")])
    assert out.returncode == 2
    assert data["shards"][0]["path"] in out.stderr and "Traceback" not in out.stderr


def test_crash_before_cluster_commit_leaves_previous_commit_readable(ray_session, tmp_path):
    docs = _corpus(tmp_path / "docs", seed=5, files=12, records=1100)
    update_cluster([docs], tmp_path / "ix", shards=3)
    single = searchlib.Index.build([docs], tmp_path / "single")
    before = json.loads((tmp_path / "ix" / "cluster.json").read_text())
    rng = random.Random(1)
    for p in sorted(docs.rglob("*.txt"))[:8]:
        _write_txt(p, rng)
    out = _cli(["index", "--index", str(tmp_path / "ix")],
               SEARCHLIB_FAILPOINT="cluster-before-commit")
    assert out.returncode == -9, out.stderr  # killed after the shards committed
    assert json.loads((tmp_path / "ix" / "cluster.json").read_text()) == before
    sharded = searchlib.Index.open(tmp_path / "ix")
    for q in ["oil prices", '"crude oil"', "wheat*"]:
        assert_same(single, sharded, q)  # the previous commit, whole
    report = sharded.update([docs])  # the next writer commits and removes the orphans
    assert report.committed
    single.update([docs])
    assert_same(single, sharded, "oil prices")
    live = {s["path"] for s in json.loads((tmp_path / "ix" / "cluster.json").read_text())
            ["shards"]}
    assert {p.name for p in (tmp_path / "ix").glob("shard-*")} == live


def test_cranfield_queries_score_as_one_index(ray_session, tmp_path):
    from searchlib.evaluation.datasets import load_dataset

    ds = need_datasets() / "cranfield"
    single = searchlib.Index.build([ds / "corpus.jsonl"], tmp_path / "single")
    update_cluster([ds / "corpus.jsonl"], tmp_path / "sharded", shards=3, chunk=100)
    sharded = searchlib.Index.open(tmp_path / "sharded")
    for q in load_dataset(ds).queries.values():
        assert_same(single, sharded, q)


# -- dated archives: date sort, facets, recency, hits' metadata ------------------------------

TOPICS = ("crude", "grain", "trade", "money-fx", "earn", "acq")
PLACES = ("usa", "uk", "japan", "france", "saudi-arabia")


def _dated_corpus(root: Path, seed: int, records: int = 600) -> Path:
    """Reuters-like records: dates over a year with many same-day (and same-second)
    stories, some undated; sources, topics and places as keyword fields."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "wire.jsonl", "w", encoding="utf-8") as f:
        for i in range(records):
            title, paras = _article(rng)
            rec = {"id": f"d{i}", "title": title, "text": "\n\n".join(paras),
                   "source": rng.choice(["Reuters", "AP", "AFP"]),
                   "topics": rng.sample(TOPICS, rng.randint(0, 2)),
                   "places": rng.sample(PLACES, rng.randint(1, 2))}
            if rng.random() > 0.1:  # 10 % undated
                rec["date"] = (f"1987-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                               f"T{rng.choice([9, 12, 15]):02d}:00:00")
            f.write(json.dumps(rec) + "\n")
    return root


@pytest.fixture(scope="module", params=[2, 4])
def dated(request, ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"dated{request.param}")
    docs = _dated_corpus(base / "docs", seed=request.param)
    single = searchlib.Index.build([docs], base / "single")
    update_cluster([docs], base / "sharded", shards=request.param, chunk=60)
    return single, searchlib.Index.open(base / "sharded")


def _key(hit) -> tuple:
    return hit.article_id, hit.paragraph, hit.date, hit.source, json.dumps(hit.meta,
                                                                         sort_keys=True)


def _same_scores(a, b) -> bool:
    return len(a) == len(b) and all(abs(x.score - y.score) <= 1e-9 for x, y in zip(a, b))


DATED_QUERIES = ["oil prices", "wheat AND grain", '"crude oil"', "bnking", "market*",
                 "topics:crude", "places:japan", "trade -tariff"]


def test_date_sort_across_shards_is_one_index_order(dated):
    """--sort -date / date: the same dates in the same order, the same scores, the same
    articles (all of them when k covers every match) and totals."""
    single, sharded = dated
    for q in DATED_QUERIES:
        for order in ("-date", "date"):
            for k in (10, 1000):
                a, b = (ix.search(q, k=k, sort=order) for ix in (single, sharded))
                assert a.total == b.total and len(a.hits) == len(b.hits), (q, order)
                assert [h.date for h in a.hits] == [h.date for h in b.hits], (q, order, k)
                assert _same_scores(a.hits, b.hits), (q, order, k)
                if k == 1000:
                    assert sorted(map(_key, a.hits)) == sorted(map(_key, b.hits))
    newest = sharded.search("oil", k=5, sort="-date").hits
    assert newest[0].date is not None and newest[0].date >= newest[-1].date


def test_facets_across_shards_count_as_one_index(dated):
    single, sharded = dated
    fields = ["source", "topics", "places", "date:month"]
    for q in DATED_QUERIES:
        a, b = (ix.search(q, k=3, facets=fields) for ix in (single, sharded))
        assert b.facets == a.facets, q
        assert a.facets["topics"], q
    for q in ["oil author:x", "date:1987-03 wheat", "places:japan AND date:>1987-06"]:
        a, b = (ix.search(q, facets=["places"]) for ix in (single, sharded))
        assert (b.warnings, b.facets, b.total) == (a.warnings, a.facets, a.total), q
    # more values than the top 10 of any one shard: summed before the cut
    a, b = (ix.search("oil OR wheat OR bank", facets=["date:day"]) for ix in (single, sharded))
    assert len(a.facets["date:day"]) == 10 and b.facets == a.facets


def test_recency_across_shards_decays_from_the_cluster_newest_match(dated):
    single, sharded = dated
    for q in DATED_QUERIES:
        assert_same(single, sharded, q, recency="30d")
        assert_same(single, sharded, q, k=20, recency="7d", articles=True)
        assert_same(single, sharded, q, recency="90d", now="1987-06-30")


def test_hits_from_shards_carry_date_source_and_keyword_fields(dated):
    single, sharded = dated
    one = {(h.article_id, h.paragraph): h for h in single.search("oil wheat", k=10_000).hits}
    hits = sharded.search("oil wheat", k=10_000).hits
    assert len(hits) == len(one)  # every match, so no tie is cut differently
    assert any(h.date is None for h in hits) and any(h.meta.get("topics") for h in hits)
    for h in hits:
        assert _key(h) == _key(one[h.article_id, h.paragraph])
        assert abs(h.score - one[h.article_id, h.paragraph].score) <= 1e-9
    # from several shards (which shard holds a chunk of records hashes the temporary path,
    # so a shard may hold no match of this query)
    assert len({h._ref[3] for h in hits}) > 1


# -- replicas -----------------------------------------------------------------------------------


def test_replicas_serve_concurrent_searches_exactly(pair, monkeypatch):
    """Eight threads on a sharded index with two replicas per shard get the single index's
    exact answers; requests spread over both replicas; a replica that dies for good is
    skipped, one that is restarted serves again."""
    _, single, sharded = pair
    replicated = searchlib.Index.open(sharded.root, replicas=2)
    assert [len(g) for g in replicated.pool.groups] == [2] * sharded.shards
    work = [(q, kw) for q in _queries(random.Random(8), 10)
            for kw in ({}, {"articles": True}, {"sort": "-date"}, {"facets": ["topics"]})]

    def both(job):
        q, kw = job
        return single.search(q, **kw), replicated.search(q, **kw)

    def check(pairs):
        for (q, _), (a, b) in zip(work, pairs):
            assert a.total == b.total and a.facets == b.facets, q
            assert _same_scores(a.hits, b.hits), q

    with ThreadPoolExecutor(8) as pool:
        check(list(pool.map(both, work)))
    served = [[ray.get(a.load.remote())[1] for a in g] for g in replicated.pool.groups]
    assert all(n > 0 for g in served for n in g), served  # both replicas of every shard
    victim = replicated.pool.actor(1, 0)
    before = ray.get(victim.load.remote())[0]
    ray.kill(replicated.pool.actor(0, 1), no_restart=True)  # gone for good: skipped
    ray.kill(victim, no_restart=False)  # restarted by Ray
    with ThreadPoolExecutor(8) as pool:
        check(list(pool.map(both, work)))
    for _ in range(40):  # once its ping answers, the new incarnation takes its turn again
        replicated.search("oil")
        try:
            pid, served_now = ray.get(victim.load.remote())
        except ray.exceptions.RayActorError:
            continue
        if pid != before and served_now:
            break
    else:
        pytest.fail("the restarted replica never served again")
    monkeypatch.setenv("SEARCHLIB_REPLICAS", "3")
    assert searchlib.Index.open(sharded.root).replicas == 3
    monkeypatch.setenv("SEARCHLIB_REPLICAS", "many")
    with pytest.raises(InvalidArgument, match="SEARCHLIB_REPLICAS"):
        searchlib.Index.open(sharded.root)


def test_import_searchlib_does_not_import_ray():
    code = ("import sys, searchlib; searchlib.Index; import searchlib.cluster\n"
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "False"


def test_stats_of_shards_give_the_dates_and_fields_of_one_index(dated):
    single, sharded = dated
    one, many = single.stats(top=3), sharded.stats(top=3)
    assert one.dates is not None and many.dates == one.dates
    assert one.fields and many.fields == one.fields


def test_an_unreachable_ray_address_is_one_line_in_seconds(pair):
    """Ray itself retries a dead address for minutes, printing its logs; the CLI says so once."""
    root = str(pair[2].root)
    for args, env in ((["search", "oil", "--index", root, "--ray", "127.0.0.1:1"], {}),
                      (["stats", "--index", root], {"RAY_ADDRESS": "127.0.0.1:1"}),
                      (["check", "--index", root, "--ray", "no-such-host.invalid:6379"], {})):
        out = _cli(args, **env)
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot reach the Ray cluster at" in lines[0], out.stderr
    out = _cli(["search", "oil", "--index", root, "--ray", "nonsense"])
    assert out.returncode == 2 and "is not HOST:PORT" in out.stderr


def test_shard_reports_count_each_file_once_and_warn_once(ray_session, tmp_path):
    """Every shard reads every record file; the merged report must still count each file as
    the single index does, and a re-sync must not re-read (and re-warn about) a record file
    whose few records all live on other shards."""
    docs = _corpus(tmp_path / "docs", seed=11, files=6, records=5)  # 5 records: some shards none
    (docs / "wire.jsonl").write_text('{"id": "w1", "text": "grain"}\n{broken\n')
    (docs / "empty.jsonl").write_text("")
    one = searchlib.Index.build([docs], tmp_path / "single", warn=lambda m: None)
    first, again = [], []
    report = update_cluster([docs], tmp_path / "sharded", shards=4, chunk=1,
                            warn=first.append)
    single_report = one.update([docs])  # nothing changed: all unchanged
    counts = ("files_added", "files_changed", "files_removed", "files_skipped")
    assert [getattr(report, c) for c in counts] == [8, 0, 0, 1]  # 6 texts, 2 record files
    assert len([w for w in first if "wire.jsonl line 2" in w]) == 1
    _write_txt(docs / "b" / "s11-0.txt", random.Random(1))
    resync = update_cluster([docs], tmp_path / "sharded", warn=again.append)
    assert (resync.files_changed, resync.files_added, resync.files_skipped) == (1, 0, 1)
    assert resync.files_unchanged == single_report.files_unchanged - 1 == 7
    assert not [w for w in again if "wire.jsonl" in w]  # unchanged: not read again
