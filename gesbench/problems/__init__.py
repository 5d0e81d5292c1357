"""Built-in problems, installed as ``gesbench.problems`` and registered through entry points
exactly as a third-party plugin would be."""
