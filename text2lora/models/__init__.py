from .denoiser import LoraDenoiser, LoraDenoiserOutput

__all__ = ["LoraDenoiser", "LoraDenoiserOutput"]
