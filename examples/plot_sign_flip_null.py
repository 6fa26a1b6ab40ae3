"""
How often does the group test fire when nothing is there?
=========================================================

Every p-value the workflow reports comes from a null model. This example checks one of
them, :func:`hyperscan.stats.sign_flip_test` (the test over dyads behind ``p_signflip``,
``group/surrogates.tsv`` and ``group/directional.tsv``), the way the test suite does:
draw many null studies (per-dyad differences centred on zero, with dyads of unequal
spread, as real dyads have), and count how often p < 0.05. A calibrated test fires about
5 % of the time; its p-values are uniform.
"""

import matplotlib.pyplot as plt
import numpy as np

from hyperscan.stats import sign_flip_test

rng = np.random.default_rng(2026)
n_studies, n_dyads = 2000, 12
p = np.empty(n_studies)
for i in range(n_studies):
    spread = rng.uniform(0.5, 2.0, n_dyads)  # dyads differ in how noisy their difference is
    diffs = rng.normal(0.0, spread)
    p[i], _ = sign_flip_test(diffs, n_permutations=999, rng=rng)
rate = np.mean(p < 0.05)
se = np.sqrt(0.05 * 0.95 / n_studies)
print(f"false-positive rate at alpha = 0.05: {rate:.3f} (binomial SE {se:.3f}, {n_studies} null studies)")
assert abs(rate - 0.05) < 4 * se

# %%
# The p-values of the null studies against the uniform distribution.
fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
ax.hist(p, bins=20, range=(0, 1), color="0.6", edgecolor="white")
ax.axhline(n_studies / 20, color="k", lw=1, label="uniform")
ax.set(xlabel="p", ylabel="null studies")
ax.legend()
plt.show()
