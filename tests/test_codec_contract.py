"""The codec contract at run time: every codec has every member of _codec_contract.Codec,
with the contract's parameters, and the stub of the compiled module (_hemcodec.pyi) declares
exactly the C entry points the extension has, with their argument counts. (mypy checks the
types: _codec assigns both codec modules to names typed with the contract.)"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
from _both_codecs import CODEC_NAMES, get_codec, require_c_codec

import hemproto
from hemproto import _codec, _pycodec
from hemproto._codec_contract import CODEC_MEMBERS, Codec

STUB = Path(hemproto.__file__).parent / "_hemcodec.pyi"
FUNCTIONS = [member for member in CODEC_MEMBERS if member != "name"]


def test_the_members_are_the_protocols_own() -> None:
    assert CODEC_MEMBERS[0] == "name"
    assert set(FUNCTIONS) == {
        *("b64url_encode", "b64url_decode", "b64_encode", "b64_decode", "ct_equal"),
        *("split_token", "scan_check", "hs256", "hs256_verify", "json_scan"),
        *("checked_sign", "check_answer"),
    }
    for member in FUNCTIONS:
        assert callable(getattr(Codec, member)), member


def test_every_codec_in_all_codecs_has_every_member() -> None:
    assert _codec.all_codecs, "no codec at all"
    assert _codec.python_codec is _pycodec
    for codec in _codec.all_codecs:
        assert codec.name in ("c", "python")
        for member in FUNCTIONS:
            assert callable(getattr(codec, member, None)), f"{codec.name}.{member}"


def _parameters(function: Callable[..., object]) -> list[tuple[str, object]]:
    signature = inspect.signature(function)
    return [(parameter.name, parameter.kind) for parameter in signature.parameters.values()]


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
@pytest.mark.parametrize("member", FUNCTIONS)
def test_each_function_takes_the_contracts_parameters(codec_name: str, member: str) -> None:
    # mypy compares the types but not the names; callers may pass arguments by name.
    expected = _parameters(getattr(Codec, member))[1:]  # without self
    assert _parameters(getattr(get_codec(codec_name), member)) == expected


def test_the_c_codec_keeps_its_c_functions_under_their_own_names() -> None:
    c_codec = require_c_codec()
    accelerated = c_codec.sha256_select(0) == 1
    for name in ("hs256", "hs256_verify", "checked_sign", "check_answer"):
        c_function = getattr(c_codec, f"c_{name}")
        assert _parameters(c_function) == _parameters(getattr(_pycodec, name))
        chosen = getattr(c_codec, name)
        assert chosen is (c_function if accelerated else getattr(_pycodec, name)), name


def _stub_entry_points() -> tuple[dict[str, int], set[str]]:
    """The stub's Lib: each function with its argument count (without self), and the
    constants."""
    tree = ast.parse(STUB.read_text())
    (lib_class,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Lib"]
    functions = {
        node.name: len(node.args.args) - 1
        for node in lib_class.body
        if isinstance(node, ast.FunctionDef)
    }
    constants = {
        node.target.id
        for node in lib_class.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    return functions, constants


def test_the_stub_declares_the_extensions_entry_points() -> None:
    require_c_codec()
    from hemproto._hemcodec import ffi, lib

    functions, constants = _stub_entry_points()
    built = {name: getattr(lib, name) for name in dir(lib)}
    assert {name for name, value in built.items() if callable(value)} == set(functions)
    for name, count in functions.items():
        assert len(ffi.typeof(built[name]).args) == count, name
    # Constants the stub declares exist; the CDEF may define more than Python reads.
    assert constants <= {name for name, value in built.items() if isinstance(value, int)}
