"""Suite-wide settings.

Tests use tiny models, for which one torch thread is as fast as two; it also keeps the suite's time
steady on a machine busy with other work (two OpenMP threads contending for the cores made small kernels
5-10x slower there).
"""

import torch

torch.set_num_threads(1)
