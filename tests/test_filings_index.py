# ruff: noqa: E501  (the index page is quoted as EDGAR writes it, long lines included)
"""The filing index page (EDGAR's "Document Format Files" table): the primary document, inline
XBRL links, and press releases that can be read as text."""

from __future__ import annotations

from watchers.filings.parse import parse_index

FOLDER = "https://www.sec.gov/Archives/edgar/data/1507605/000149315224046451"
INDEX = """<html><body><div id="formDiv">
<table class="tableFile" summary="Document Format Files">
<tr><th scope="col">Seq</th><th scope="col">Description</th><th scope="col">Document</th>
<th scope="col">Type</th><th scope="col">Size</th></tr>
<tr><td scope="row">1</td><td scope="row">8-K</td>
<td scope="row"><a href="/ix?doc=/Archives/edgar/data/1507605/000149315224046451/form8-k.htm">form8-k.htm</a></td>
<td scope="row">8-K</td><td scope="row">52312</td></tr>
<tr><td scope="row">2</td><td scope="row">PRESS RELEASE</td>
<td scope="row"><a href="/Archives/edgar/data/1507605/000149315224046451/ex99-1.pdf">ex99-1.pdf</a></td>
<td scope="row">EX-99.1</td><td scope="row">90000</td></tr>
<tr><td scope="row">3</td><td scope="row">PRESS RELEASE</td>
<td scope="row"><a href="/Archives/edgar/data/1507605/000149315224046451/ex99-2.htm">ex99-2.htm</a></td>
<td scope="row">EX-99.2</td><td scope="row">21000</td></tr>
<tr><td scope="row"></td><td scope="row">Complete submission text file</td>
<td scope="row"><a href="/Archives/edgar/data/1507605/000149315224046451/0001493152-24-046451.txt">0001493152-24-046451.txt</a></td>
<td scope="row">&nbsp;</td><td scope="row">400000</td></tr>
</table></div></body></html>"""


def test_index_gives_primary_and_readable_press_releases():
    primary, exhibits = parse_index(INDEX, FOLDER)
    assert primary == f"{FOLDER}/form8-k.htm"  # the inline XBRL viewer link is unwrapped
    assert exhibits == [f"{FOLDER}/ex99-2.htm"]  # the PDF release is not read as text
