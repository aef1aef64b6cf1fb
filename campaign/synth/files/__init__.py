"""District files of the synthetic campaign, written in the layouts districts really send.

    layouts.py      the layouts (title rows, header styles, clerks' headings) and the columns a file shows
    cells.py        canonical values -> the cells of one layout (dates as text or serials, IDs as numbers)
    structure.py    rows among the data both writers add (blank rows, a repeated header, totals)
    xlsx_writer.py  workbooks: title and footer rows, one- or two-row (merged) headers
    csv_writer.py   CSV in UTF-8 (with or without BOM) or Windows-1258, written in chunks
    frames.py       a kind's canonical rows for one district file
    emit.py         one file: render, damage, write, and record it in the manifest
"""
