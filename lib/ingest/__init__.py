"""Reading archives: WARC/ARC records, HTTP payloads, charsets, main text, language."""
