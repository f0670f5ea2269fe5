"""The denoising objective of a generator: the loss of one training step, shared by ``train_denoiser`` and the
training benchmarks."""

import torch


def denoising_loss(denoiser, noise_scheduler, clean, condition, prediction_type="sample", snr_gamma=0.0,
                   cond_dropout_prob=0.1):
    """The loss of one denoising step on a batch of clean (normalized) samples.

    Noise and timesteps are drawn from torch's global RNG (``randn_like``, then ``randint``, then ``rand`` for the
    null-condition mask), the target follows ``prediction_type``, and with ``snr_gamma`` > 0 each sample's MSE is
    weighted by Min-SNR (diffusers' ``compute_snr``).
    """
    from diffusers.training_utils import compute_snr

    noise = torch.randn_like(clean)
    bsz = clean.shape[0]
    timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (bsz,), device=clean.device)
    noisy = noise_scheduler.add_noise(clean, noise, timesteps)
    if prediction_type == "epsilon":
        target = noise
    elif prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(clean, noise, timesteps)
    else:
        target = clean
    drop = torch.rand(bsz, device=clean.device) < cond_dropout_prob
    pred = denoiser(noisy, timesteps, condition, drop_mask=drop).sample
    if not snr_gamma or snr_gamma <= 0:
        return torch.nn.functional.mse_loss(pred.float(), target.float())
    snr = compute_snr(noise_scheduler, timesteps)
    weights = torch.stack([snr, snr_gamma * torch.ones_like(snr)], dim=1).min(dim=1)[0]
    if prediction_type == "epsilon":
        weights = weights / snr
    elif prediction_type == "v_prediction":
        weights = weights / (snr + 1)
    loss = torch.nn.functional.mse_loss(pred.float(), target.float(), reduction="none")
    return (loss.mean(dim=list(range(1, loss.ndim))) * weights).mean()
