"""The committed SDL matches the code, and every type, field and argument is described."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType
from strawberry.printer import print_schema

from schema import dev_schema, schema
from settings import ROOT


def test_schema_graphql_is_up_to_date() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == print_schema(dev_schema) + "\n", (
        "schema.graphql differs from the code; re-export it with `make schema` and commit the result"
    )


def test_every_type_field_and_argument_has_a_description() -> None:
    missing: list[str] = []
    for name, gql_type in dev_schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID", "DateTime"}:
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
    assert not missing, f"add a description to: {', '.join(missing)}"


def test_development_sign_in_exists_only_in_the_development_schema() -> None:
    assert "devLogin" in print_schema(dev_schema)
    assert "devLogin" not in print_schema(schema)
