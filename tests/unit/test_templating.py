"""Message templates: ``{{attribute}}`` filled from the profile's own attributes only."""

from __future__ import annotations

import re

import pytest

from segshare_core.domain.templating import render

ANN = {"first_name": "Ann", "country": "IE"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{first_name}}", "Hi Ann"),
        ("Hi {{ first_name }}", "Hi Ann"),
        ("Hi {{\tfirst_name\n}}", "Hi Ann"),
        ("{{first_name}} from {{country}}, {{ first_name }}!", "Ann from IE, Ann!"),
        ("no placeholders at all", "no placeholders at all"),
        ("", ""),
    ],
)
def test_placeholders_are_filled(template: str, expected: str) -> None:
    # Given a profile with a first name and a country
    # When a template naming them is rendered
    # Then each placeholder, with or without inner spaces, is replaced by the value
    assert render(template, ANN) == expected


@pytest.mark.parametrize("attributes", [{}, {"country": "IE"}, {"first_name": None}, {"First_Name": "Ann"}])
def test_missing_or_null_attribute_renders_empty(attributes: dict[str, object]) -> None:
    # Given a profile without a (non-null) first_name; names are case-sensitive
    # When "Hi {{first_name}}!" is rendered
    # Then the placeholder is blank, as the seed's Project B example says
    assert render("Hi {{first_name}}!", attributes) == "Hi !"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, "42"),
        (0, "0"),
        (-7, "-7"),
        (1.5, "1.5"),
        (10**30, str(10**30)),
        (True, "true"),
        (False, "false"),
        ("", ""),
        ("Zoë 🎮", "Zoë 🎮"),
    ],
)
def test_numbers_booleans_and_strings_are_rendered(value: object, expected: str) -> None:
    # Given an attribute of any stored type
    # When it is rendered
    # Then numbers and booleans appear as JSON writes them, strings as they are
    assert render("[{{v}}]", {"v": value}) == f"[{expected}]"


@pytest.mark.parametrize(
    "template",
    [
        "{first_name}",
        "{{}}",
        "{{ }}",
        "{{1st}}",
        "{{first name}}",
        "{{first_name",
        "first_name}}",
        "{{first_name}",
        "{ {first_name} }",
        "{{ $first_name }}",
        "{{first_name|upper}}",
        "{0} %s %(first_name)s ${first_name} {{first_name!r}}",
    ],
)
def test_anything_but_a_placeholder_is_left_alone(template: str) -> None:
    # Given text with braces that do not form a {{name}} placeholder
    # When it is rendered
    # Then it comes out unchanged: no format-string or expression syntax is interpreted
    assert render(template, ANN) == template


def test_substituted_values_are_not_rendered_again() -> None:
    # Given values that themselves look like placeholders or regex back-references
    attributes = {"a": "{{b}}", "b": "SECRET", "c": r"\1 \g<0>"}
    # When they are rendered
    # Then they appear literally; one pass only
    assert render("{{a}} {{c}}", attributes) == r"{{b}} \1 \g<0>"


@pytest.mark.parametrize(
    "name",
    [
        "__class__",
        "__dict__",
        "first_name.__class__",
        "first_name.upper",
        "attributes",
        "self",
        "HOME",
        "PATH",
        "AWS_SECRET_ACCESS_KEY",
        "render",
        "_PLACEHOLDER",
        "company_key",
    ],
)
def test_nothing_outside_the_given_attributes_can_appear(name: str) -> None:
    # Given a template naming things that exist in Python, the process or the module, but not in the attributes
    template = f"<{{{{{name}}}}}>"
    # When it is rendered for a profile that lacks them
    # Then the placeholder is blank: no lookup goes beyond the attribute mapping
    assert render(template, ANN) == "<>"


def test_output_holds_only_template_text_and_the_profiles_own_values() -> None:
    # Given the source project's first_name and a target profile's own (different) attributes
    source_only = {"first_name": "SourceOnlyName", "email": "source@example.com"}
    target = {"country": "DE"}
    template = "Hi {{first_name}} ({{email}}) from {{country}}, {{ missing }}"
    # When the template is rendered with the target's attributes
    message = render(template, target)
    # Then nothing of the source appears, and what is left is the literal text plus the target's value
    assert message == "Hi  () from DE, "
    for value in source_only.values():
        assert value not in message
    assert re.sub(r"\{\{[^}]*\}\}", "", template) == "Hi  () from , "


def test_render_reads_only_the_named_keys() -> None:
    # Given a mapping that records every key looked up
    class Recording(dict[str, object]):
        seen: list[str]

        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            self.seen.append(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> object:
            self.seen.append(key)
            return super().__getitem__(key)

    attributes = Recording(first_name="Ann", secret="S")
    attributes.seen = []
    # When a template with two placeholders is rendered
    assert render("{{first_name}} {{ country }}", attributes) == "Ann "
    # Then exactly those two names were looked up, nothing else (no iteration over the mapping)
    assert sorted(attributes.seen) == ["country", "first_name"]
