"""Public names of a package that load on first use (PEP 562), as transformers and diffusers do."""

import importlib


def lazy_exports(package, exports, namespace):
    """``(__getattr__, __dir__)`` for the package named ``package``: ``exports`` maps each public name to the
    submodule (relative to the package) that defines it; a loaded name is cached in ``namespace`` (the package's
    ``globals()``)."""

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
