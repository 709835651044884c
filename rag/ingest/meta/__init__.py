from rag.ingest.meta.legacy import *  # noqa  (temporary)
from rag.ingest.meta.legacy import extract_meta  # noqa
