"""The run kinds (the kinds layer): each registers its definition schema, runner, summary
and figures (:mod:`.registry`); the app layer dispatches through :func:`get_kind`.

* :mod:`.rate` — ``neuro-grlu train``: a rate rule trained on a dataset;
* :mod:`.spiking` — ``neuro-grlu simulate``: a Brian2 network;
* :mod:`.stdp_window` — ``neuro-grlu stdp-window``: the pairing protocol on the model synapse;
* :mod:`.continual` — ``neuro-grlu continual``: tasks in sequence, few-shot learning.
"""

from .registry import (FigureSpec, Kind, RunRequest, describe, get_kind, kinds, load_config,  # noqa: F401
                       register)
from . import rate  # noqa: F401,E402  (registers "rate")
from . import spiking  # noqa: F401,E402  (registers "spiking")
from . import stdp_window  # noqa: F401,E402  (registers "stdp-window")
from . import continual  # noqa: F401,E402  (registers "continual")
