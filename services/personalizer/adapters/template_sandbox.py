"""A CSM's own Jinja2 text, rendered so that no template can hurt the service.

Jinja2's immutable sandbox keeps a template away from Python's internals, but not from cost: a
25-character template can spin in C for hours (`{{ 5|round(-(10**12)) }}`), and a few nested
loops hold a core for seconds. So each field is rendered in a worker process of a pebble pool:
the event loop only awaits, a render that runs past its time is killed with its worker (pebble
starts a new one), and the worker's address space is capped. Inside the worker the sandbox is
tightened further: bounded ranges, a budget of loop steps, bounded repetition and powers, no
include or import, and output that may only show text and numbers.

Errors come back as plain sentences about the template, never Python's names for them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import re
import resource
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pebble
from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import (
    SecurityError,
    TemplateError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.filters import do_round
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.common.errors import Violations


@dataclass(frozen=True)
class SandboxLimits:
    """What rendering one field of a CSM's template may cost."""

    timeout_seconds: float = 2.0
    max_output_bytes: int = 200 * 1024
    # Address space a worker may add to what it holds after start (RLIMIT_AS).
    memory_bytes: int = 128 * 1024 * 1024
    # Longest range() a template may make, and loop steps in one render, all loops together.
    max_range: int = 1_000
    max_loop_steps: int = 10_000
    # Largest integer a template may make by `*` or `**`, in bits.
    max_integer_bits: int = 4_096


class TemplateLimitError(Exception):
    """A template asked for more than its limits allow; the text is for the CSM."""


class _Budget:
    """Loop steps left in the current render; a worker renders one field at a time."""

    def __init__(self, steps: int) -> None:
        self.left = steps
        self.total = steps

    def take(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.left -= 1
            if self.left < 0:
                raise TemplateLimitError(f"loops more than {self.total:,} times in all")
            yield item


class CsmTemplateEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with bounds on cost as well as on reach."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, limits: SandboxLimits) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            # No constant folding: every expression is evaluated at render time, under the
            # interceptors below, never while compiling.
            optimized=False,
            finalize=_shown,
        )
        self.limits = limits
        self.budget = _Budget(limits.max_loop_steps)
        # lipsum writes unbounded text and is of no use in an invitation.
        self.globals = {
            "range": self._range,
            "dict": dict,
            "cycler": self.globals["cycler"],
            "joiner": self.globals["joiner"],
            "namespace": self.globals["namespace"],
        }
        self.filters["round"] = _bounded_round
        self.filters["_loop_steps"] = self.budget_steps

    def budget_steps(self, items: Iterable[Any]) -> Iterator[Any]:
        return self.budget.take(items)

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > self.limits.max_range:
            raise TemplateLimitError(f"makes a range longer than {self.limits.max_range:,}")
        return numbers

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every loop draws its steps from the render's budget; a template stands alone."""
        tree = super()._parse(source, name, filename)
        for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            raise TemplateSyntaxError(
                "cannot include, import or extend other templates", node.lineno, name, filename
            )
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                raise TemplateSyntaxError("recursive loops are not supported", loop.lineno)
            loop.iter = nodes.Filter(
                loop.iter, "_loop_steps", [], [], None, None, lineno=loop.lineno
            )
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse repetition and arithmetic whose result alone would exceed the limits."""
        too_much = _too_large(operator, left, right, self.limits)
        if too_much:
            raise TemplateLimitError(too_much)
        return super().call_binop(context, operator, left, right)


def _too_large(operator: str, left: Any, right: Any, limits: SandboxLimits) -> str | None:
    """Why `left operator right` would be too large to make, judged before making it."""
    bits, longest = limits.max_integer_bits, limits.max_output_bytes
    if _is_int(left) and _is_int(right):
        if operator == "**" and right > 0 and abs(left) > 1:
            size = abs(left).bit_length() * right
        elif operator == "*":
            size = abs(left).bit_length() + abs(right).bit_length()
        else:
            size = 0
        return "makes a number too large" if size > bits else None
    if operator == "*" and (_is_int(left) or _is_int(right)):
        times, sequence = (left, right) if _is_int(left) else (right, left)
        if hasattr(sequence, "__len__") and len(sequence) * times > longest:
            return f"repeats text beyond {longest:,} characters"
    sized = hasattr(left, "__len__") and hasattr(right, "__len__")
    if operator == "+" and sized and len(left) + len(right) > longest:
        return f"builds text beyond {longest:,} characters"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bounded_round(value: Any, precision: int = 0, method: str = "common") -> float:
    """round, with a precision a number can have: Python spends forever on round(5, -10**12)."""
    if not _is_int(precision) or abs(precision) > 100:
        raise TemplateLimitError("round takes a whole number from -100 to 100 as its precision")
    return do_round(value, precision, method)  # type: ignore[arg-type]


_SHOWABLE = (str, int, float, bool, type(None))


def _showable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _SHOWABLE):
        return True
    if depth < 4 and isinstance(value, list | tuple):
        return all(_showable(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return all(_showable(k, depth + 1) and _showable(v, depth + 1) for k, v in value.items())
    return False


_NOT_TEXT = "shows something that is not text or a number; use a filter such as join"
# What Python writes for an object that is not data, reached through `~` or `|string`.
_OBJECT_TEXT = re.compile(
    r"<(?:class|function|built-in|bound method|method|generator|module|TemplateReference|Macro"
    r"|LoopContext|Undefined|jinja2\.)\b|\bobject at 0x[0-9a-fA-F]+"
)


def _shown(value: Any) -> Any:
    """Only text, numbers and the draft's own data may be shown: never an object's repr."""
    if isinstance(value, Undefined):
        return value  # StrictUndefined raises when it is written out: the clearer error
    if not _showable(value):
        raise TemplateLimitError(_NOT_TEXT)
    return value


# --- inside a worker ----------------------------------------------------------------------

_environment: CsmTemplateEnvironment | None = None


def start_worker(limits: SandboxLimits) -> None:
    """Pebble's initializer: cap the address space, then build the one environment."""
    global _environment
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    held = pages * resource.getpagesize()
    soft = held + limits.memory_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    _environment = CsmTemplateEnvironment(limits)


def render_field(source: str, context: dict[str, Any]) -> tuple[bool, str]:
    """In a worker: (True, text) or (False, why the template cannot be rendered)."""
    env = _environment
    if env is None:
        raise RuntimeError("the sandbox worker was not started with start_worker")
    return render_with(env, source, context)


def render_with(
    env: CsmTemplateEnvironment, source: str, context: dict[str, Any]
) -> tuple[bool, str]:
    """Render one field in `env`; failures as a plain sentence."""
    env.budget = _Budget(env.limits.max_loop_steps)
    limit = env.limits.max_output_bytes
    try:
        template = env.from_string(source)
        size = 0
        chunks: list[str] = []
        for chunk in template.generate(context):
            size += len(chunk.encode("utf-8", "surrogatepass"))
            if size > limit:
                return False, f"rendered more than {_size(limit)}"
            chunks.append(chunk)
        text = "".join(chunks)
        if _OBJECT_TEXT.search(text):
            return False, _NOT_TEXT
        return True, text
    except MemoryError:
        return False, "needs more memory than a template may use"
    except RecursionError:
        return False, "calls itself too deeply" + _line(sys.exc_info()[2])
    except Exception as exc:  # every failure becomes a sentence; none may escape as-is
        return False, describe(exc)


def _size(n: int) -> str:
    return f"{n // 1024:,} KiB" if n % 1024 == 0 else f"{n:,} bytes"


def _line(tb: TracebackType | None) -> str:
    """ " on line N" of the template where the render failed, when Jinja2 tells."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""


_UNDEFINED_NAME = re.compile(r"^'([^']{1,80})' is undefined$")
_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']{1,80})'$")


def describe(exc: BaseException) -> str:
    """A sentence a CSM can act on, with no exception class, traceback or path in it."""
    where = _line(exc.__traceback__)
    if isinstance(exc, TemplateSyntaxError):
        at = f" (line {exc.lineno})" if exc.lineno else ""
        return f"is not a valid template{at}: {_plain_message(exc.message or '')}"
    if isinstance(exc, TemplateLimitError):
        return f"{exc}{where}"
    if isinstance(exc, SecurityError):
        return f"reaches something templates may not use{where}"
    if isinstance(exc, UndefinedError):
        message = exc.message or ""
        if m := _UNDEFINED_NAME.match(message):
            return f"uses {m.group(1)!r}, which is not a variable of this draft{where}"
        if m := _MISSING_ATTRIBUTE.search(message):
            return f"uses .{m.group(1)}, which that value does not have{where}"
        return f"uses something this draft does not have{where}"
    if isinstance(exc, ZeroDivisionError):
        return f"divides by zero{where}"
    if isinstance(exc, OverflowError):
        return f"makes a number too large{where}"
    if isinstance(exc, TemplateError | TypeError | ValueError | AssertionError | LookupError):
        return f"gives a filter or an operation a value it cannot use{where}"
    return f"cannot be rendered{where}"


def _plain_message(message: str) -> str:
    """Jinja2's syntax messages are about the template; keep them short and on one line."""
    return " ".join(message.split())[:200]


# --- in the service -----------------------------------------------------------------------


class TemplateSandbox:
    """Renders a CSM's template fields in a pool of worker processes that can be stopped."""

    def __init__(self, limits: SandboxLimits, workers: int = 2) -> None:
        self.limits = limits
        # Not fork: the service process runs gRPC's and asyncio's threads. The fork server is
        # a clean process that has imported this module once, so a worker killed for its time
        # is replaced in milliseconds rather than the seconds a fresh interpreter takes.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        self._pool = pebble.ProcessPool(
            max_workers=workers,
            initializer=start_worker,
            initargs=(limits,),
            context=context,
        )

    async def start(self) -> None:
        """Bring the workers up now, so that the first CSM does not wait for them."""
        await self.render({"warm-up": ""}, {})

    async def render(self, fields: dict[str, str], context: dict[str, Any]) -> dict[str, str]:
        """Each field rendered, or InvalidArgument naming every field that cannot be.

        One field at a time, so a hostile request holds one worker, never the whole pool."""
        v = Violations()
        rendered: dict[str, str] = {}
        for field, source in fields.items():
            ok, result = await self._render_one(source, context)
            if ok:
                rendered[field] = result
            else:
                v.add(field, result)
        v.raise_if_any()
        return rendered

    async def _render_one(self, source: str, context: dict[str, Any]) -> tuple[bool, str]:
        future = self._pool.schedule(
            render_field, args=(source, context), timeout=self.limits.timeout_seconds
        )
        try:
            # A cancelled call (client gone, deadline) cancels the task: pebble kills its worker.
            outcome: tuple[bool, str] = await asyncio.wrap_future(future)
            return outcome
        except concurrent.futures.TimeoutError:
            return False, f"took longer than {_seconds(self.limits.timeout_seconds)} to render"
        except pebble.ProcessExpired:
            # The worker died (its memory cap can end it outside Python's reach).
            return False, "needs more memory than a template may use"

    async def close(self) -> None:
        """Stop the workers; a render still running is abandoned."""
        self._pool.stop()  # type: ignore[no-untyped-call]
        await asyncio.to_thread(self._pool.join, 5.0)


def _seconds(value: float) -> str:
    return f"{value:g} s"
