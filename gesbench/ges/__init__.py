"""Guided ES, the first-order update rules it feeds, and the paper's analysis of it."""

from gesbench.ges.guided_es import GES_DEFAULTS, GuidedES
from gesbench.ges.updates import UPDATE_DEFAULTS, UPDATE_RULES, UpdateRule

__all__ = ["GES_DEFAULTS", "UPDATE_DEFAULTS", "UPDATE_RULES", "GuidedES", "UpdateRule"]
