"""A CSM's own templates: what they may reach, what they may cost, and how failures read."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.errors import InvalidArgument
from services.personalizer.adapters.template_sandbox import (
    CsmTemplateEnvironment,
    SandboxLimits,
    TemplateSandbox,
    render_with,
)

CONTEXT: dict[str, Any] = {
    "recipient": {"first_name": "Sarah", "display_name": "Sarah Chen"},
    "talking_points": ["Build dashboards", "Schedule reports"],
    "registration_url": "https://train.example/r/abc",
}

# What an answer to a CSM must never show: Python's names for things, tracebacks, paths, reprs.
INTERNALS = re.compile(
    r"Error\b|Exception|Traceback|File \"|\.py\b|/usr/|/work/|site-packages|__\w+__|"
    r"object at 0x|<class|<function|jinja2|root:x:0:0",
)


DEFAULTS = SandboxLimits()


def render(source: str, limits: SandboxLimits = DEFAULTS) -> tuple[bool, str]:
    return render_with(CsmTemplateEnvironment(limits), source, CONTEXT)


def test_a_template_sees_the_drafts_variables() -> None:
    ok, text = render(
        "Hi {{ recipient.first_name }}\n{% for p in talking_points %}- {{ p }}\n{% endfor %}"
    )
    assert ok and text == "Hi Sarah\n- Build dashboards\n- Schedule reports\n"


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ 1/0 }}", "divides by zero"),
        ("{{ 'a'|round('x') }}", "round takes a whole number"),
        ("{{ 5|round(-(10**12)) }}", "round takes a whole number"),
        ("{{ [1]|batch(-1) }}", "not text or a number"),
        ("{{ 'ab'|truncate(-5) }}", "a value it cannot use"),
        ("{{ 'x'|wordwrap(0) }}", "a value it cannot use"),
        ("{{ '%d'|format('x') }}", "a value it cannot use"),
        ("{{ (1e308 * 10)|int }}", "number too large"),
        ("{{ 1e308 ** 2 }}", "number too large"),
        ("{{ 10 ** 100000 }}", "number too large"),
        ("{{ 'x' * 10**9 }}", "repeats text beyond"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself too deeply"),
        ("{{ nobody }}", "'nobody', which is not a variable"),
        ("{{ recipient.shoe_size }}", ".shoe_size, which that value does not have"),
        ("line one\n{{ 1/0 }}", "(line 2)"),
        ("{% for %}", "is not a valid template (line 1)"),
        ("{% for i in range(100000) %}{% endfor %}", "makes a range longer than 1,000"),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "loops more than 10,000 times",
        ),
        ("{{ 'x' * 150000 }}{{ 'y' * 150000 }}", "rendered more than 200 KiB"),
    ],
)
def test_a_failing_template_is_refused_in_plain_words(template: str, says: str) -> None:
    ok, description = render(template)
    assert not ok and says in description
    assert not INTERNALS.search(description), description


# Each either fails in plain words or renders as inert text: never a file, a repr or a secret.
INJECTIONS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self }}",
    "{{ self|string }}",
    "{{ cycler ~ '' }}",
    "{{ range|string }}",
    "{{ joiner }}",
    "{% include '/etc/passwd' %}",
    "{% import 'x' as y %}",
    "{% extends '/etc/passwd' %}",
    "{% from 'x' import y %}",
    "{{ lipsum.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ 'x'|attr('__class__') }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ recipient.items }}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{{ dict(a=1).__class__ }}",
    "{{ namespace.__init__ }}",
]


@pytest.mark.parametrize("template", INJECTIONS)
def test_template_injection_reaches_nothing(template: str) -> None:
    ok, result = render(template)
    assert not INTERNALS.search(result), result
    if ok:
        assert "<" not in result, result


def test_loops_draw_on_one_budget_for_the_whole_render() -> None:
    limits = SandboxLimits(max_loop_steps=100)
    nested = "{% for i in range(N) %}{% for j in range(10) %}{% endfor %}{% endfor %}"
    assert render(nested.replace("N", "10"), limits)[0] is False  # 10 + 100 steps
    assert render(nested.replace("N", "9"), limits)[0] is True  # 9 + 90 steps
    env = CsmTemplateEnvironment(limits)
    assert render_with(env, "{% for i in range(90) %}{% endfor %}", CONTEXT)[0]
    # A new render starts with a full budget.
    assert render_with(env, "{% for i in range(90) %}{% endfor %}", CONTEXT)[0]


def test_loop_variables_still_work_with_the_budget() -> None:
    ok, text = render(
        "{% for p in talking_points %}{{ loop.index }}/{{ loop.length }}"
        "{% if not loop.last %}, {% endif %}{% else %}none{% endfor %}"
    )
    assert ok and text == "1/2, 2/2"
    assert render("{% for p in [] %}x{% else %}none{% endfor %}") == (True, "none")


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[TemplateSandbox]:
    pool = TemplateSandbox(SandboxLimits(timeout_seconds=1.0), workers=1)
    await pool.start()
    yield pool
    await pool.close()


# Neither refused by a cheaper limit nor finished within a second, on any machine: each step
# wraps 200,000 characters into lines of three and keeps nothing.
SLOW = "{% for i in range(1000) %}{% set w = ('x y ' * 50000)|wordwrap(3) %}{% endfor %}done"


async def test_a_render_past_its_time_is_stopped_and_the_worker_replaced(
    sandbox: TemplateSandbox,
) -> None:
    with pytest.raises(InvalidArgument) as err:
        await sandbox.render({"subject_template": "Hi", "body_template": SLOW}, CONTEXT)
    [violation] = err.value.violations
    assert violation.field == "body_template"
    assert violation.description == "took longer than 1 s to render"
    # The one worker was killed; its replacement renders the next template.
    assert await sandbox.render({"body_template": "Hi {{ recipient.first_name }}"}, CONTEXT) == {
        "body_template": "Hi Sarah"
    }


async def test_a_render_that_needs_too_much_memory_fails_in_the_worker(
    sandbox: TemplateSandbox,
) -> None:
    with pytest.raises(InvalidArgument) as err:
        await sandbox.render({"body_template": "{{ 'x'|center(10**9) }}"}, CONTEXT)
    assert [(v.field, v.description) for v in err.value.violations] == [
        ("body_template", "needs more memory than a template may use")
    ]


async def test_every_failing_field_is_named(sandbox: TemplateSandbox) -> None:
    with pytest.raises(InvalidArgument) as err:
        await sandbox.render(
            {"subject_template": "{{ 1/0 }}", "body_template": "{{ nobody }}"}, CONTEXT
        )
    assert [v.field for v in err.value.violations] == ["subject_template", "body_template"]


async def test_a_cancelled_render_frees_its_worker() -> None:
    """A caller that goes away (deadline, disconnect) does not leave its template running."""
    patient = TemplateSandbox(SandboxLimits(timeout_seconds=600), workers=1)
    try:
        call = asyncio.create_task(patient.render({"body_template": SLOW}, CONTEXT))
        await asyncio.sleep(0.5)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # One worker, and the abandoned render would hold it for minutes: it was killed.
        rendered = await asyncio.wait_for(patient.render({"body_template": "ok"}, CONTEXT), 60)
        assert rendered == {"body_template": "ok"}
    finally:
        await patient.close()
