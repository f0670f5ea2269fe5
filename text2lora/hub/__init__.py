"""Everything that touches the Hugging Face Hub: resolving model ids offline (``resolve``) and model cards and pushes
(``cards``, rendered from ``templates/``)."""

from .resolve import (
    DEFAULT_BASE_MODEL,
    OfflineModelError,
    check_hub_source,
    detect_offline,
    packaged_model_path,
    register_offline_copy,
    resolve_model,
)

__all__ = ["DEFAULT_BASE_MODEL", "OfflineModelError", "check_hub_source", "detect_offline", "packaged_model_path",
           "register_offline_copy", "resolve_model"]
