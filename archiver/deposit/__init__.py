"""`archiver deposit`: the collection's live links submitted to Save Page Now 2, a second copy
at the Internet Archive: the API (spn2), the run and deposits.jsonl (run), what it prints
(text)."""
