"""Published (and recorded) comparisons, and the checks of a run against them."""
