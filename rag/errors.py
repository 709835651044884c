"""Every error a user can act on, in one hierarchy.

`RagError` is the base: `str(e)` is one line that says what went wrong and what to do,
`exit_code` is what the CLI exits with, `expected` says whether it is a normal condition
(bad input, a missing index: no traceback in server logs) or a fault worth a traceback, and
`public` is the sentence (Chinese) a citizen using the web app or the API sees, without
commands or file paths meant for maintainers. The CLI prints `str(e)`, the app and the API show
`public_message(e)`; nothing else keeps its own list of errors.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

EXIT_ERROR, EXIT_USAGE = 1, 2  # usage: argparse's own status for malformed command lines


class RagError(Exception):
    """Base of the project's errors (see the module docstring)."""

    exit_code = EXIT_ERROR
    expected = True
    public = "处理这个请求时出错了,请稍后再试;如果问题持续出现,请联系管理员。"

    def __init__(self, message: str = "") -> None:
        super().__init__(" ".join(str(message).split()))


# -- bad input: the caller can fix it
class UsageError(RagError):
    """Bad input (a question, a filter, a setting, an unsafe launch)."""


class ConfigError(UsageError, ValueError):
    public = "系统配置有误,请联系管理员。"


class QuestionError(UsageError, ValueError):
    """The question cannot be searched (empty, only punctuation…); the message says why."""

    public = "请输入要查询的问题:问题不能为空,也不能只有标点符号。"


class FilterError(UsageError, ValueError):
    """A region or document filter that matches nothing; the message names the choices."""

    public = "没有符合筛选条件的文件,请重新选择地区或文件。"


class InputError(UsageError, ValueError):
    """A request parameter that is malformed or out of range (k, a page size…)."""

    public = "请求的参数有误,请检查后重试。"


class CLIError(RagError):
    """A command-line request that cannot be carried out (bad path, unknown document…)."""


class UnsafeLaunch(UsageError):
    """The configuration would expose the app in a way it must not; the message says how to fix it."""


# -- documents
class LoadError(RagError):
    """A file that cannot be turned into text. `str(e)` is one line: "<path>: <reason>"."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None):
        self.reason = " ".join(str(reason).split()) or "unreadable"
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class IngestError(RagError):
    """A file that cannot become a document; the message names the file and the reason."""


# -- models
class ModelError(RagError):
    """A model or model service cannot be used."""

    expected = False
    public = "模型暂时不可用,请稍后再试;如果问题持续出现,请联系管理员。"


class ModelUnavailable(ModelError):
    """A named model can be neither found locally nor downloaded."""


class DeviceError(ModelError, ValueError):
    """The requested device is malformed or not present."""


class EmbeddingError(ModelError):
    public = "检索模型无法使用,请联系管理员检查配置。"


class RerankError(ModelError):
    pass


class LLMError(ModelError):
    """A generation backend cannot be built or a request failed."""

    public = "大模型暂时不可用,请稍后再试。"


class PromptError(ModelError, ValueError):
    """A prompt template is missing or malformed."""


# -- the index
class IndexProblem(RagError):
    """The index cannot be used as it is; the message says what to run."""

    public = "文件库暂时无法使用,请稍后再试;如果问题持续出现,请联系管理员。"


class IndexMissing(IndexProblem):
    public = "文件库还没有建立,暂时无法回答问题。请联系管理员。"


class IndexMismatch(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class IndexUnavailable(IndexProblem):
    """The search server (Milvus) cannot be reached or refused the request; names the URI."""

    expected = False


class BuildError(RagError):
    """A build, add or remove that cannot be carried out; the previous index still serves."""


def public_message(error: BaseException) -> str:
    """What a citizen sees for `error`: the class's sentence, never a traceback or a command."""
    if isinstance(error, RagError):
        return type(error).public
    return RagError.public


def is_expected(error: BaseException) -> bool:
    """A normal condition (bad input, missing index) rather than a fault worth a traceback."""
    return isinstance(error, RagError) and type(error).expected


def guarded(command: Callable[[], int]) -> int:
    """Run a command-line command: a `RagError` becomes one line on stderr and its exit code,
    anything else one line naming the exception type; RAG_DEBUG=1 re-raises for a traceback."""
    try:
        return command()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:
        if os.environ.get("RAG_DEBUG"):
            raise
        if isinstance(e, RagError):
            print(f"error: {e}", file=sys.stderr)
            return e.exit_code
        print(f"error: {type(e).__name__}: {e} (set RAG_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_ERROR
