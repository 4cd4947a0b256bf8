"""A report read back as a reader's browser would: its sections' text and tables, the ids of
its elements, and what it would load from elsewhere. Built on Python's own HTML parser, so the
tests check the document the browser gets, not the strings the code put together."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Section:
    """A ``<section>``'s text (tags removed, entities decoded) and its tables' rows."""

    id: str
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)


class ReportPage(HTMLParser):
    """Parse a report; read :attr:`sections`, :attr:`ids` and :attr:`external` after."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, Section] = {}
        self.ids: list[str] = []
        self.external: list[str] = []  # src or href of anything the page would fetch
        self._section: Section | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_script = False
        self.feed(source)
        self.close()

    @classmethod
    def read(cls, path: Path) -> ReportPage:
        return cls(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._separate()
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(str(attributes["id"]))
        for link in ("src", "href"):
            value = attributes.get(link)
            if value and not value.startswith("#"):
                self.external.append(value)
        if tag == "section":
            self._section = Section(str(attributes.get("id")))
            self.sections[self._section.id] = self._section
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "script":
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._separate()
        if tag == "section":
            self._section = None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._section is not None:
            self._section.rows.append(self._row)
            self._row = None
        elif tag == "script":
            self._in_script = False

    def _separate(self) -> None:
        """A space where an element starts or ends, as a browser lays out cells and lines
        apart (runs of spaces are folded in :meth:`text`)."""
        if self._section is not None:
            self._section.text += " "

    def handle_data(self, data: str) -> None:
        if self._in_script:  # code, not text a reader sees
            return
        if self._section is not None:
            self._section.text += data
        if self._cell is not None:
            self._cell.append(data)

    def text(self, section_id: str) -> str:
        """A section's text with runs of white space made one space."""
        return " ".join(self.sections[section_id].text.split())

    def table(self, section_id: str) -> list[list[str]]:
        """The rows (heading row first) of the tables in a section."""
        return self.sections[section_id].rows
