"""`archiver recover`: links lost at their origin, looked up in web archives, and what the
archives hold stored in the collection with its provenance.

    due.py       which links to ask about, and the date of the documents that cite them
    command.py   the look-up (a Protocol), the raw fetch through archiver.fetch, the lines
    text.py      what the command prints: one line per link (-v), the summary, --json
"""
