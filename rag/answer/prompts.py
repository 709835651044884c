"""Prompt templates kept as text files in <repo root>/prompts.

A template is plain text with `{name}` placeholders (Python format syntax; write `{{` and
`}}` for literal braces). Rendering is strict: a missing variable and a variable the
template does not use both raise PromptError, so a renamed placeholder cannot slip through.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from rag.config import ROOT
from rag.errors import PromptError

PROMPTS_DIR = ROOT / "prompts"
SUFFIX = ".txt"


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    variables: frozenset[str]

    def render(self, **values: object) -> str:
        missing = sorted(self.variables - values.keys())
        if missing:
            raise PromptError(
                f"prompt {self.name!r} needs variable(s) {', '.join(missing)}"
                f" (given: {', '.join(sorted(values)) or 'none'})"
            )
        unused = sorted(values.keys() - self.variables)
        if unused:
            raise PromptError(
                f"prompt {self.name!r} does not use variable(s) {', '.join(unused)}"
                f" (its variables: {', '.join(sorted(self.variables)) or 'none'})"
            )
        return self.text.format_map({k: str(v) for k, v in values.items()})


def parse_variables(text: str, name: str = "<string>") -> frozenset[str]:
    """The placeholder names of a template; PromptError for malformed or positional ones."""
    names: set[str] = set()
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as e:
        raise PromptError(f"prompt {name!r}: {e} (write {{{{ and }}}} for literal braces)") from None
    for _literal, field, _spec, _conv in fields:
        if field is None:
            continue
        if not field.isidentifier():
            raise PromptError(
                f"prompt {name!r}: placeholder {{{field}}} must be a plain name"
                " (write {{ and }} for literal braces)"
            )
        names.add(field)
    return frozenset(names)


def _template_path(name: str, prompts_dir: str | Path | None) -> Path:
    folder = Path(prompts_dir) if prompts_dir is not None else PROMPTS_DIR
    file = name if name.endswith(SUFFIX) else name + SUFFIX
    return folder / file


def load_template(name: str, prompts_dir: str | Path | None = None) -> Template:
    """Read `<prompts_dir>/<name>.txt` (prompts_dir defaults to <repo root>/prompts)."""
    path = _template_path(name, prompts_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"prompt template not found: {path}") from None
    except UnicodeDecodeError:
        raise PromptError(f"prompt template is not UTF-8: {path}") from None
    text = text.removesuffix("\n")  # files end with a newline; prompts should not
    stem = Path(path).stem
    return Template(stem, text, parse_variables(text, stem))


def render(name: str, /, *, prompts_dir: str | Path | None = None, **values: object) -> str:
    """Load the template `name` and fill it; PromptError on a missing or unused variable."""
    return load_template(name, prompts_dir).render(**values)
