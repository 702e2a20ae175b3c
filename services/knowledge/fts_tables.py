"""The names of the search index's tables, which carry its build's version (hotline/builds.py):
`kb_search` (the rows results are filtered and shown by), the FTS5 table `kb_fts` of their
words, and `kb_vocab` over it. Here, not in fts.py, because fts_plan.py reads them too."""

VERSION = 3  # bump it when the index's tables or words change: a new build, made from zero
SEARCH = f"kb_search_v{VERSION}"
FTS = f"kb_fts_v{VERSION}"
VOCAB = f"kb_vocab_v{VERSION}"
