"""How much of a file Candour will read, and how deep it will look inside one.

Why limits at all (promise 5, nothing crashes): every number here bounds the memory or time one hostile
file can cost. The cleaner process adds its own operating-system limits on top (bot/cleaner.py); these
refuse early, with a plain reason, before a limit is hit.
"""

from __future__ import annotations

MAX_BYTES = 20 * 1024 * 1024
# 60 MP is more than phones save by default (12 to 50 MP) and an A4 page scanned at 600 dpi (35 MP), yet
# caps one decoded image near 240 MB.
MAX_PIXELS = 60_000_000
MAX_FRAMES = 1_000
MAX_TOTAL_PIXELS = 250_000_000
# Office and ODF packages: what the zip may unpack to, and how many parts it may have.
MAX_UNZIPPED = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 5_000
# A file inside a file inside a file: deeper than this is refused as too complex.
MAX_DEPTH = 3
# A PDF with more objects than this is refused before any is read.
MAX_PDF_OBJECTS = 100_000
MAX_XML_BYTES = 50 * 1024 * 1024
