"""Built-in comparison optimizers, installed as ``gesbench.baselines`` and registered through
entry points exactly as a third-party plugin would be."""
