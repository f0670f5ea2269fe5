from .denoiser import LoraDenoiser, LoraDenoiserOutput
from .head_hypernetwork import HeadHypernetwork

__all__ = ["HeadHypernetwork", "LoraDenoiser", "LoraDenoiserOutput"]
