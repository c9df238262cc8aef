"""BM25 ranking, in the order a query goes through it:

- `scoring`: the BM25 formula as pure functions, and the `CollectionStats` it reads;
- `compiler`: a query tree → a tree of weights (analysis, expansion, idf, the query budget);
- `weights`: the weights, and `SegmentScorer`, which scores and explains them on a segment;
- `postings`: sorted postings merged, intersected and matched as phrases with numpy;
- `collectors`: what is kept of each segment (top k, best per article, counts) and merged;
- `searcher`: `Searcher.execute(query, options) -> Execution`, with the fuzzy fallback.
"""

from .collectors import BestPerArticle, Count, HitAddress, Matches, ScoredHit, TopK
from .compiler import FEW, Compiler, CompileState
from .scoring import BM25, CollectionStats, idf, leaf_score, tf_weight
from .searcher import Execution, Searcher, SearchOptions, run
from .weights import BoolWeight, ExplainPart, PhraseWeight, SegmentScorer, TermWeight, Weight

__all__ = ["BM25", "FEW", "BestPerArticle", "BoolWeight", "CollectionStats", "CompileState",
           "Compiler", "Count", "Execution", "ExplainPart", "HitAddress", "Matches",
           "PhraseWeight", "ScoredHit", "SearchOptions", "Searcher", "SegmentScorer", "TermWeight",
           "TopK", "Weight", "idf", "leaf_score", "run", "tf_weight"]
