"""The optimiser of the energy-based rules (``pc``, ``eqprop``): momentum SGD or Adam, in place."""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("sgd", "adam")


class Optimizer:
    """SGD with heavy-ball momentum or Adam over a network's ``W``/``b`` lists, in place.

    ``step(grads, lr)`` descends along ``grads`` (``[(dW, db), ...]``, loss gradients).
    """

    def __init__(self, kind: str, momentum: float, weight_decay: float):
        self.kind, self.momentum, self.weight_decay = kind, np.float32(momentum), np.float32(weight_decay)
        self.state = None
        self.adam = None

    def step(self, net, grads, lr: float) -> None:
        lr = np.float32(lr)
        if self.weight_decay:
            grads = [(gw + self.weight_decay * w, gb) for (gw, gb), w in zip(grads, net.W)]
        if self.kind == "adam":
            if self.adam is None:
                from ._local_optim import Adam

                params = [p for pair in zip(net.W, net.b) for p in pair]
                self.adam = Adam(params, decay=[False] * len(params))
            self.adam.step([g for pair in grads for g in pair], float(lr))
            return
        if self.momentum == 0:
            for layer, (gw, gb) in enumerate(grads):
                net.W[layer] -= lr * gw
                net.b[layer] -= lr * gb
            return
        if self.state is None:
            self.state = [(np.zeros_like(w), np.zeros_like(v)) for w, v in zip(net.W, net.b)]
        for layer, (gw, gb) in enumerate(grads):
            vw, vb = self.state[layer]
            vw *= self.momentum
            vw += gw
            vb *= self.momentum
            vb += gb
            net.W[layer] -= lr * vw
            net.b[layer] -= lr * vb
