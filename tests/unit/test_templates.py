"""Unit tests for shared.templates: named variables only, checked at construction."""

from __future__ import annotations

import pytest

from shared.errors import TemplateError
from shared.templates import VARIABLES, Template


def test_unknown_variable_fails_at_construction_naming_origin_and_variable() -> None:
    with pytest.raises(TemplateError) as excinfo:
        Template("Hi {client_frist_name}", origin="bookingConfirmation.client.body")
    message = str(excinfo.value)
    assert "bookingConfirmation.client.body" in message
    assert "client_frist_name" in message


def test_default_origin_is_named_when_none_is_given() -> None:
    with pytest.raises(TemplateError, match="<template>.*nope"):
        Template("{nope}")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{start:%Y}", id="format-spec"),
        pytest.param("{start:>20}", id="format-spec-padding"),
        pytest.param("{start:{end}}", id="nested-format-spec"),
        pytest.param("{start!r}", id="conversion-r"),
        pytest.param("{start!s}", id="conversion-s"),
        pytest.param("{start.year}", id="attribute"),
        pytest.param("{start.__class__}", id="dunder-attribute"),
        pytest.param("{pet_names[0]}", id="index"),
        pytest.param("{pets[0]}", id="index-unknown-name"),
        pytest.param("{}", id="positional-auto"),
        pytest.param("{0}", id="positional-index"),
        pytest.param("Hi {client_first_name", id="unclosed-brace"),
        pytest.param("Hi client_first_name}", id="stray-closing-brace"),
        pytest.param("{", id="lone-open"),
        pytest.param("}", id="lone-close"),
        pytest.param("{ client_first_name }", id="spaces-in-name"),
    ],
)
def test_disallowed_syntax_is_refused(text: str) -> None:
    with pytest.raises(TemplateError, match="t.body"):
        Template(text, origin="t.body")


def test_literal_braces_are_allowed_and_rendered_single() -> None:
    template = Template("{{literal}} Hi {client_first_name} {{ }}", origin="t")
    assert template.names == frozenset({"client_first_name"})
    assert template.render({"client_first_name": "Ana"}) == "{literal} Hi Ana { }"


def test_template_without_variables_renders_as_is() -> None:
    template = Template("We got your booking request")
    assert template.names == frozenset()
    assert template.render({}) == "We got your booking request"


def test_every_known_variable_is_accepted() -> None:
    text = " ".join(f"{{{name}}}" for name in sorted(VARIABLES))
    template = Template(text)
    assert template.names == VARIABLES
    rendered = template.render({name: name.upper() for name in VARIABLES})
    assert rendered == " ".join(name.upper() for name in sorted(VARIABLES))


def test_render_substitutes_values_and_ignores_extra_ones() -> None:
    template = Template("Hi {client_first_name}, see you {start} ({client_first_name})")
    rendered = template.render({"client_first_name": "Ana", "start": "Mon Mar 9, 2:00 AM PDT", "end": "x"})
    assert rendered == "Hi Ana, see you Mon Mar 9, 2:00 AM PDT (Ana)"


def test_render_converts_values_to_str() -> None:
    assert Template("#{booking_id}").render({"booking_id": 42}) == "#42"  # type: ignore[dict-item]


def test_render_with_a_missing_value_raises_naming_origin_and_variables() -> None:
    template = Template("{client_first_name} {pet_names} {start}", origin="x.subject")
    with pytest.raises(TemplateError) as excinfo:
        template.render({"client_first_name": "Ana"})
    message = str(excinfo.value)
    assert "x.subject" in message
    assert "pet_names" in message and "start" in message
    assert "client_first_name" not in message


def test_rendered_values_are_not_formatted_again() -> None:
    template = Template("Hi {client_name}, pets: {pet_names}")
    rendered = template.render(
        {"client_name": "{client_first_name} {0} {start.__class__}", "pet_names": "{{Rex}} {pets[0]}"}
    )
    assert rendered == "Hi {client_first_name} {0} {start.__class__}, pets: {{Rex}} {pets[0]}"


def test_value_objects_are_not_reached_into() -> None:
    """Only str(value) is used, so an object's attributes cannot leak through the template."""

    class Secretive:
        secret = "s3cr3t"

        def __str__(self) -> str:
            return "public"

    rendered = Template("{client_name}").render({"client_name": Secretive()})  # type: ignore[dict-item]
    assert rendered == "public"
