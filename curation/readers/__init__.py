"""Input side of curation: find a source's files, check them before work starts, read records."""

from curation.readers.discover import SourceUnit, list_units, preflight_source
from curation.readers.sources import SourcesReader

__all__ = ["SourceUnit", "SourcesReader", "list_units", "preflight_source"]
