"""Plots of an evaluation (matplotlib, Agg backend): interpolation curves (question 2) and the adapter map."""

import torch


def plot_interpolation(curves, path):
    """Accuracy on A and on B against alpha for each pair (nothing is drawn without pairs, e.g. for another zoo)."""
    if not curves:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(curves)
    cols = 4
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, c in zip(axes.flat, curves):
        ax.plot(c["alphas"], c["accuracy_a"], "o-", label=f"A: {c['a']}")
        ax.plot(c["alphas"], c["accuracy_b"], "s-", label=f"B: {c['b']}")
        ax.set_title(("within family" if c["same_family"] else "across families"), fontsize=9)
        ax.set_xlabel("alpha (condition = alpha*e(A) + (1-alpha)*e(B))", fontsize=7)
        ax.set_ylabel("balanced accuracy (val)", fontsize=7)
        ax.set_ylim(0.3, 1.02)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_adapter_map(zoo, generated_log, path):
    """The zoo's adapters (dots, by family) and the generated ones (+ seen, x unseen) on the first two principal
    components of the per-element standardized weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = zoo.vectors
    mu = x.mean(0)
    std = x.std(0).clamp_min(1e-8)
    z = (x - mu) / std
    _, _, v = torch.pca_lowrank(z, q=2, center=True)
    proj = (z - z.mean(0)) @ v[:, :2]
    families = sorted({r["family"] for r in zoo.rows})
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(9, 7))
    for i, fam in enumerate(families):
        idx = [j for j, r in enumerate(zoo.rows) if r["family"] == fam]
        ax.scatter(proj[idx, 0], proj[idx, 1], s=14, color=cmap(i % 20), label=fam, alpha=0.7)
    if generated_log:
        g = torch.stack([entry[3] for entry in generated_log])
        gp = (((g - mu) / std) - z.mean(0)) @ v[:, :2]
        for k, entry in enumerate(generated_log):
            ax.scatter(gp[k, 0], gp[k, 1], s=40, marker="x" if entry[2] == "unseen" else "+",
                       color=cmap(families.index(entry[1]) % 20) if entry[1] in families else "black")
    ax.set_title("Adapter space (PCA of normalized weights): dots = zoo, + = generated seen, x = generated unseen")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
